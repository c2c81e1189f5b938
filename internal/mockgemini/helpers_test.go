package mockgemini

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// client is shared by tests; a timeout keeps a broken mock from hanging CI.
var client = &http.Client{Timeout: 10 * time.Second}

type reply struct {
	status int
	header http.Header
	body   []byte
	err    error // error while reading the body (stream cuts)
}

// call sends one request over the real socket. key goes in x-goog-api-key
// unless it starts with "?" (query) or "Bearer " (Authorization).
func call(t testing.TB, s *Server, method, path, key, body string) reply {
	t.Helper()
	u := s.URL() + path
	if strings.HasPrefix(key, "?") {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "key=" + key[1:]
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(key, "Bearer "):
		req.Header.Set("Authorization", key)
	case key != "" && !strings.HasPrefix(key, "?"):
		req.Header.Set("x-goog-api-key", key)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, err: rerr}
}

func post(t testing.TB, s *Server, path, key, body string) reply {
	t.Helper()
	return call(t, s, http.MethodPost, path, key, body)
}

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("write golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

// errorBody decodes a native error body.
type errorBody struct {
	Error struct {
		Code    int              `json:"code"`
		Message string           `json:"message"`
		Status  string           `json:"status"`
		Details []map[string]any `json:"details"`
	} `json:"error"`
}

func decodeError(t testing.TB, b []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body is not JSON: %v\n%s", err, b)
	}
	return e
}

// sseEvents splits a native SSE body into event payloads, failing on any
// framing other than `data: X\r\n\r\n`.
func sseEvents(t testing.TB, body []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(body) > 0 {
		i := bytes.Index(body, []byte("\r\n\r\n"))
		if i < 0 {
			t.Fatalf("unterminated SSE event: %q", body)
		}
		ev := body[:i]
		if !bytes.HasPrefix(ev, []byte("data: ")) || bytes.ContainsAny(ev, "\r\n") {
			t.Fatalf("bad SSE event framing: %q", ev)
		}
		out = append(out, ev[len("data: "):])
		body = body[i+4:]
	}
	return out
}

const helloBody = `{"contents":[{"role":"user","parts":[{"text":"Hello there wonderful world"}]}]}`

// ttsBody asks a TTS model for two characters of speech (160 ms of audio).
const ttsBody = `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"responseModalities":["AUDIO"],"speechConfig":{"voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Kore"}}}}}`
