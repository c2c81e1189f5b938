package hooks

import (
	"context"
	"sync/atomic"
	"time"
)

// callCtx is an instance's reusable call context. wazero stops a guest
// when the context passed to the call is done, so every call needs a
// context with the hook's timeout; building one with context.WithTimeout
// costs three allocations and a timer per call, a fair share of the ~2 µs
// a no-change call takes. callCtx instead keeps one timer and one channel
// per instance and re-arms them.
//
// The channel can only be closed once: when the timer fires the context
// is spent, and so is the instance (a timed-out guest is discarded
// anyway), so nothing ever needs to re-open it.
type callCtx struct {
	parent   context.Context
	deadline time.Time
	done     chan struct{}
	fired    atomic.Bool
	timer    *time.Timer
}

func newCallCtx() *callCtx {
	c := &callCtx{done: make(chan struct{})}
	c.timer = time.AfterFunc(time.Hour, func() {
		c.fired.Store(true)
		close(c.done)
	})
	c.timer.Stop()
	return c
}

// arm starts a call bounded by timeout and by parent's deadline, if
// earlier. Cancellation of parent without a deadline is checked by the
// caller before the call; hook calls are short, and watching parent.Done
// would cost a goroutine or a registration per call.
func (c *callCtx) arm(parent context.Context, timeout time.Duration) {
	c.parent = parent
	c.deadline = time.Now().Add(timeout)
	if d, ok := parent.Deadline(); ok && d.Before(c.deadline) {
		timeout -= c.deadline.Sub(d)
		c.deadline = d
	}
	c.timer.Reset(timeout)
}

// disarm ends a call. It returns false when the timer fired (or is
// firing): the context is spent and the instance must not be reused.
func (c *callCtx) disarm() bool {
	c.parent = nil
	return c.timer.Stop() && !c.fired.Load()
}

func (c *callCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *callCtx) Done() <-chan struct{}       { return c.done }

func (c *callCtx) Err() error {
	if c.fired.Load() {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *callCtx) Value(key any) any {
	if p := c.parent; p != nil {
		return p.Value(key)
	}
	return nil
}
