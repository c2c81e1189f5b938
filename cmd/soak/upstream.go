package main

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// markerFor is the text a request's prompt starts with. Requests the
// client plans to cancel are marked "c": only their upstream calls are
// watched for when they end.
func markerFor(id int64, watched bool) string {
	kind := "n"
	if watched {
		kind = "c"
	}
	return "soakid:" + kind + strconv.FormatInt(id, 10) + ":"
}

// parseMarker finds a marker in an upstream request body.
func parseMarker(body []byte) (id int64, watched, ok bool) {
	i := bytes.Index(body, []byte("soakid:"))
	if i < 0 || i+8 >= len(body) {
		return 0, false, false
	}
	rest := body[i+len("soakid:"):]
	watched = rest[0] == 'c'
	end := bytes.IndexByte(rest, ':')
	if end < 2 {
		return 0, false, false
	}
	n, err := strconv.ParseInt(string(rest[1:end]), 10, 64)
	return n, watched, err == nil
}

// upstreamCall is one upstream attempt made for a watched request: when
// it arrived at the mock and when it ended, by the mock finishing its
// answer or by balance closing the connection.
type upstreamCall struct {
	Start, End time.Time
	How        string // "answered", "closed by balance", "unresolved"
}

// upstream is the mock Gemini on a fasthttp server of the soak's own, so
// that every connection can be watched: an attempt for a watched request
// ends when the mock has written its answer or when balance closed the
// connection, whichever comes first.
type upstream struct {
	mock *mockgemini.Server
	srv  *fasthttp.Server
	ln   net.Listener
	url  string
	done chan struct{}

	mu    sync.Mutex
	calls map[int64][]*upstreamCall
	open  sync.WaitGroup // watchers
}

func startUpstream(opts mockgemini.Options) (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{mock: mockgemini.New(opts), calls: map[int64][]*upstreamCall{}, done: make(chan struct{})}
	u.ln = watchListener{ln}
	u.url = "http://" + ln.Addr().String()
	u.srv = &fasthttp.Server{Handler: u.handle, MaxRequestBodySize: mockgemini.MaxBodySize,
		IdleTimeout: 30 * time.Second, NoDefaultContentType: true, CloseOnShutdown: true}
	go func() {
		defer close(u.done)
		_ = u.srv.Serve(u.ln)
	}()
	return u, nil
}

// Close releases hanging calls, stops the server and the watchers.
func (u *upstream) Close() {
	_ = u.mock.Close() // releases hijacked handlers
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = u.srv.ShutdownWithContext(ctx)
	<-u.done
	u.open.Wait()
}

func (u *upstream) handle(ctx *fasthttp.RequestCtx) {
	id, watched, ok := parseMarker(ctx.PostBody())
	wc, isWatched := ctx.Conn().(*watchConn)
	if !ok || !watched || !isWatched {
		u.mock.Handler(ctx)
		return
	}
	call := &upstreamCall{Start: time.Now()}
	u.mu.Lock()
	u.calls[id] = append(u.calls[id], call)
	u.mu.Unlock()
	w := &callWatch{mu: &u.mu, call: call, ended: make(chan struct{})}
	u.open.Add(1)
	go func() {
		defer u.open.Done()
		w.poll(wc)
	}()
	u.mock.Handler(ctx)
	switch {
	case ctx.Hijacked():
		// Hang and stream-cut faults: the connection is the call; it
		// ends when the mock or balance closes it.
		wc.watch.Store(w)
	case ctx.Response.IsBodyStream():
		// A streamed answer is written after the handler returns; its
		// chunked terminator (or the connection's end) ends the call.
		wc.watch.Store(w)
	default:
		w.end("answered")
	}
}

// Calls returns the upstream attempts made for watched request id.
func (u *upstream) Calls(id int64) []upstreamCall {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []upstreamCall
	for _, c := range u.calls[id] {
		out = append(out, *c)
	}
	return out
}

// callWatch ends one upstreamCall once.
type callWatch struct {
	mu    *sync.Mutex // the upstream's, guarding call
	call  *upstreamCall
	once  sync.Once
	ended chan struct{}
}

func (w *callWatch) end(how string) {
	w.once.Do(func() {
		w.mu.Lock()
		w.call.End, w.call.How = time.Now(), how
		w.mu.Unlock()
		close(w.ended)
	})
}

// maxWatch bounds how long one call is watched: longer than any upstream
// timeout the soak configures.
const maxWatch = time.Minute

