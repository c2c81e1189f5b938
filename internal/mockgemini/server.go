// Package mockgemini is a faithful, fast mock of the Gemini REST API
// (generativelanguage.googleapis.com v1beta/v1, plus Google's
// OpenAI-compatible endpoint under /v1beta/openai/). The proxy's tests,
// `make demo` and the load benchmark run against it instead of Google, so
// it must speak the exact wire format (see shared/reference/gemini-wire.md
// §1), answer deterministically so tests can assert on content, inject the
// failures a key pool has to survive, and cost little CPU per request so a
// benchmark measures the proxy rather than the mock.
//
// Answers echo the last user text ("Echo: <text>"); see generate.go for the
// rules (thinking, tools, JSON mode, images, grounding). Failures come from
// SetFault, from the key's spelling ("-429-", "-cut-", ...) or from
// Options.FailMod; see faults.go.
package mockgemini

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/internal/jsonw"
	"github.com/balanceproxy/balance/internal/secret"
)

// MaxBodySize is the request body limit, matching what the proxy accepts.
const MaxBodySize = 64 << 20

// Options configure a Server. The zero value is a permissive mock: every
// key is valid, streams have 3 text chunks and no delay.
type Options struct {
	// ValidKeys, when non-empty, is the set of keys the mock accepts; any
	// other key gets 400 API_KEY_INVALID. When empty every key is valid
	// unless it carries a fault.
	ValidKeys []string
	// FailMod makes keys whose trailing number is divisible by FailMod
	// answer 429 ("key-007" with FailMod 7). 0 disables it.
	FailMod int
	// StreamChunks is how many chunks a streamed text answer is split into
	// (default 3; fewer only if the answer has fewer characters).
	StreamChunks int
	// StreamDelay is the pause before each streamed event after the first.
	StreamDelay time.Duration
	// SlowDelay is how long keys containing "-slow-" wait (default 500ms).
	SlowDelay time.Duration
	// DisableRecording turns off LastRequest bookkeeping, which copies
	// every request's headers and body; benchmarks switch it off.
	DisableRecording bool
	// TextOnly answers in text even when function declarations are
	// offered: a model that chose not to call a tool (clients such as
	// Codex always declare theirs).
	TextOnly bool
	// BatchResultsSize, when positive, makes the results file of a batch
	// read from a file that many bytes of a pattern (made as they are
	// downloaded) instead of one JSONL line: a large download to test.
	BatchResultsSize int64
	// VideoDoneAfter is the poll of a video operation that finds it done
	// (default 2: the first GET answers it running, the second done).
	VideoDoneAfter int
}

// Recorded is a copy of one request as the mock received it.
type Recorded struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	// Key is the credential the request carried (x-goog-api-key, ?key= or
	// a Bearer token on the OpenAI routes), "" when none.
	Key string
}

// Server is the mock. Create it with New; serve it with Listen, or mount
// Handler on a fasthttp server of your own.
type Server struct {
	opts      Options
	validKeys map[string]struct{}
	srv       *fasthttp.Server

	faultMu    sync.RWMutex
	faults     map[string][]*faultState
	faultCount atomic.Int64

	total       atomic.Int64
	countMu     sync.RWMutex
	perKey      map[string]*atomic.Int64
	perPath     map[string]*atomic.Int64
	lastReq     atomic.Pointer[Recorded]
	defaultList []byte // pre-rendered models.list first page

	resources resourceState // files, cached contents, batches (files.go)

	closed    chan struct{}
	closeOnce sync.Once
	streams   sync.WaitGroup // hijacked connections (hang, stream cut)
	held      atomic.Int64   // connections held by Hang and StreamStall

	// Live API sessions upgraded, and ephemeral tokens minted (live.go).
	liveUpgraded atomic.Int64
	ephMu        sync.Mutex
	ephemeral    map[string]string // auth_tokens/… → key
	ephSeq       int64

	mu        sync.Mutex
	ln        net.Listener
	url       string
	serveDone chan struct{}
}

