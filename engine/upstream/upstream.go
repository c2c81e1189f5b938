// Package upstream owns the outbound HTTP clients: one fasthttp.HostClient
// per (upstream address, egress proxy) pair, kept across config reloads so
// warm connections survive them, and the stable assignment of keys to
// egress proxies.
package upstream

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpproxy"
)

// Target is where an upstream lives.
type Target struct {
	// Addr is host:port.
	Addr string
	// Host is the Host header to send.
	Host string
	// TLS is true for https.
	TLS bool
	// PathPrefix is the base URL's path ("" for the root), prepended to
	// every request path.
	PathPrefix string
}

// ParseTarget reads a base URL such as "https://generativelanguage.googleapis.com".
func ParseTarget(baseURL string) (Target, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return Target{}, fmt.Errorf("parse base_url %q: %w", baseURL, err)
	}
	t := Target{Host: u.Host, TLS: u.Scheme == "https", PathPrefix: strings.TrimRight(u.Path, "/")}
	t.Addr = u.Host
	if u.Port() == "" {
		if t.TLS {
			t.Addr += ":443"
		} else {
			t.Addr += ":80"
		}
	}
	return t, nil
}

// Options are the client settings that, when they change, need a new
// HostClient.
type Options struct {
	MaxConns    int
	IdleTimeout time.Duration // no bytes read for this long ends the read
	// MaxResponseBody bounds a unary answer read into memory (0: 64 MiB).
	MaxResponseBody int
}

type clientKey struct {
	addr  string
	tls   bool
	proxy string
	opts  Options
}

// Clients is a cache of HostClients shared by every config snapshot.
type Clients struct {
	mu      sync.Mutex
	clients map[clientKey]*fasthttp.HostClient
}

// NewClients returns an empty cache.
func NewClients() *Clients {
	return &Clients{clients: map[clientKey]*fasthttp.HostClient{}}
}

// Get returns the client for a target through proxy ("" = direct),
// creating it on first use.
func (c *Clients) Get(t Target, proxy string, opts Options) (*fasthttp.HostClient, error) {
	key := clientKey{addr: t.Addr, tls: t.TLS, proxy: proxy, opts: opts}
	c.mu.Lock()
	defer c.mu.Unlock()
	if hc, ok := c.clients[key]; ok {
		return hc, nil
	}
	dial, err := dialer(proxy, t.TLS)
	if err != nil {
		return nil, err
	}
	idle := opts.IdleTimeout
	hc := &fasthttp.HostClient{
		Addr:                t.Addr,
		IsTLS:               t.TLS,
		TLSConfig:           &tls.Config{ServerName: hostOnly(t.Host), MinVersion: tls.VersionTLS12},
		MaxConns:            opts.MaxConns,
		MaxConnWaitTimeout:  5 * time.Second,
		MaxIdleConnDuration: 60 * time.Second,
		// LIFO: the most recently used connection serves next, so after a
		// burst (a thousand streams) the busy set shrinks back and the
		// rest idle out, instead of FIFO keeping every one of them in
		// rotation and copying the whole idle list on every take
		// (BenchmarkConnPool: 244 -> 113 ns with 1024 idle, 132 -> 107 ns
		// with 64). A connection left idle at the bottom is checked before
		// reuse (idleConn.SetWriteDeadline).
		ConnPoolStrategy: fasthttp.LIFO,
		// The transport lets a Call abandon the request it runs (call.go).
		Transport: transport{},
		// fasthttp retries nothing itself (the engine decides what a
		// failed request deserves) except a pooled connection the server
		// closed while it was idle, caught before anything was written on
		// it (see idleConn.SetWriteDeadline): after a quiet spell every
		// pooled connection may be stale, so up to staleRetries of them.
		MaxIdemponentCallAttempts: staleRetries + 1,
		RetryIfErr: func(_ *fasthttp.Request, _ int, err error) (bool, bool) {
			return false, errors.Is(err, errStaleConn)
		},
		NoDefaultUserAgentHeader:      true,
		SecureErrorLogMessage:         true, // never log the key header
		DisableHeaderNamesNormalizing: false,
		DisablePathNormalizing:        true,
		ReadBufferSize:                4 << 10, // held per connection, and a stream pins one
		WriteBufferSize:               8 << 10,
		MaxResponseBodySize:           cmp.Or(opts.MaxResponseBody, 64<<20),
		WriteTimeout:                  60 * time.Second,
		Dial: func(addr string) (net.Conn, error) {
			conn, err := dialAside(dial, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: conn, idle: idle}, nil
		},
	}
	c.clients[key] = hc
	return hc, nil
}

