package engine

import (
	"errors"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/upstream"
)

// openStreams tracks the streams being relayed, so that shutdown can end
// those still running when shutdown_grace is over with an error event in
// their protocol (and record them) instead of cutting them silently.
type openStreams struct {
	mu   sync.Mutex
	byEx map[*exchange]*openStream
	wg   sync.WaitGroup
	// cutCh is closed by cutAll (see cutting).
	cutOnce sync.Once
	cutCh   chan struct{}
}

// cutting is closed when shutdown cuts the streams: a stream's sink waits
// on it so that no pause outlasts shutdown_grace.
func (o *openStreams) cutting() <-chan struct{} {
	o.cutOnce.Do(func() { o.cutCh = make(chan struct{}) })
	return o.cutCh
}

// openStream is one stream's entry: the upstream answer it reads, or the
// upstream call a keep-alive stream waits on (both nil once its writer is
// done with them), and whether shutdown cut it.
type openStream struct {
	up   *fasthttp.Response
	call *upstream.Call
	cut  bool
}

// add registers a committed stream and the upstream answer it reads.
func (o *openStreams) add(ex *exchange, up *fasthttp.Response) {
	o.addEntry(ex, &openStream{up: up})
}

// addWaiting registers a committed keep-alive stream whose unary upstream
// call is still running.
func (o *openStreams) addWaiting(ex *exchange, call *upstream.Call) {
	o.addEntry(ex, &openStream{call: call})
}

func (o *openStreams) addEntry(ex *exchange, st *openStream) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.byEx == nil {
		o.byEx = map[*exchange]*openStream{}
	}
	o.byEx[ex] = st
	o.wg.Add(1)
}

// stopReading tells that the stream's writer is done with its upstream
// answer, which it is about to release: shutdown must not touch it.
func (o *openStreams) stopReading(ex *exchange) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if st, ok := o.byEx[ex]; ok {
		st.up, st.call = nil, nil
	}
}

// wasCut reports whether shutdown cut the stream.
func (o *openStreams) wasCut(ex *exchange) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	st, ok := o.byEx[ex]
	return ok && st.cut
}

// done unregisters a stream once its writer has ended and recorded it.
func (o *openStreams) done(ex *exchange) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.byEx[ex]; ok {
		delete(o.byEx, ex)
		o.wg.Done()
	}
}

// cutAll ends every open stream: its upstream read fails at once, and its
// writer, seeing it was cut, ends the stream with a shutdown error event.
func (o *openStreams) cutAll() int {
	cut := o.cutting()
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-cut:
	default:
		close(o.cutCh)
	}
	n := 0
	for _, st := range o.byEx {
		switch {
		case st.up != nil:
			closeStream(st.up, errShuttingDown)
		case st.call != nil:
			st.call.Abandon()
		default:
			continue
		}
		st.cut = true
		n++
	}
	return n
}

// wait waits for the open streams' writers to finish, at most d.
func (o *openStreams) wait(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		o.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

var errShuttingDown = errors.New("balance is shutting down")

// shutdownFailure is how a stream cut by shutdown ends.
var shutdownFailure = Failure{Status: fasthttp.StatusServiceUnavailable, Reason: "shutdown",
	Message: "balance is shutting down (shutdown_grace is over); the answer above is incomplete. Retry the request."}
