//go:build !wasip1

package guest

import "testing"

func TestLogSink(t *testing.T) {
	var got string
	LogSink = func(_ int32, msg string) { got = msg }
	defer func() { LogSink = nil }()
	Log(LevelInfo, "hello")
	if got != "hello" {
		t.Errorf("log = %q", got)
	}
}