// Retain closes idle connections of clients no snapshot uses any more and
// forgets them. inUse holds the clients the live snapshot holds.
func (c *Clients) Retain(inUse map[*fasthttp.HostClient]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, hc := range c.clients {
		if !inUse[hc] {
			hc.CloseIdleConnections()
			delete(c.clients, k)
		}
	}
}

// CloseIdle closes the idle connections of every client (at shutdown).
func (c *Clients) CloseIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, hc := range c.clients {
		hc.CloseIdleConnections()
	}
}

// dialAside runs dial on a goroutine of its own and waits for it. The
// dial path (resolver, socket, connect, a proxy's handshake) is the
// deepest the request path goes: run on the caller's goroutine, it grows
// that stack to 16 KB, and the caller is the client's connection
// goroutine, which then keeps the 16 KB for as long as it relays the
// stream that asked for the connection. A goroutine spawn is nothing next
// to a dial.
func dialAside(dial fasthttp.DialFunc, addr string) (net.Conn, error) {
	type dialed struct {
		conn net.Conn
		err  error
	}
	ch := make(chan dialed, 1)
	go func() {
		c, err := dial(addr)
		ch <- dialed{c, err}
	}()
	d := <-ch
	return d.conn, d.err
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// dialer returns a dial function that reaches addr directly or through an
// HTTP CONNECT or SOCKS5 proxy.
func dialer(proxy string, isTLS bool) (fasthttp.DialFunc, error) {
	direct := (&fasthttp.TCPDialer{Concurrency: 0, DNSCacheDuration: time.Minute}).Dial
	if proxy == "" {
		return func(addr string) (net.Conn, error) { return direct(addr) }, nil
	}
	u, err := url.Parse(proxy)
	if err != nil {
		return nil, fmt.Errorf("parse proxy URL: %w", err)
	}
	switch u.Scheme {
	case "socks5", "socks5h":
		return fasthttpproxy.FasthttpSocksDialer(proxy), nil
	case "http":
		// FasthttpHTTPDialerTimeout wants user:pass@host:port, no scheme.
		hostport := u.Host
		if u.User != nil {
			hostport = u.User.String() + "@" + u.Host
		}
		return fasthttpproxy.FasthttpHTTPDialerTimeout(hostport, 10*time.Second), nil
	}
	return nil, fmt.Errorf("proxy %s: unsupported scheme %q", RedactProxy(proxy), u.Scheme)
}

// RedactProxy hides a proxy URL's password for logs and status.
func RedactProxy(proxy string) string {
	u, err := url.Parse(proxy)
	if err != nil {
		return "(invalid proxy URL)"
	}
	return u.Redacted()
}

// PickProxy assigns a key to one of proxies by rendezvous hashing: the
// choice is stable across restarts and reloads, and adding or removing a
// proxy moves only the keys that must move.
func PickProxy(key string, proxies []string) string {
	if len(proxies) == 0 {
		return ""
	}
	best, bestScore := "", uint64(0)
	for _, p := range proxies {
		h := fnv.New64a()
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write([]byte(key))
		if s := mix(h.Sum64()); best == "" || s > bestScore {
			best, bestScore = p, s
		}
	}
	return best
}

// mix is splitmix64's finaliser, spreading fnv's weak low bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// idleConn ends a read that sees no bytes for idle (when idle > 0),
// unless fasthttp set a deadline of its own. fasthttp's own ReadTimeout
// bounds a whole streamed body, which would cut long SSE answers; this
// bounds silence.
//
// It also makes deadlines cheap. fasthttp sets a write and a read
// deadline on every unary request, and each one costs a clock read and a
// locked update of the runtime's poll timer. Here a deadline is armed a
// little late, by deadlineSlack, and the requests that follow on the same
// connection keep it, without reading the clock, as long as their own
// deadline falls between the one it was armed for and the armed one.
// With balance's minutes-long timeouts one timer update per connection
// per second serves every request. A deadline thus fires no earlier than
// asked and at most min(1 s, 1/64 of the time from arming to it) later.
type idleConn struct {
	net.Conn
	idle time.Duration
	mu   sync.Mutex
	// hard is the read deadline fasthttp asked for; zero means none (a
	// stream), and reads are then bounded by idle.
	hard   time.Time
	rd, wr armed
}

// errStaleConn fails a request on a pooled connection that the server
// closed, or wrote to, while it was idle. Nothing was written on it, so
// the client retries on another connection (RetryIfErr).
var errStaleConn = errors.New("pooled upstream connection was closed by the server while idle")

// staleCheckAfter is the write-deadline gap after which a connection
// counts as having been idle and is checked before reuse; a busy one is
// re-armed, so its gap stays under a second and it costs nothing. A
// variable only so tests can lower it.
var staleCheckAfter = 2 * time.Second

// staleRetries bounds the stale connections one request discards.
const staleRetries = 16

// armed is the deadline set on the socket in one direction.
type armed struct {
	at   time.Time // on the socket; zero: none
	from time.Time // the deadline it was armed for; it serves [from, at]
}

// serves reports whether the armed deadline may stand in for want.
func (a *armed) serves(want time.Time) bool {
	return !a.at.IsZero() && !want.Before(a.from) && !want.After(a.at)
}

// deadlineSlack is how much later than asked a deadline d from now may
// fire: 1/64 of d, at most a second (none for one already past).
func deadlineSlack(d time.Duration) time.Duration {
	return max(0, min(d/64, time.Second))
}

// arm makes the socket's deadline in one direction serve want (zero: no
// deadline), calling set only when the armed one does not. now is read
// only then, unless the caller has it already.
func (a *armed) arm(want, now time.Time, set func(time.Time) error) error {
	if want.IsZero() {
		if a.at.IsZero() {
			return nil
		}
		if err := set(time.Time{}); err != nil {
			return err
		}
		*a = armed{}
		return nil
	}
	if a.serves(want) {
		return nil
	}
	if now.IsZero() {
		now = time.Now()
	}
	at := want.Add(deadlineSlack(want.Sub(now)))
	if err := set(at); err != nil {
		return err
	}
	*a = armed{at: at, from: want}
	return nil
}

func (c *idleConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hard = t
	if t.IsZero() {
		// A stream follows: Read arms the idle bound itself.
		return nil
	}
	return c.rd.arm(t, time.Time{}, c.Conn.SetReadDeadline)
}

// SetWriteDeadline is where fasthttp starts every request on a
// connection (the client always has a WriteTimeout). A connection that
// has been idle is checked first: a server that closed it meanwhile (an
// idle timeout shorter than ours) would otherwise fail the request after
// it was sent, with nothing to tell that it is safe to repeat. The idle
// time comes for free from the write deadlines: each is now plus the same
// WriteTimeout, so the gap between this one and the one last armed for
// is at least how long the connection sat unused, less the slack.
func (c *idleConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.IsZero() && !c.wr.from.IsZero() && t.Sub(c.wr.from) > staleCheckAfter && !alive(c.Conn) {
		return errStaleConn
	}
	return c.wr.arm(t, time.Time{}, c.Conn.SetWriteDeadline)
}

func (c *idleConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// Read bounds silence on calls without a deadline (streams). A call with
// a deadline (a unary request's total timeout) keeps just that deadline:
// a long-thinking model may send nothing for minutes before answering.
func (c *idleConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.hard.IsZero() {
		// No deadline of fasthttp's: bound silence by idle, or clear what
		// an earlier request on this connection armed.
		var now, want time.Time
		if c.idle > 0 {
			now = time.Now()
			want = now.Add(c.idle)
		}
		if err := c.rd.arm(want, now, c.Conn.SetReadDeadline); err != nil {
			c.mu.Unlock()
			return 0, err
		}
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}
