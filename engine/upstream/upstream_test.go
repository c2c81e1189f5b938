package upstream

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestPickProxyIsStableAndMovesFewKeys(t *testing.T) {
	proxies := []string{"http://p1:3128", "http://p2:3128", "socks5://p3:1080"}
	keys := make([]string, 3000)
	for i := range keys {
		keys[i] = fmt.Sprintf("AIzaSyKey%030d", i)
	}
	before := map[string]string{}
	counts := map[string]int{}
	for _, k := range keys {
		p := PickProxy(k, proxies)
		if again := PickProxy(k, proxies); again != p {
			t.Fatal("choice is not deterministic")
		}
		before[k] = p
		counts[p]++
	}
	for _, p := range proxies {
		if c := counts[p]; c < 800 || c > 1200 {
			t.Fatalf("proxy %s got %d of 3000 keys: badly spread %v", p, c, counts)
		}
	}
	// Adding a fourth proxy moves only the keys it takes (about a quarter).
	grown := append(append([]string(nil), proxies...), "http://p4:3128")
	moved := 0
	for _, k := range keys {
		after := PickProxy(k, grown)
		if after != before[k] {
			moved++
			if after != "http://p4:3128" {
				t.Fatalf("key moved between old proxies: %s → %s", before[k], after)
			}
		}
	}
	if moved < 500 || moved > 1000 {
		t.Fatalf("%d of 3000 keys moved, want about 750", moved)
	}
	if PickProxy("k", nil) != "" {
		t.Fatal("no proxies means direct")
	}
}

// origin is a plain HTTP server standing in for the upstream.
func origin(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "origin saw %s", r.URL.Path)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// connectProxy is a minimal HTTP CONNECT proxy that counts tunnels and
// checks Basic proxy credentials.
func connectProxy(t *testing.T, wantAuth string, tunnels *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Method != http.MethodConnect {
					return
				}
				if wantAuth != "" && req.Header.Get("Proxy-Authorization") != wantAuth {
					fmt.Fprint(c, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
					return
				}
				up, err := net.Dial("tcp", req.Host)
				if err != nil {
					fmt.Fprint(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
					return
				}
				defer up.Close()
				tunnels.Add(1)
				fmt.Fprint(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go func() { _, _ = io.Copy(up, br) }()
				_, _ = io.Copy(c, up)
			}(c)
		}
	}()
	return ln.Addr().String()
}

// socks5Proxy is a minimal no-auth SOCKS5 proxy (CONNECT by IPv4 or name).
func socks5Proxy(t *testing.T, tunnels *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 262)
				if _, err := io.ReadFull(c, buf[:2]); err != nil || buf[0] != 5 {
					return
				}
				if _, err := io.ReadFull(c, buf[:buf[1]]); err != nil {
					return
				}
				_, _ = c.Write([]byte{5, 0})
				if _, err := io.ReadFull(c, buf[:4]); err != nil || buf[1] != 1 {
					return
				}
				var host string
				switch buf[3] {
				case 1:
					if _, err := io.ReadFull(c, buf[:4]); err != nil {
						return
					}
					host = net.IP(buf[:4]).String()
				case 3:
					if _, err := io.ReadFull(c, buf[:1]); err != nil {
						return
					}
					n := int(buf[0])
					if _, err := io.ReadFull(c, buf[:n]); err != nil {
						return
					}
					host = string(buf[:n])
				default:
					return
				}
				if _, err := io.ReadFull(c, buf[:2]); err != nil {
					return
				}
				port := binary.BigEndian.Uint16(buf[:2])
				up, err := net.Dial("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
				if err != nil {
					_, _ = c.Write([]byte{5, 1, 0, 1, 0, 0, 0, 0, 0, 0})
					return
				}
				defer up.Close()
				tunnels.Add(1)
				_, _ = c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
				go func() { _, _ = io.Copy(up, c) }()
				_, _ = io.Copy(c, up)
			}(c)
		}
	}()
	return ln.Addr().String()
}