// New builds a Server; it does not listen until Listen is called.
func New(opts Options) *Server {
	if opts.StreamChunks <= 0 {
		opts.StreamChunks = 3
	}
	if opts.SlowDelay <= 0 {
		opts.SlowDelay = 500 * time.Millisecond
	}
	s := &Server{
		opts:    opts,
		faults:  make(map[string][]*faultState),
		perKey:  make(map[string]*atomic.Int64),
		perPath: make(map[string]*atomic.Int64),
		closed:  make(chan struct{}),
	}
	if len(opts.ValidKeys) > 0 {
		s.validKeys = make(map[string]struct{}, len(opts.ValidKeys))
		for _, k := range opts.ValidKeys {
			s.validKeys[k] = struct{}{}
		}
	}
	s.defaultList = appendPretty(nil, appendModelsPage(nil, 0, defaultPageSize))
	s.srv = &fasthttp.Server{
		Handler:              s.Handler,
		Name:                 "scaffolding on HTTPServer2",
		MaxRequestBodySize:   MaxBodySize,
		Concurrency:          1 << 18,
		IdleTimeout:          30 * time.Second,
		NoDefaultContentType: true,
		NoDefaultDate:        false,
		ReadBufferSize:       16 << 10,
		CloseOnShutdown:      true,
	}
	return s
}

// Listen starts serving on addr (e.g. "127.0.0.1:0") in a goroutine the
// Server owns until Close, and returns the base URL ("http://127.0.0.1:N").
func (s *Server) Listen(addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return "", errors.New("mockgemini: already listening on " + s.url)
	}
	select {
	case <-s.closed:
		return "", errors.New("mockgemini: server is closed")
	default:
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("mockgemini: listen %s: %w", addr, err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	s.serveDone = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		_ = s.srv.Serve(ln) // returns nil after Shutdown; errors surface to clients
	}(s.serveDone)
	return s.url, nil
}

// URL is the base URL given by Listen ("" before it). Pass it as the SDK's
// BaseURL; the API version is a separate path segment.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close releases hanging and streaming handlers, stops the listener and
// waits (up to 5s) for open connections to finish. It is safe to call more
// than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	s.mu.Lock()
	ln, done := s.ln, s.serveDone
	s.mu.Unlock()
	var err error
	if ln != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = s.srv.ShutdownWithContext(ctx)
		cancel()
		<-done
		if err != nil {
			err = fmt.Errorf("mockgemini: shutdown: %w", err)
		}
	}
	// Hijacked handlers watch s.closed and return within ~50ms; the bound
	// only guards against a hijack fasthttp never ran.
	waited := make(chan struct{})
	go func() { s.streams.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		if err == nil {
			err = errors.New("mockgemini: hijacked connections still open after 5s")
		}
	}
	return err
}

// sleep waits d or until the server closes; false means it closed.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.closed:
		return false
	}
}

// Requests returns how many requests carried key (whatever their outcome).
func (s *Server) Requests(key string) int64 {
	s.countMu.RLock()
	c := s.perKey[key]
	s.countMu.RUnlock()
	if c == nil {
		return 0
	}
	return c.Load()
}

// PathRequests returns how many requests hit path exactly
// ("/v1beta/models/gemini-2.5-flash:generateContent").
func (s *Server) PathRequests(path string) int64 {
	s.countMu.RLock()
	c := s.perPath[path]
	s.countMu.RUnlock()
	if c == nil {
		return 0
	}
	return c.Load()
}

// Total returns the number of API requests served (stats excluded).
func (s *Server) Total() int64 { return s.total.Load() }

// Reset zeroes all counters and forgets the last request; faults stay.
func (s *Server) Reset() {
	s.countMu.Lock()
	s.perKey = make(map[string]*atomic.Int64)
	s.perPath = make(map[string]*atomic.Int64)
	s.total.Store(0)
	s.countMu.Unlock()
	s.lastReq.Store(nil)
}

