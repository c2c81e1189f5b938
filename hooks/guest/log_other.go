//go:build !wasip1

package guest

// LogSink receives Log calls when the package runs natively (in unit
// tests of guest code); inside a module, Log goes to the host.
var LogSink func(level int32, msg string)

func hostLog(level int32, msg string) {
	if LogSink != nil {
		LogSink(level, msg)
	}
}