func TestClientsDialThroughProxies(t *testing.T) {
	target, err := ParseTarget("http://" + origin(t))
	if err != nil {
		t.Fatal(err)
	}
	var httpTunnels, socksTunnels atomic.Int64
	httpProxy := "http://user:pa55@" + connectProxy(t, "Basic dXNlcjpwYTU1", &httpTunnels)
	socksProxy := "socks5://" + socks5Proxy(t, &socksTunnels)
	clients := NewClients()
	for _, tc := range []struct {
		proxy   string
		tunnels *atomic.Int64
	}{{httpProxy, &httpTunnels}, {socksProxy, &socksTunnels}, {"", nil}} {
		hc, err := clients.Get(target, tc.proxy, Options{MaxConns: 4, IdleTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://" + target.Host + "/v1beta/models")
		if err := hc.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatalf("via %q: %v", RedactProxy(tc.proxy), err)
		}
		if got := string(resp.Body()); got != "origin saw /v1beta/models" {
			t.Fatalf("via %q: body %q", tc.proxy, got)
		}
		if tc.tunnels != nil && tc.tunnels.Load() != 1 {
			t.Fatalf("via %q: %d tunnels", tc.proxy, tc.tunnels.Load())
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
	if again, _ := clients.Get(target, httpProxy, Options{MaxConns: 4, IdleTimeout: time.Second}); again == nil {
		t.Fatal("cached client missing")
	}
	if strings.Contains(RedactProxy(httpProxy), "pa55") {
		t.Fatal("proxy password shown")
	}
}

func TestIdleTimeoutCutsSilentStreamsOnly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				_, _ = http.ReadRequest(bufio.NewReader(c))
				fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
				for range 3 { // events 100ms apart: under the idle bound
					fmt.Fprint(c, "5\r\nhello\r\n")
					time.Sleep(100 * time.Millisecond)
				}
				time.Sleep(2 * time.Second) // then silence: over it
			}(c)
		}
	}()
	target, _ := ParseTarget("http://" + ln.Addr().String())
	hc, err := NewClients().Get(target, "", Options{MaxConns: 2, IdleTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI("http://" + target.Host + "/s")
	resp.StreamBody = true
	if err := hc.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := io.ReadAll(resp.BodyStream())
	if err == nil {
		t.Fatal("a silent stream must be cut by the idle timeout")
	}
	if string(got) != "hellohellohello" {
		t.Fatalf("events before the silence were lost: %q", got)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("cut after %v, want about 300ms after the last event", d)
	}
}

func TestArmedDeadlines(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	var sets []time.Time
	var a armed
	arm := func(want, now time.Time) {
		t.Helper()
		if err := a.arm(want, now, func(at time.Time) error { sets = append(sets, at); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	want := now.Add(600 * time.Second)
	if arm(want, now); len(sets) != 1 || sets[0] != want.Add(time.Second) {
		t.Fatalf("unarmed socket: sets %v, want one, 1 s late", sets)
	}
	// Later requests on the connection keep it while their deadline is
	// between the one it was armed for and the armed one.
	for _, d := range []time.Duration{0, 10 * time.Millisecond, 999 * time.Millisecond, time.Second} {
		if arm(want.Add(d), now.Add(d)); len(sets) != 1 {
			t.Fatalf("+%v: re-armed (%v), want the armed deadline kept", d, sets)
		}
	}
	// Past it: re-armed, never earlier than wanted.
	w2 := want.Add(1001 * time.Millisecond)
	if arm(w2, now.Add(1001*time.Millisecond)); len(sets) != 2 || sets[1].Before(w2) {
		t.Fatalf("past the armed deadline: sets %v", sets)
	}
	// A shorter timeout on the same connection is armed at once, with its
	// own (small) slack.
	short := now.Add(200 * time.Millisecond)
	if arm(short, now); len(sets) != 3 || sets[2].Before(short) || sets[2].Sub(short) > 200*time.Millisecond/64 {
		t.Fatalf("shorter timeout: sets %v, want within 1/64 after %v", sets, short)
	}
	// Deadlines already past are armed as asked; zero clears an armed one
	// and is a no-op on an unarmed socket.
	past := now.Add(-time.Second)
	if arm(past, now); len(sets) != 4 || sets[3] != past {
		t.Fatalf("past deadline: sets %v", sets)
	}
	if arm(time.Time{}, now); len(sets) != 5 || !sets[4].IsZero() {
		t.Fatalf("zero must clear an armed deadline: sets %v", sets)
	}
	if arm(time.Time{}, now); len(sets) != 5 {
		t.Fatalf("zero on an unarmed socket must not touch it: sets %v", sets)
	}
}

// hangAfter serves n answers per connection, then reads the next request
// and never answers it.
func hangAfter(t *testing.T, n int, stream bool) Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				for i := 0; ; i++ {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					if i >= n {
						if stream {
							fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
						}
						time.Sleep(5 * time.Second)
						return
					}
					fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}(c)
		}
	}()
	target, _ := ParseTarget("http://" + ln.Addr().String())
	return target
}

// A deadline armed for a long request must not delay the timeout of a
// shorter one that follows on the same connection.
func TestShortTimeoutAfterLongOnSameConn(t *testing.T) {
	target := hangAfter(t, 3, false)
	hc, err := NewClients().Get(target, "", Options{MaxConns: 1, IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI("http://" + target.Host + "/u")
	for range 3 {
		if err := hc.DoTimeout(req, resp, 600*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	err = hc.DoTimeout(req, resp, 200*time.Millisecond)
	if !errors.Is(err, fasthttp.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d < 195*time.Millisecond || d > 700*time.Millisecond {
		t.Fatalf("timed out after %v, want about 200ms", d)
	}
}

// A stream after unary requests on the same connection is bounded by the
// idle timeout, not by the unary requests' long deadline.
func TestStreamAfterUnaryOnSameConnIsIdleBounded(t *testing.T) {
	target := hangAfter(t, 2, true)
	hc, err := NewClients().Get(target, "", Options{MaxConns: 1, IdleTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI("http://" + target.Host + "/u")
	for range 2 {
		if err := hc.DoTimeout(req, resp, 600*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// A fresh request: DoTimeout leaves its timeout on req.
	sreq := fasthttp.AcquireRequest()
	sreq.SetRequestURI("http://" + target.Host + "/s")
	resp.StreamBody = true
	if err := hc.Do(sreq, resp); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := io.ReadAll(resp.BodyStream())
	if err == nil || string(got) != "hello" {
		t.Fatalf("got %q, %v: want the first event, then the idle cut", got, err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("cut after %v, want about 300ms", d)
	}
}

// BenchmarkDeadlines prices what fasthttp does to a connection per unary
// request (a write deadline from WriteTimeout, a read deadline from the
// request timeout) on a loopback TCP socket: straight on the socket, as
// before idleConn coalesced them, and through idleConn.
func BenchmarkDeadlines(b *testing.B) {
	raw, _ := tcpPair(b)
	for _, bc := range []struct {
		name string
		conn net.Conn
	}{
		{"socket", raw},
		{"idleConn", &idleConn{Conn: raw, idle: 2 * time.Minute}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				now := time.Now()
				if err := bc.conn.SetWriteDeadline(now.Add(60 * time.Second)); err != nil {
					b.Fatal(err)
				}
				if err := bc.conn.SetReadDeadline(now.Add(600 * time.Second)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// idleClosingServer answers every request with "ok" and closes
// connections idle for idle; it counts the connections it accepted.
func idleClosingServer(t *testing.T, idle time.Duration) (Target, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	srv := &fasthttp.Server{
		Handler:     func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") },
		IdleTimeout: idle,
		ConnState: func(_ net.Conn, st fasthttp.ConnState) {
			if st == fasthttp.StateNew {
				conns.Add(1)
			}
		},
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	target, _ := ParseTarget("http://" + ln.Addr().String())
	return target, &conns
}

func post(hc *fasthttp.HostClient, target Target) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + target.Host + "/v1beta/models/m:generateContent")
	req.Header.SetMethod("POST")
	req.SetBodyString(`{}`)
	if err := hc.DoTimeout(req, resp, 5*time.Second); err != nil {
		return err
	}
	if string(resp.Body()) != "ok" {
		return fmt.Errorf("body %q", resp.Body())
	}
	return nil
}

// A POST on pooled connections the server closed while they sat idle (its
// idle timeout shorter than ours) goes out on a new connection instead of
// failing: fasthttp alone answers "the server closed connection before
// returning the first response byte", which the engine cannot tell from
// a failure after the request was sent.
func TestStaleIdleConnsAreReplaced(t *testing.T) {
	defer func(d time.Duration) { staleCheckAfter = d }(staleCheckAfter)
	staleCheckAfter = 150 * time.Millisecond
	target, conns := idleClosingServer(t, 100*time.Millisecond)
	hc, err := NewClients().Get(target, "", Options{MaxConns: 4, IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Four pooled connections, then a quiet spell that outlasts the
	// server's idle timeout: all four are stale.
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- post(hc, target) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	before := conns.Load()
	time.Sleep(400 * time.Millisecond)
	for i := range 3 {
		if err := post(hc, target); err != nil {
			t.Fatalf("request %d after the idle spell: %v", i, err)
		}
	}
	if n := conns.Load() - before; n != 1 {
		t.Fatalf("%d new connections after the idle spell, want 1", n)
	}
}

func TestAlive(t *testing.T) {
	c, s := tcpPair(t)
	if !alive(c) {
		t.Fatal("an open idle connection counts as dead")
	}
	if _, err := s.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return !alive(c) }, "unsolicited bytes to make the connection unusable")
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil || b[0] != 'x' { // the peek left the byte in place
		t.Fatalf("read %q, %v after the peek, want x", b, err)
	}
	if !alive(c) {
		t.Fatal("drained connection counts as dead")
	}
	_ = s.Close()
	waitFor(t, func() bool { return !alive(c) }, "the server's close to make the connection unusable")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkConnPool prices taking a pooled connection and giving it back
// with n connections idle in the pool (after a burst of streams there can
// be a thousand), for fasthttp's FIFO strategy (its default) and LIFO.
func BenchmarkConnPool(b *testing.B) {
	for _, n := range []int{64, 1024} {
		for _, st := range []struct {
			name string
			s    fasthttp.ConnPoolStrategyType
		}{{"FIFO", fasthttp.FIFO}, {"LIFO", fasthttp.LIFO}} {
			b.Run(fmt.Sprintf("%s/idle=%d", st.name, n), func(b *testing.B) {
				hc := &fasthttp.HostClient{
					Addr: "pool", MaxConns: 4096, ConnPoolStrategy: st.s, MaxIdleConnDuration: time.Hour,
					Dial: func(string) (net.Conn, error) { c, _ := net.Pipe(); return c, nil },
				}
				var pooled []func()
				for range n {
					c, err := hc.AcquireConn(0, false)
					if err != nil {
						b.Fatal(err)
					}
					pooled = append(pooled, func() { hc.ReleaseConn(c) })
				}
				for _, release := range pooled {
					release()
				}
				for b.Loop() {
					c, err := hc.AcquireConn(0, false)
					if err != nil {
						b.Fatal(err)
					}
					hc.ReleaseConn(c)
				}
			})
		}
	}
}

// tcpPair is both ends of one loopback TCP connection, closed when the
// test ends.
func tcpPair(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		tb.Fatal("accept failed")
	}
	tb.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

// dialAside hands back what the dial gave, and runs it on a goroutine of
// its own, so the deep dial path never grows the caller's stack.
func TestDialAsideRunsTheDialOnItsOwnGoroutine(t *testing.T) {
	goroutineID := func() string {
		buf := make([]byte, 64)
		buf = buf[:runtime.Stack(buf, false)]
		id, _, _ := strings.Cut(strings.TrimPrefix(string(buf), "goroutine "), " ")
		return id
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	errDial := errors.New("refused")
	tests := []struct {
		name     string
		conn     net.Conn
		err      error
		wantConn net.Conn
	}{
		{"connected", c1, nil, c1},
		{"failed", nil, errDial, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caller := goroutineID()
			var dialer, gotAddr string
			conn, err := dialAside(func(addr string) (net.Conn, error) {
				dialer, gotAddr = goroutineID(), addr
				return tt.conn, tt.err
			}, "127.0.0.1:9")
			if conn != tt.wantConn || !errors.Is(err, tt.err) {
				t.Errorf("dialAside = %v, %v; want %v, %v", conn, err, tt.wantConn, tt.err)
			}
			if gotAddr != "127.0.0.1:9" {
				t.Errorf("dial got address %q", gotAddr)
			}
			if dialer == "" || dialer == caller {
				t.Errorf("dial ran on goroutine %q, the caller's is %q: want another", dialer, caller)
			}
		})
	}
}