// LastRequest returns a copy of the most recent API request (zero value
// when none, or when Options.DisableRecording is set).
func (s *Server) LastRequest() Recorded {
	r := s.lastReq.Load()
	if r == nil {
		return Recorded{}
	}
	c := *r
	c.Header = r.Header.Clone()
	c.Body = append([]byte(nil), r.Body...)
	return c
}

// bump increments the counter for name in m, creating it on first use. The
// lookup with string(name) does not allocate.
func (s *Server) bump(m *map[string]*atomic.Int64, name []byte) {
	s.countMu.RLock()
	c := (*m)[string(name)]
	s.countMu.RUnlock()
	if c == nil {
		s.countMu.Lock()
		if c = (*m)[string(name)]; c == nil {
			c = new(atomic.Int64)
			(*m)[string(name)] = c
		}
		s.countMu.Unlock()
	}
	c.Add(1)
}

func (s *Server) record(ctx *fasthttp.RequestCtx, key []byte) {
	h := make(http.Header)
	for k, v := range ctx.Request.Header.All() {
		h.Add(string(k), string(v))
	}
	s.lastReq.Store(&Recorded{
		Method: string(ctx.Method()),
		Path:   string(ctx.Path()),
		Query:  string(ctx.URI().QueryString()),
		Header: h,
		Body:   append([]byte(nil), ctx.PostBody()...),
		Key:    string(key),
	})
}

var (
	prefixV1beta = []byte("/v1beta/")
	prefixV1     = []byte("/v1/")
	prefixOpenAI = []byte("openai/")
	prefixModels = []byte("models/")
	pathStats    = []byte("/_mock/stats")
	bearerPrefix = []byte("Bearer ")
	headerAPIKey = []byte("x-goog-api-key")
	ctJSON       = "application/json; charset=UTF-8"
	ctSSE        = "text/event-stream"
)

// request is what routing learned about one call.
type request struct {
	version string // "v1beta" or "v1"
	model   []byte // bare model id, nil for models.list and OpenAI routes
	method  []byte // custom method after ':' ("generateContent"), nil for GET
	key     []byte
	openai  bool
	vertex  bool // a Vertex AI Express path
}

// Handler serves one request. It can be mounted on any fasthttp server.
func (s *Server) Handler(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	if bytes.Equal(path, pathStats) {
		s.serveStats(ctx)
		return
	}
	switch {
	case isLivePath(path):
		s.serveLive(ctx)
		return
	case bytes.Equal(path, pathAuthTokens):
		s.serveAuthTokens(ctx)
		return
	case s.serveResources(ctx, path):
		return
	}
	var r request
	var rest []byte
	switch {
	case bytes.HasPrefix(path, prefixV1beta):
		r.version, rest = "v1beta", path[len(prefixV1beta):]
	case bytes.HasPrefix(path, prefixV1):
		r.version, rest = "v1", path[len(prefixV1):]
	case bytes.HasPrefix(path, prefixV1beta1):
		r.version, rest = "v1beta1", path[len(prefixV1beta1):]
	default:
		s.writeError(ctx, errNotFound("Requested entity was not found."), false)
		return
	}
	s.total.Add(1)
	s.bump(&s.perPath, path)

	rest, vertex := vertexRest(rest)
	r.vertex = vertex
	if r.version == "v1beta1" && !vertex {
		s.writeError(ctx, errNotFound("Requested entity was not found."), false)
		return
	}
	if vertex && bytes.IndexByte(rest, ':') < 0 {
		// Express mode serves model methods only: no models list or get.
		s.writeError(ctx, errNotFound("Requested entity was not found."), false)
		return
	}
	if r.version == "v1beta" && bytes.HasPrefix(rest, prefixOpenAI) {
		r.openai = true
		rest = rest[len(prefixOpenAI):]
	} else if bytes.HasPrefix(rest, prefixModels) {
		name := rest[len(prefixModels):]
		if i := bytes.LastIndexByte(name, ':'); i >= 0 {
			r.model, r.method = name[:i], name[i+1:]
		} else {
			r.model = name
		}
	} else if string(rest) != "models" {
		s.writeError(ctx, errNotFound("Requested entity was not found."), false)
		return
	}

	r.key = s.keyOf(ctx, r.openai)
	if len(r.key) > 0 {
		s.bump(&s.perKey, r.key)
	}
	if !s.opts.DisableRecording {
		s.record(ctx, r.key)
	}

	if r.openai {
		s.serveOpenAI(ctx, &r, rest)
		return
	}
	// The model of an OpenAI call is in its body, so its admission runs
	// inside serveOpenAI; native calls are admitted here.
	stream := bytes.Equal(r.method, []byte("streamGenerateContent"))
	fault, ok := s.admit(ctx, &r, stream)
	if !ok {
		return
	}
	switch {
	case r.method != nil:
		if !ctx.IsPost() {
			s.writeError(ctx, errNotFound("Method not found."), false)
			return
		}
		if !s.ownsReferences(ctx, r.key) {
			return
		}
		s.serveMethod(ctx, &r, fault)
	case r.model != nil:
		s.serveModelGet(ctx, &r)
	default:
		s.serveModelsList(ctx)
	}
}

