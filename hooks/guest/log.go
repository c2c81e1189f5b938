package guest

// Log levels for Log; they map to slog levels on the host.
const (
	LevelDebug int32 = -4
	LevelInfo  int32 = 0
	LevelWarn  int32 = 4
	LevelError int32 = 8
)

// Log writes one message to the proxy's log, attributed to this hook. The
// host caps messages per call and their length, so logging cannot flood.
func Log(level int32, msg string) {
	if len(msg) == 0 {
		return
	}
	hostLog(level, msg)
}