// poll checks every few milliseconds whether balance has closed the
// connection, by peeking at the socket without consuming anything.
func (w *callWatch) poll(c *watchConn) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(maxWatch)
	for {
		select {
		case <-w.ended:
			return
		case <-limit:
			w.end("unresolved")
			return
		case <-tick.C:
			if c.peerClosed() {
				w.end("closed by balance")
				return
			}
		}
	}
}

// watchListener hands out watchConns.
type watchListener struct{ net.Listener }

func (l watchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	return &watchConn{TCPConn: tc}, nil
}

// watchConn sees the end of the streamed answer its watched call writes.
type watchConn struct {
	*net.TCPConn
	watch atomic.Pointer[callWatch]
}

// afterChunk is the end of a chunked body. fasthttp flushes every data
// chunk, so the last chunk comes as a write of its own (or, unflushed,
// after a data chunk's CRLF).
var afterChunk = []byte("\r\n0\r\n\r\n")

func endsChunkedBody(p []byte) bool {
	return bytes.Equal(p, afterChunk[2:]) || bytes.HasSuffix(p, afterChunk)
}

func (c *watchConn) Write(p []byte) (int, error) {
	n, err := c.TCPConn.Write(p)
	if w := c.watch.Load(); w != nil && (err != nil || endsChunkedBody(p[:n])) {
		c.watch.CompareAndSwap(w, nil)
		w.end("answered")
	}
	return n, err
}

func (c *watchConn) Close() error {
	if w := c.watch.Swap(nil); w != nil {
		w.end("answered")
	}
	return c.TCPConn.Close()
}

// peerClosed reports whether the other end has closed (or reset) the
// connection: a non-blocking MSG_PEEK reads 0 bytes at EOF and fails with
// something other than EAGAIN on a reset or a closed socket.
func (c *watchConn) peerClosed() bool {
	rc, err := c.TCPConn.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	var buf [1]byte
	cerr := rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == nil:
			closed = n == 0
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		default:
			closed = true
		}
	})
	return closed || cerr != nil
}

// faultPlan is every fault kind the mock knows, each with the settings the
// soak uses for it; the scheduler walks it round robin so each kind fires
// in every run.
var faultPlan = []mockgemini.Fault{
	{Kind: mockgemini.RateLimit, RetryDelay: 3 * time.Second},
	{Kind: mockgemini.InvalidKey},
	{Kind: mockgemini.PermissionDenied},
	{Kind: mockgemini.Unavailable},
	{Kind: mockgemini.Internal},
	{Kind: mockgemini.Slow, Delay: 1500 * time.Millisecond},
	{Kind: mockgemini.Hang},
	{Kind: mockgemini.StreamCut, AfterChunks: 2},
	{Kind: mockgemini.StreamError, AfterChunks: 2},
	{Kind: mockgemini.BadRequest, Times: 20},
	{Kind: mockgemini.StreamStop, AfterChunks: 2},
	{Kind: mockgemini.HugeAnswer, Bytes: 2 << 20},
	{Kind: mockgemini.KeyInHeader},
}

// faulter puts faults on a few keys at a time, moving them around.
type faulter struct {
	mock      *mockgemini.Server
	keys      []string
	maxAtOnce int
	next      int
	faulted   []string          // oldest first
	injected  map[string]int    // fault kind → times set
	current   map[string]string // key → kind, for the log
}

func newFaulter(mock *mockgemini.Server, keys []string, maxAtOnce int) *faulter {
	return &faulter{mock: mock, keys: keys, maxAtOnce: maxAtOnce, injected: map[string]int{}, current: map[string]string{}}
}

// step heals the oldest faulted key when at the limit and faults a
// healthy one with the next kind of the plan.
func (f *faulter) step() {
	if len(f.faulted) >= f.maxAtOnce {
		k := f.faulted[0]
		f.faulted = f.faulted[1:]
		f.mock.ClearFault(k)
		delete(f.current, k)
	}
	var healthy []string
	for _, k := range f.keys {
		if _, bad := f.current[k]; !bad {
			healthy = append(healthy, k)
		}
	}
	if len(healthy) == 0 {
		return
	}
	k := healthy[rand.IntN(len(healthy))]
	fault := faultPlan[f.next%len(faultPlan)]
	f.next++
	f.mock.SetFault(k, fault)
	f.faulted = append(f.faulted, k)
	f.current[k] = fault.Kind.String()
	f.injected[fault.Kind.String()]++
}

// run steps every interval until ctx ends, then heals every key.
func (f *faulter) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			for _, k := range f.keys {
				f.mock.ClearFault(k)
			}
			return
		case <-t.C:
			f.step()
		}
	}
}
