package engine

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/internal/verdict"
)

// clientWatchTick is how often the sockets of clients whose requests wait
// on upstream are checked for a hang-up. A request is first checked by
// the tick after the one that saw it start, so an upstream call outlives
// its client by at most two ticks, less the time to close it.
const clientWatchTick = 10 * time.Millisecond

// clientWatch notices clients that go away while their request waits on
// upstream, and abandons the upstream call at once (upstream.Call): a
// unary call would otherwise run to upstream.timeout and a stream to its
// next event, on a paid key, for nobody. fasthttp tells a handler nothing
// of a client's hang-up, so one goroutine (run) polls the sockets of all
// watched requests together, one system call per tick. A hang-up is the
// peer's FIN or a reset; bytes waiting on the socket (a pipelined next
// request) are not one.
type clientWatch struct {
	mu      sync.Mutex
	watched []*exchange
	conns   []net.Conn
	fds     []pollFD // youngFD, then unknownFD, until the poller looked the descriptor up
	// wake starts the poller's ticks when the first request is watched;
	// it sleeps without ticking while none is.
	wake chan struct{}
}

func newClientWatch() *clientWatch { return &clientWatch{wake: make(chan struct{}, 1)} }

// add watches conn, the client connection of ex, until remove. It costs
// the request two short critical sections and no allocation: the poller
// looks up the socket's descriptor itself, and skips a connection that is
// not a socket (an in-memory listener). Most requests are gone before
// the poller's second tick, and it never looks at them at all.
func (w *clientWatch) add(ex *exchange, conn net.Conn) {
	if conn == nil {
		return
	}
	ex.watched = true
	w.mu.Lock()
	ex.watchSlot = len(w.watched)
	w.watched = append(w.watched, ex)
	w.conns = append(w.conns, conn)
	w.fds = append(w.fds, newPollFD(youngFD))
	first := len(w.watched) == 1
	w.mu.Unlock()
	if first {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// remove stops watching ex. It must run before the client connection can
// be closed (before the handler or its stream writer returns), so the
// poller never looks at a file descriptor that was reused.
func (w *clientWatch) remove(ex *exchange) {
	if !ex.watched {
		return
	}
	ex.watched = false
	w.mu.Lock()
	w.removeLocked(ex)
	w.mu.Unlock()
}

func (w *clientWatch) removeLocked(ex *exchange) {
	i := ex.watchSlot
	if i < 0 {
		return
	}
	last := len(w.watched) - 1
	if i != last {
		w.watched[i], w.conns[i], w.fds[i] = w.watched[last], w.conns[last], w.fds[last]
		w.watched[i].watchSlot = i
	}
	w.watched[last], w.conns[last] = nil, nil
	w.watched, w.conns, w.fds = w.watched[:last], w.conns[:last], w.fds[:last]
	ex.watchSlot = -1
}

// run polls the watched sockets every tick until ctx ends.
func (w *clientWatch) run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		w.mu.Lock()
		idle := len(w.watched) == 0
		w.mu.Unlock()
		if idle {
			select {
			case <-w.wake:
			case <-ctx.Done():
				return
			}
			t.Reset(tick)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		w.poll()
	}
}

// poll abandons the upstream call of every watched request whose client
// hung up, and stops watching it. The lock is held across the (non-
// blocking) poll so that no descriptor is closed under it.
func (w *clientWatch) poll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.fds) == 0 {
		return
	}
	sockets := 0
	for i := range w.fds {
		switch descriptor(&w.fds[i]) {
		case youngFD:
			w.fds[i] = newPollFD(unknownFD) // checked from the next tick on
		case unknownFD:
			fd, ok := socketFD(w.conns[i])
			if !ok {
				w.fds[i] = newPollFD(notSocket)
				continue
			}
			w.fds[i] = newPollFD(fd)
			sockets++
		case notSocket:
		default:
			sockets++
		}
	}
	if sockets == 0 {
		return
	}
	hungUp(w.fds) // poll skips the negative descriptors
	for i := len(w.fds) - 1; i >= 0; i-- {
		if gone(&w.fds[i]) {
			ex := w.watched[i]
			ex.upstream.Abandon()
			w.removeLocked(ex)
		}
	}
}

// The states of a watched request's descriptor before the poller looked
// it up, and of a connection that is not a socket; poll(2) skips negative
// descriptors. A request starts young: the first tick after its start
// only ages it, which spares the lookup (a few system-call wrappers, under
// the lock the request goroutines share) for the many that end before the
// next tick.
const (
	youngFD   = -1
	notSocket = -2
	unknownFD = -3
)

// abandonedFailure ends a request whose client went away during its
// upstream call: recorded as nginx's 499, the request's own doing, so the
// key is not blamed. Nobody reads the answer it renders.
var abandonedFailure = Failure{Status: statusClientClosed, Class: verdict.ClientError, Reason: "client_closed",
	Message: "The client closed the connection; the upstream call was abandoned."}

// watchClient watches the client of a request about to call upstream.
func (s *Server) watchClient(ctx *fasthttp.RequestCtx, ex *exchange) { s.watch.add(ex, ctx.Conn()) }
