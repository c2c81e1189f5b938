package upstream

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// transport is every HostClient's RoundTripper. A request sent through a
// Call runs here: fasthttp's own round trip, written with fasthttp's
// exported connection API, except that the connection is held by the
// Call from the moment it is taken from the pool until the answer is read
// or its stream closed. Any other request (probes, model lists) takes
// fasthttp's default transport unchanged. HostClient.MaxConnDuration is
// not applied here (balance does not set it).
type transport struct{}

func (transport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	call := boundCall(req)
	if call == nil {
		return fasthttp.DefaultTransport.RoundTrip(hc, req, resp)
	}
	// One clock read serves the wait for a connection and the write
	// deadline.
	now := time.Now()
	var timeout time.Duration
	if d := call.deadlineHint(); !d.IsZero() {
		if timeout = d.Sub(now); timeout <= 0 {
			return false, fasthttp.ErrTimeout
		}
	}
	cc, err := hc.AcquireConn(timeout, req.ConnectionClose())
	if err != nil {
		return false, err
	}
	conn := cc.Conn()
	deadline, ok := call.hold(conn)
	if !ok {
		hc.CloseConn(cc)
		return false, ErrAbandoned
	}
	// fail closes the connection of an attempt that went wrong.
	fail := func(retry bool, err error) (bool, error) {
		if call.drop(conn) {
			err, retry = ErrAbandoned, false
		}
		hc.CloseConn(cc)
		var te interface{ Timeout() bool }
		if errors.As(err, &te) && te.Timeout() {
			err = fasthttp.ErrTimeout
		}
		return retry, err
	}
	resp.ParseNetConn(conn)

	writeDeadline := deadline
	if hc.WriteTimeout > 0 {
		if wd := now.Add(hc.WriteTimeout); writeDeadline.IsZero() || wd.Before(writeDeadline) {
			writeDeadline = wd
		}
	}
	if err := conn.SetWriteDeadline(writeDeadline); err != nil {
		return fail(true, err)
	}
	bw := hc.AcquireWriter(conn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	if err != nil {
		return fail(true, err)
	}
	if err := conn.SetReadDeadline(deadline); err != nil {
		return fail(true, err)
	}
	if hc.DisableHeaderNamesNormalizing {
		resp.Header.DisableNormalizing()
	}
	if req.Header.IsHead() {
		resp.SkipBody = true
	}
	br := hc.AcquireReader(conn)
	if !resp.StreamBody {
		err := resp.ReadLimitBody(br, hc.MaxResponseBodySize)
		hc.ReleaseReader(br)
		if err != nil {
			return fail(!errors.Is(err, fasthttp.ErrBodyTooLarge), err)
		}
		if call.drop(conn) || req.ConnectionClose() || resp.ConnectionClose() {
			hc.CloseConn(cc)
		} else {
			hc.ReleaseConn(cc)
		}
		return false, nil
	}
	if err := resp.Header.Read(br); err != nil {
		hc.ReleaseReader(br)
		return fail(true, err)
	}
	sb := &streamBody{conn: conn, br: br, call: call, reuse: !req.ConnectionClose() && !resp.ConnectionClose(),
		release: func(discard bool) {
			hc.ReleaseReader(br)
			if discard {
				hc.CloseConn(cc)
			} else {
				hc.ReleaseConn(cc)
			}
		}}
	size := resp.Header.ContentLength()
	switch {
	case size >= 0:
		sb.r = io.LimitReader(br, int64(size))
	case size == -1:
		sb.r, sb.chunked = httputil.NewChunkedReader(br), true
	default: // identity: the body ends when the connection does
		sb.r, sb.reuse = br, false
	}
	if code := resp.StatusCode(); code == fasthttp.StatusNoContent || code == fasthttp.StatusNotModified || req.Header.IsHead() {
		sb.r, size = eofReader{}, 0
	}
	resp.SetBodyStream(sb, size)
	return false, nil
}

// deadlineHint is the call's deadline, for the wait for a free connection.
func (c *Call) deadlineHint() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline
}

// streamBody is a streamed answer read off its connection. Closing it
// returns the connection to the pool if the body was read to its end, and
// closes it otherwise; the Call holds the connection until then.
type streamBody struct {
	r    io.Reader
	conn net.Conn
	br   *bufio.Reader
	call *Call
	// release hands the connection back to its HostClient (closed when
	// discard is set).
	release func(discard bool)
	chunked bool
	reuse   bool

	mu        sync.Mutex // held by a Read; the release waits for it
	fullyRead bool
	closed    atomic.Bool
	once      sync.Once
}

func (s *streamBody) Read(p []byte) (int, error) {
	if s.closed.Load() {
		return 0, io.ErrClosedPipe
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return 0, io.ErrClosedPipe
	}
	n, err := s.r.Read(p)
	if errors.Is(err, io.EOF) && !s.fullyRead {
		if s.chunked {
			// The chunked reader stops at the last chunk; the trailer
			// section up to its blank line is still on the connection.
			if terr := skipTrailer(s.br); terr != nil {
				s.reuse = false
			}
		}
		s.fullyRead = true
	}
	return n, err
}

// CloseWithError releases the stream. A Read blocked on the network is
// interrupted by closing the connection; a non-nil err, like a body not
// read to its end, never lets the connection back into the pool.
func (s *streamBody) CloseWithError(err error) error {
	s.once.Do(func() {
		s.closed.Store(true)
		locked := s.mu.TryLock()
		discard := err != nil || !locked || !s.fullyRead || !s.reuse
		if discard {
			_ = s.conn.Close()
		}
		if !locked {
			s.mu.Lock()
		}
		defer s.mu.Unlock()
		if s.call.drop(s.conn) {
			discard = true
		}
		s.release(discard)
	})
	return nil
}

// skipTrailer reads the trailer section that follows a chunked body's
// last chunk, up to and including its blank line.
func skipTrailer(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
			return nil
		}
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
