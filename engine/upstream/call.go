package upstream

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// ErrAbandoned ends an upstream request whose Call was abandoned: the
// client it was for went away, or shutdown cut it.
var ErrAbandoned = errors.New("upstream request abandoned")

// Call is one client request's hold on the upstream connection its
// current attempt runs on, so that another goroutine can abandon the
// attempt by closing that connection. fasthttp's client has no
// cancellation: without this a unary call waits out its timeout and a
// stream its next byte. The zero value is ready.
type Call struct {
	mu        sync.Mutex
	conn      net.Conn
	deadline  time.Time
	abandoned bool
}

// callKey is the user value under which a request being sent carries its
// Call to the transport, which sees only the request: a field of the
// request itself, so binding costs no lock and no map shared by every
// request in flight.
type callKey struct{}

func bind(req *fasthttp.Request, c *Call) { req.SetUserValue(callKey{}, c) }

func unbind(req *fasthttp.Request) { req.RemoveUserValue(callKey{}) }

// boundCall is the Call req is sent through, or nil.
func boundCall(req *fasthttp.Request) *Call {
	c, _ := req.UserValue(callKey{}).(*Call)
	return c
}

// Do sends req on hc like hc.DoDeadline (hc.Do for a zero deadline), with
// the connection it runs on held by c until the answer is read (for a
// streamed answer, until its body stream is closed). It returns
// ErrAbandoned if c was abandoned before or during the call.
func (c *Call) Do(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) error {
	if c.Abandoned() {
		return ErrAbandoned
	}
	c.mu.Lock()
	c.deadline = deadline
	c.mu.Unlock()
	bind(req, c)
	// Not hc.DoDeadline: the transport applies the deadline itself (to
	// the wait for a connection and to the connection's reads and
	// writes), and fasthttp's own bookkeeping of it would read the clock
	// three more times per call.
	err := hc.Do(req, resp)
	unbind(req)
	if err != nil && c.Abandoned() {
		return ErrAbandoned
	}
	return err
}

// Abandon closes the connection the call holds, if any, and fails every
// later attempt of it at once. It is safe from any goroutine.
func (c *Call) Abandon() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.abandoned = true
	if c.conn != nil {
		_ = c.conn.Close()
	}
}

// Abandoned reports whether Abandon was called since the last Reset.
func (c *Call) Abandoned() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.abandoned
}

// hold makes conn the call's connection; false if the call is abandoned.
func (c *Call) hold(conn net.Conn) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.abandoned {
		return time.Time{}, false
	}
	c.conn = conn
	return c.deadline, true
}

// drop lets go of conn before it returns to the pool, so that a later
// Abandon cannot close it under another request. It reports whether the
// call was abandoned while it held conn: conn is closed then.
func (c *Call) drop(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == conn {
		c.conn = nil
	}
	return c.abandoned
}