// keyOf extracts the credential: x-goog-api-key, then ?key=, then (OpenAI
// routes only) Authorization: Bearer.
func (s *Server) keyOf(ctx *fasthttp.RequestCtx, openai bool) []byte {
	if k := ctx.Request.Header.PeekBytes(headerAPIKey); len(k) > 0 {
		return k
	}
	if k := ctx.QueryArgs().Peek("key"); len(k) > 0 {
		return k
	}
	if openai {
		if a := ctx.Request.Header.Peek("Authorization"); bytes.HasPrefix(a, bearerPrefix) {
			return bytes.TrimSpace(a[len(bearerPrefix):])
		}
	}
	return nil
}

// admit applies authentication and faults. It returns the stream fault
// (StreamCut/StreamError; Kind FaultNone otherwise) to apply while
// streaming, and false when it has already answered (an error, a hang).
// Returning the Fault by value keeps the common path allocation-free.
func (s *Server) admit(ctx *fasthttp.RequestCtx, r *request, stream bool) (Fault, bool) {
	var f Fault
	if !s.authenticate(ctx, r) {
		return f, false
	}
	if st := s.faultFor(r.key, r.model); st != nil {
		f = st.Fault
	} else if k := s.nameFault(r.key); k != FaultNone {
		f = Fault{Kind: k, Delay: s.opts.SlowDelay, AfterChunks: 1}
	} else {
		return f, true
	}
	none := Fault{}
	switch f.Kind {
	case RateLimit:
		delay := f.RetryDelay
		if delay <= 0 {
			delay = 7 * time.Second
		}
		s.writeError(ctx, errRateLimit(string(r.model), delay), r.openai)
	case InvalidKey:
		s.writeError(ctx, errInvalidKey(), r.openai)
	case PermissionDenied:
		s.writeError(ctx, errLeakedKey(string(r.key)), r.openai)
	case Unavailable:
		s.writeError(ctx, errUnavailable(), r.openai)
	case Internal:
		s.writeError(ctx, errInternal(), r.openai)
	case BadRequest:
		s.writeError(ctx, errBadRequest(msgBadRequest), r.openai)
	case KeyInHeader:
		ctx.Response.Header.Set("X-Debug-Key", "served by "+string(r.key))
		return none, true
	case HugeAnswer:
		if stream {
			return none, true
		}
		n := f.Bytes
		if n <= 0 {
			n = 1 << 20
		}
		setCommonHeaders(ctx, ctJSON)
		ctx.SetBodyString(`{"candidates":[{"content":{"role":"model","parts":[{"text":"` + strings.Repeat("x", n) + `"}]},"finishReason":"STOP","index":0}]}`)
	case Slow:
		if !s.sleep(f.Delay) {
			s.writeError(ctx, errUnavailable(), r.openai)
			return none, false
		}
		return none, true
	case Hang:
		s.hang(ctx)
	case StreamStall:
		s.stall(ctx, r, stream, f.AfterChunks)
	case StreamCut, StreamError, StreamStop:
		if stream {
			return f, true
		}
		return none, true
	default:
		return none, true
	}
	return none, false
}

