package engine

import (
	"bufio"
	"time"

	"github.com/balanceproxy/balance/hcl"
)

// pacer times the pieces of a paced OpenAI chat stream (stream_pacing):
// the stream translator cuts long content deltas, and the pacer says how
// small and holds each piece until its turn. It lives in the stream's
// sink, on the stream writer's goroutine: it starts no goroutine of its
// own, and every wait ends when the client is gone (the flush before it
// fails) or when shutdown cuts the streams.
//
// The rate is chunk_chars characters per interval across the whole
// stream, not only inside one delta: a piece of chunk_chars or more earns
// the next piece a wait of one interval, a shorter piece its share of
// one, counted from when it went out. So a burst of small upstream events
// is spread like one long delta, and a piece that comes after upstream
// was slow anyway goes out at once.
//
// lag bounds how far pacing holds the stream behind an unpaced relay of
// the same upstream. Each wait adds to it; time the sink spends waiting
// for the next upstream event takes it back off, since an unpaced relay
// would have waited too. Pieces are made larger so that lag stays within
// max_delay, no wait goes past it, and once it is spent pieces go out
// whole and at once: the stream's end is never more than max_delay later
// than it would have been.
type pacer struct {
	cfg  hcl.StreamPacing
	w    *bufio.Writer
	stop <-chan struct{}
	// timer is reused across pauses.
	timer *time.Timer
	lag   time.Duration
	// idleSince is when the sink last returned to wait for upstream.
	idleSince time.Time
	// next is when the next piece may go out.
	next time.Time
	// now and sleep are the clock; tests give a fake one.
	now   func() time.Time
	sleep func(time.Duration) error
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
	p := &pacer{cfg: cfg, stop: stop, now: time.Now}
	p.sleep = p.timerSleep
	return p
}

// eventStart is called as an upstream event reaches the sink, with the
// writer the pieces go to.
func (p *pacer) eventStart(w *bufio.Writer) {
	p.w = w
	if !p.idleSince.IsZero() {
		p.lag = max(0, p.lag-p.now().Sub(p.idleSince))
	}
}

// eventEnd is called as the sink returns to wait for upstream.
func (p *pacer) eventEnd() { p.idleSince = p.now() }

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

// Pause holds a piece of n characters until its turn, within what is
// left of max_delay, sending the pieces written before it first; it
// then sets the next piece's turn by what this one earned.
func (p *pacer) Pause(n int) error {
	now := p.now()
	if wait := min(p.next.Sub(now), p.cfg.MaxDelay-p.lag); wait > 0 {
		if p.w.Flush() != nil {
			return errClientGone
		}
		if err := p.sleep(wait); err != nil {
			return err
		}
		after := p.now()
		p.lag += after.Sub(now)
		now = after
	}
	earned := p.cfg.Interval
	if n < p.cfg.ChunkChars {
		earned = earned * time.Duration(n) / time.Duration(p.cfg.ChunkChars)
	}
	p.next = now.Add(earned)
	return nil
}

// timerSleep waits d; when shutdown cuts the streams it ends the stream
// instead.
func (p *pacer) timerSleep(d time.Duration) error {
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-p.timer.C:
		return nil
	case <-p.stop:
		// Shutdown cut the streams: this one ends here, with the
		// shutdown error event, not with the rest of a paced answer.
		p.timer.Stop()
		cut := shutdownFailure
		return &streamEnd{failure: &cut}
	}
}

// close releases the timer at the end of the stream.
func (p *pacer) close() {
	if p.timer != nil {
		p.timer.Stop()
	}
}
