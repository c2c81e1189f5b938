package hooks

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// countingHandler counts "hook log" records: the guest log import's output.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "hook log" {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

func newCountingLogger(n *atomic.Int64) *slog.Logger { return slog.New(countingHandler{n}) }

// recordingHandler keeps every record as its message and attributes.
type recordingHandler struct {
	mu   *sync.Mutex
	recs *[]map[string]string
}

func newRecordingLogger() (*slog.Logger, func(msg string) []map[string]string) {
	h := recordingHandler{mu: &sync.Mutex{}, recs: &[]map[string]string{}}
	return slog.New(h), func(msg string) []map[string]string {
		h.mu.Lock()
		defer h.mu.Unlock()
		var out []map[string]string
		for _, r := range *h.recs {
			if r["msg"] == msg {
				out = append(out, r)
			}
		}
		return out
	}
}

func (h recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordingHandler) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	*h.recs = append(*h.recs, m)
	h.mu.Unlock()
	return nil
}
func (h recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordingHandler) WithGroup(string) slog.Handler      { return h }

// TestFailureLogIsThrottledWithGuestOutput: a guest that panics on every
// call gets one log line per interval, carrying what the guest printed
// (Go's panic message), and the next line counts the ones suppressed.
func TestFailureLogIsThrottledWithGuestOutput(t *testing.T) {
	rt := newTestRuntime(t)
	logger, records := newRecordingLogger()
	rt.logger = logger
	h := load(t, rt, Spec{MaxInstances: 1})
	const calls = 5
	for range calls {
		_, err := h.Call(context.Background(), PhaseRequest, withMode("panic"))
		ce := callErr(t, err, KindTrap)
		if !strings.Contains(ce.Output, "assignment to entry in nil map") {
			t.Errorf("CallError.Output = %q, want the guest's panic message", ce.Output)
		}
		if strings.Contains(ce.Error(), ce.Output) {
			t.Errorf("CallError.Error() quotes the guest output: %q", ce.Error())
		}
	}
	lines := records("hook call failed")
	if len(lines) != 1 {
		t.Fatalf("%d calls failed within one interval: logged %d lines, want 1: %v", calls, len(lines), lines)
	}
	if out := lines[0]["guest_output"]; !strings.Contains(out, "panic: assignment to entry in nil map") {
		t.Errorf("failure line has guest_output %q, want the panic message", out)
	}
	if lines[0]["kind"] != "trap" || lines[0]["hook"] != "test" {
		t.Errorf("failure line = %v", lines[0])
	}
	h.failLog.next.Store(0) // the interval has passed
	if _, err := h.Call(context.Background(), PhaseRequest, withMode("error")); err == nil {
		t.Fatal("error mode succeeded")
	}
	lines = records("hook call failed")
	if len(lines) != 2 || lines[1]["suppressed"] != "4" || lines[1]["kind"] != "guest_error" {
		t.Errorf("line after the interval = %v, want kind guest_error with suppressed=4", lines[len(lines)-1])
	}
}

// TestGuestOutputIsThrottled: output of calls that succeed (a guest left
// printing debug lines) is logged once per interval, not per request.
func TestGuestOutputIsThrottled(t *testing.T) {
	rt := newTestRuntime(t)
	logger, records := newRecordingLogger()
	rt.logger = logger
	h := load(t, rt, Spec{MaxInstances: 1})
	for range 10 {
		if _, err := h.Call(context.Background(), PhaseRequest, withMode("print")); err != nil {
			t.Fatal(err)
		}
	}
	lines := records("hook guest output")
	if len(lines) != 1 || lines[0]["output"] != "debug: handled request" {
		t.Fatalf("10 printing calls logged %v, want one line with the output", lines)
	}
	h.outLog.next.Store(0)
	if _, err := h.Call(context.Background(), PhaseRequest, withMode("print")); err != nil {
		t.Fatal(err)
	}
	if lines = records("hook guest output"); len(lines) != 2 || lines[1]["suppressed"] != "9" {
		t.Errorf("line after the interval = %v, want suppressed=9", lines)
	}
	if n := len(records("hook call failed")); n != 0 {
		t.Errorf("%d failure lines for calls that succeeded", n)
	}
}