// authenticate answers 403 for a missing key and 400 API_KEY_INVALID for
// a key outside Options.ValidKeys; it reports whether the key may proceed.
func (s *Server) authenticate(ctx *fasthttp.RequestCtx, r *request) bool {
	if len(r.key) == 0 {
		s.writeError(ctx, errNoKey(), r.openai)
		return false
	}
	if s.validKeys != nil {
		if _, ok := s.validKeys[string(r.key)]; !ok {
			s.writeError(ctx, errInvalidKey(), r.openai)
			return false
		}
	}
	return true
}

// hang takes the connection over and holds it without answering until the
// client closes it or the server closes.
func (s *Server) hang(ctx *fasthttp.RequestCtx) {
	s.streams.Add(1)
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		defer s.streams.Done()
		s.hold(c)
	})
}

// hold keeps a hijacked connection open, reading and dropping what comes,
// until the client closes it or the server closes. Held counts it.
func (s *Server) hold(c net.Conn) {
	s.held.Add(1)
	defer s.held.Add(-1)
	var b [512]byte
	for {
		select {
		case <-s.closed:
			return
		default:
		}
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(b[:]); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // client went away
		}
	}
}

// setCommonHeaders adds the headers every Google response carries.
func setCommonHeaders(ctx *fasthttp.RequestCtx, contentType string) {
	h := &ctx.Response.Header
	h.SetContentType(contentType)
	h.Add("Vary", "Origin")
	h.Add("Vary", "X-Origin")
	h.Add("Vary", "Referer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("X-Xss-Protection", "0")
}

func (s *Server) writeError(ctx *fasthttp.RequestCtx, e apiError, array bool) {
	if isVertexPath(ctx.Path()) {
		e = vertexError(e)
	}
	ctx.Response.ResetBody()
	setCommonHeaders(ctx, ctJSON)
	ctx.SetStatusCode(e.code)
	ctx.SetBody(renderError(e, array))
}

// writeCompact sends a compact body pretty-printed, with status 200.
func writeCompact(ctx *fasthttp.RequestCtx, compact []byte) {
	setCommonHeaders(ctx, ctJSON)
	bp := getBuf()
	*bp = appendPretty((*bp)[:0], compact)
	ctx.SetBody(*bp)
	putBuf(bp)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 1<<20 {
		return // do not pin huge buffers
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// serveStats answers GET /_mock/stats. Keys appear as fingerprints only.
func (s *Server) serveStats(ctx *fasthttp.RequestCtx) {
	s.countMu.RLock()
	keys := make([]string, 0, len(s.perKey))
	for k := range s.perKey {
		keys = append(keys, k)
	}
	paths := make([]string, 0, len(s.perPath))
	for p := range s.perPath {
		paths = append(paths, p)
	}
	sort.Strings(keys)
	sort.Strings(paths)
	// Fingerprints of short keys can collide ("key-001", "key-101"), so
	// counts are summed per fingerprint to keep the object's names unique.
	byFP := make(map[string]int64, len(keys))
	fps := make([]string, 0, len(keys))
	for _, k := range keys {
		fp := secret.Fingerprint(k)
		if _, seen := byFP[fp]; !seen {
			fps = append(fps, fp)
		}
		byFP[fp] += s.perKey[k].Load()
	}
	sort.Strings(fps)
	b := []byte(`{"total":`)
	b = strconv.AppendInt(b, s.total.Load(), 10)
	b = append(b, `,"keys":{`...)
	for i, fp := range fps {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonw.AppendMarshal(b, fp)
		b = append(b, ':')
		b = strconv.AppendInt(b, byFP[fp], 10)
	}
	b = append(b, `},"paths":{`...)
	for i, p := range paths {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonw.AppendMarshal(b, p)
		b = append(b, ':')
		b = strconv.AppendInt(b, s.perPath[p].Load(), 10)
	}
	s.countMu.RUnlock()
	b = append(b, "}}"...)
	writeCompact(ctx, b)
}
