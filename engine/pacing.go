package engine

import (
	"bufio"
	"time"

	"github.com/balanceproxy/balance/hcl"
)

// pacer times the pieces of a paced OpenAI chat stream (stream_pacing):
// the stream translator cuts long content deltas, and the pacer says how
// small and waits between the pieces. It lives in the stream's sink, on
// the stream writer's goroutine: it starts no goroutine of its own, and
// every wait ends when the client is gone (the flush before it fails) or
// when shutdown cuts the streams.
//
// lag bounds how far pacing holds the stream behind an unpaced relay of
// the same upstream. Each pause adds to it; time the sink spends waiting
// for the next upstream event takes it back off, since an unpaced relay
// would have waited too. Pieces are made larger so that lag stays within
// max_delay, and past it a delta goes out whole: the stream's end is never
// more than max_delay later than it would have been.
type pacer struct {
	cfg  hcl.StreamPacing
	w    *bufio.Writer
	stop <-chan struct{}
	// timer is reused across pauses.
	timer *time.Timer
	lag   time.Duration
	// idleSince is when the sink last returned to wait for upstream.
	idleSince time.Time
}

// pacingFor is the stream pacing of a request: the token's, else the
// model rule's; nil when neither turns it on.
func pacingFor(ex *exchange) *hcl.StreamPacing {
	p := ex.token.cfg.StreamPacing
	if p == nil {
		p = ex.model.Pacing
	}
	if p == nil || !p.Enabled {
		return nil
	}
	return p
}

func newPacer(cfg hcl.StreamPacing, stop <-chan struct{}) *pacer {
	return &pacer{cfg: cfg, stop: stop}
}

// eventStart is called as an upstream event reaches the sink, with the
// writer the pieces go to.
func (p *pacer) eventStart(w *bufio.Writer) {
	p.w = w
	if !p.idleSince.IsZero() {
		p.lag = max(0, p.lag-time.Since(p.idleSince))
	}
}

// eventEnd is called as the sink returns to wait for upstream.
func (p *pacer) eventEnd() { p.idleSince = time.Now() }

// PieceSize is chunk_chars while the pauses that needs fit in what is
// left of max_delay; else pieces grow so they do; with no pause left, the
// rest goes whole.
func (p *pacer) PieceSize(n int) int {
	select {
	case <-p.stop:
		return n
	default:
	}
	pauses := int((p.cfg.MaxDelay - p.lag) / p.cfg.Interval)
	if pauses <= 0 {
		return n
	}
	chunk := p.cfg.ChunkChars
	if (n+chunk-1)/chunk-1 <= pauses {
		return chunk
	}
	return (n + pauses) / (pauses + 1)
}

// Pause sends the pieces written so far and waits one interval; when
// shutdown cuts the streams it ends the stream instead.
func (p *pacer) Pause() error {
	if p.w.Flush() != nil {
		return errClientGone
	}
	start := time.Now()
	if p.timer == nil {
		p.timer = time.NewTimer(p.cfg.Interval)
	} else {
		p.timer.Reset(p.cfg.Interval)
	}
	select {
	case <-p.timer.C:
	case <-p.stop:
		// Shutdown cut the streams: this one ends here, with the
		// shutdown error event, not with the rest of a paced answer.
		p.timer.Stop()
		cut := shutdownFailure
		return &streamEnd{failure: &cut}
	}
	p.lag += time.Since(start)
	return nil
}

// close releases the timer at the end of the stream.
func (p *pacer) close() {
	if p.timer != nil {
		p.timer.Stop()
	}
}
