package engine_test

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/internal/mockgemini"
	"github.com/balanceproxy/balance/internal/secret"
)

// lockedBuffer is a log sink shared by the server's goroutines and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFasthttpLogRedactsCredentials sends malformed requests over a real
// socket, the kind fasthttp rejects before balance's handler runs and
// describes in its own log line by quoting the request line or header
// block. No configured token or key, and no credential-looking value,
// may reach the log whole.
func TestFasthttpLogRedactsCredentials(t *testing.T) {
	const (
		statusTok  = "status-token-0123456789"
		metricsTok = "metrics-token-0123456789"
		unknown    = "sk-attacker-guess-0123456789" // configured nowhere
	)
	mock := mockgemini.Start(t, mockgemini.Options{})
	body := strings.ReplaceAll(storeConfig([]string{keyA, keyB}, `
store { driver = "none" }
status {
  path  = "/status"
  token = "`+statusTok+`"
}
metrics { token = "`+metricsTok+`" }
`), "%MOCK%", mock.URL())
	var logs lockedBuffer
	_, url := startProxyWith(t, nil, t.TempDir(), body, engine.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	secrets := []string{testToken, keyA, keyB, statusTok, metricsTok, unknown}
	tests := []struct{ name, raw string }{
		{"control byte in the request line, token in ?key=", "GET /v1beta/models?key=" + testToken + "\x01 HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"unknown token in ?key=, control byte", "GET /v1/models?alt=json&key=" + unknown + "\x7f HTTP/1.1\r\n\r\n"},
		{"no version: the whole header block is quoted", "GET /v1beta/models?key=" + keyA + "\r\nHost: x\r\nx-goog-api-key: " + unknown + "\r\nAuthorization: Bearer " + testToken + "\r\n\r\n"},
		{"status token where the version belongs", "GET /status?token " + statusTok + " HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"NUL after x-goog-api-key", "POST /v1beta/models/gemini-2.5-flash:generateContent HTTP/1.1\r\nHost: x\r\nx-goog-api-key: " + testToken + "\x00\r\nContent-Length: 2\r\n\r\n{}"},
		{"NUL after an unknown x-goog-api-key", "GET /v1beta/models HTTP/1.1\r\nHost: x\r\nX-Goog-Api-Key: " + unknown + "\x00\r\n\r\n"},
		{"NUL after an unknown cookie", "GET /v1beta/models HTTP/1.1\r\nHost: x\r\nCookie: s=" + unknown + "\x00\r\n\r\n"},
		{"authorization line missing its colon", "GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization Bearer " + metricsTok + "\r\n\r\n"},
		{"x-api-key line missing its colon", "GET /v1/models HTTP/1.1\r\nHost: x\r\nx-api-key " + unknown + "\r\n\r\n"},
		{"pool key as a transfer-encoding", "POST /v1beta/models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + keyB + "\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(logs.String())
			c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, tc.raw); err != nil {
				t.Fatal(err)
			}
			resp, _ := io.ReadAll(c) // the server answers 400 and closes
			if !bytes.HasPrefix(resp, []byte("HTTP/1.1 4")) {
				t.Fatalf("want a 4xx answer, got %q", resp)
			}
			// The log line is written after the answer: wait for it.
			var got string
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if got = logs.String()[before:]; strings.Contains(got, "component=fasthttp") {
					break
				}
			}
			if !strings.Contains(got, "component=fasthttp") {
				t.Fatalf("fasthttp logged nothing, so the test proves nothing; log:\n%s", got)
			}
			for _, s := range secrets {
				if strings.Contains(got, s) {
					t.Errorf("log holds %q:\n%s", s, got)
				}
			}
		})
	}
	// Configured secrets are named as status names them.
	all := logs.String()
	for _, want := range []string{secret.KeyFingerprint(keyA), secret.Fingerprint(testToken)} {
		if !strings.Contains(all, want) {
			t.Errorf("log does not name %q:\n%s", want, all)
		}
	}
}
