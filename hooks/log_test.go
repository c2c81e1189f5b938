package hooks

import (
	"context"
	"log/slog"
	"sync/atomic"
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
