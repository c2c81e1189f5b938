package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// goneCase is one route kind whose client hangs up mid-call.
type goneCase struct {
	name, path, body string
	openai           bool // Bearer token; else x-goog-api-key
	fault            mockgemini.Fault
	extra            string // config blocks
}

var (
	hang  = mockgemini.Fault{Kind: mockgemini.Hang}
	stall = mockgemini.Fault{Kind: mockgemini.StreamStall, AfterChunks: 1}
)

const chatUnary = `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"think hard"}]}`
const chatStream = `{"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"think hard"}]}`

var goneCases = []goneCase{
	{name: "native unary", path: generatePath, body: genBody, fault: hang},
	{name: "native stream before its headers", path: streamPath, body: genBody, fault: hang},
	{name: "native stream thinking silently", path: streamPath, body: genBody, fault: stall},
	{name: "openai chat", path: "/v1/chat/completions", body: chatUnary, openai: true, fault: hang},
	{name: "openai chat stream thinking silently", path: "/v1/chat/completions", body: chatStream, openai: true, fault: stall},
	{name: "openai embeddings", path: "/v1/embeddings", body: `{"model":"gemini-embedding-001","input":"hello"}`, openai: true, fault: hang},
	{name: "openai images", path: "/v1/images/generations", body: `{"model":"imagen-4.0-generate-001","prompt":"a cat"}`, openai: true, fault: hang},
	{name: "compat passthrough", path: "/openai/v1/chat/completions", body: chatUnary, openai: true, fault: hang},
	{name: "compat passthrough stream", path: "/openai/v1/chat/completions", body: chatStream, openai: true, fault: stall},
	{name: "keep-alive stream", path: "/v1/chat/completions", body: chatStream, openai: true, fault: hang, extra: `openai { keep_alive = "30ms" }`},
}

// sendRaw writes one request on a fresh connection to the proxy.
func sendRaw(t testing.TB, proxyURL string, c goneCase) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(proxyURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	auth := "x-goog-api-key: " + testToken
	if c.openai {
		auth = "Authorization: Bearer " + testToken
	}
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		c.path, auth, len(c.body), c.body); err != nil {
		t.Fatal(err)
	}
	return conn
}

// waitHeld waits until the mock holds want connections; it reports how
// long that took, or fails the test after limit.
func waitHeld(t testing.TB, mock *mockgemini.Server, want int64, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for mock.Held() != want {
		if time.Since(start) > limit {
			t.Fatalf("mock holds %d connections after %v, want %d", mock.Held(), limit, want)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// A client that hangs up while its request waits on upstream takes the
// upstream call down with it, on every route kind: the mock sees its
// connection closed at once, not at upstream.timeout or the stream's next
// event; the request is recorded as the client's 499, and no key is
// blamed or tried again.
func TestClientHangUpAbandonsUpstreamCall(t *testing.T) {
	for _, c := range goneCases {
		t.Run(c.name, func(t *testing.T) {
			mock := mockgemini.Start(t, mockgemini.Options{})
			rec := &recorder{}
			srv, url := startProxyWith(t, mock, t.TempDir(), poolConfig([]string{keyA, keyB}, c.extra), engine.Options{Recorder: rec})
			mock.SetFault(keyA, c.fault)
			mock.SetFault(keyB, c.fault)

			conn := sendRaw(t, url, c)
			waitHeld(t, mock, 1, 5*time.Second)
			_ = conn.Close()
			// The real figure is ~20 ms (the watch's tick); the bound is
			// loose for a loaded machine under -race.
			if took := waitHeld(t, mock, 0, 5*time.Second); took > time.Second {
				t.Fatalf("upstream connection closed %v after the client's", took)
			}
			r := rec.last(t)
			if r.Status != 499 || r.ErrorClass != "client_error" {
				t.Fatalf("recorded status %d class %q, want 499 client_error", r.Status, r.ErrorClass)
			}
			if got := mock.Total(); got != 1 {
				t.Fatalf("%d upstream calls, want 1: a gone client's request is not retried", got)
			}
			for _, k := range []string{keyA, keyB} {
				if st := srv.Registry().Get(k).Status(time.Now()); st.State != keypool.Healthy || st.LastError != "" {
					t.Fatalf("a key was blamed for a gone client: %+v", st)
				}
			}
		})
	}
}

// Bytes a client sends while its request waits (a pipelined next request)
// are not a hang-up: the upstream call goes on.
func TestPipelinedBytesAreNotAHangUp(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	_, url := startProxyWith(t, mock, t.TempDir(), poolConfig([]string{keyA}, ""), engine.Options{})
	mock.SetFault(keyA, hang)
	c := goneCases[0]
	conn := sendRaw(t, url, c)
	defer conn.Close()
	waitHeld(t, mock, 1, 5*time.Second)
	if _, err := fmt.Fprintf(conn, "GET /v1beta/models HTTP/1.1\r\nHost: x\r\nx-goog-api-key: %s\r\n\r\n", testToken); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // several watch ticks
	if n := mock.Held(); n != 1 {
		t.Fatalf("the upstream call was dropped for a client that is still there (held %d)", n)
	}
}

// A keep-alive stream still waiting on its upstream call when
// shutdown_grace is over is cut like a relayed stream: an error event in
// the caller's protocol, the upstream call abandoned, the request recorded
// before Shutdown returns.
func TestShutdownCutsKeepAliveStream(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	rec := &recorder{}
	srv, url := startProxyWith(t, mock, t.TempDir(), poolConfig([]string{keyA}, `openai { keep_alive = "30ms" }`), engine.Options{Recorder: rec})
	mock.SetFault(keyA, hang)
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(chatStream))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, ": keep-alive") {
		t.Fatalf("first line %q, %v", line, err)
	}
	waitHeld(t, mock, 1, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = srv.Shutdown(ctx)
	rec.mu.Lock()
	recs := append([]engine.Record(nil), rec.recs...)
	rec.mu.Unlock()
	if len(recs) != 1 || recs[0].Status != 503 {
		t.Fatalf("records after Shutdown: %+v, want one 503", recs)
	}
	rest, _ := io.ReadAll(br)
	if typ, msg := openAIErrorOf(t, rest); typ == "" || !strings.Contains(msg, "shutting down") {
		t.Fatalf("stream ended without a shutdown error event: %q", rest)
	}
	waitHeld(t, mock, 0, 5*time.Second)
}

// BenchmarkHangUpToUpstreamClose measures how long an upstream call
// outlives its client: a unary call the mock never answers, the client
// hangs up, and the clock runs until the mock sees its connection closed
// (polled every 100 µs). ms/hangup is the mean, max-ms the worst.
func BenchmarkHangUpToUpstreamClose(b *testing.B) {
	mock := mockgemini.Start(b, mockgemini.Options{DisableRecording: true})
	_, url := startProxyWith(b, mock, b.TempDir(), poolConfig([]string{keyA}, ""), engine.Options{})
	mock.SetFault(keyA, hang)
	var total, worst time.Duration
	for b.Loop() {
		conn := sendRaw(b, url, goneCases[0])
		waitHeld(b, mock, 1, 5*time.Second)
		start := time.Now()
		_ = conn.Close()
		for mock.Held() != 0 {
			if time.Since(start) > 5*time.Second {
				b.Fatal("upstream call still open 5 s after the client hung up")
			}
			time.Sleep(100 * time.Microsecond)
		}
		d := time.Since(start)
		total += d
		worst = max(worst, d)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/hangup")
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
}
