package upstream

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
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
