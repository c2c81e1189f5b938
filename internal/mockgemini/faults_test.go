package mockgemini

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const genPath = "/v1beta/models/gemini-2.5-flash:generateContent"
const ssePath = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"

// TestFaultKinds checks the status, google.rpc status and key details of
// each programmatic fault.
func TestFaultKinds(t *testing.T) {
	s := Start(t, Options{})
	tests := []struct {
		kind   FaultKind
		status int
		rpc    string
		check  func(t *testing.T, key string, e errorBody)
	}{
		{RateLimit, 429, "RESOURCE_EXHAUSTED", func(t *testing.T, _ string, e errorBody) {
			if retryDelay(e) != "2.25s" {
				t.Errorf("retryDelay %q, want 2.25s", retryDelay(e))
			}
		}},
		{InvalidKey, 400, "INVALID_ARGUMENT", func(t *testing.T, _ string, e errorBody) {
			if reason(e) != "API_KEY_INVALID" {
				t.Errorf("reason %q", reason(e))
			}
		}},
		{PermissionDenied, 403, "PERMISSION_DENIED", func(t *testing.T, key string, e errorBody) {
			if !strings.Contains(e.Error.Message, key) || !strings.Contains(e.Error.Message, "leaked") {
				t.Errorf("leaked-key message must quote the key: %q", e.Error.Message)
			}
		}},
		{Unavailable, 503, "UNAVAILABLE", func(t *testing.T, _ string, e errorBody) {
			if e.Error.Message != "The model is overloaded. Please try again later." {
				t.Errorf("message %q", e.Error.Message)
			}
		}},
		{Internal, 500, "INTERNAL", nil},
		{BadRequest, 400, "INVALID_ARGUMENT", func(t *testing.T, _ string, e errorBody) {
			if reason(e) != "" {
				t.Errorf("BadRequest must not look key-related, reason %q", reason(e))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			key := "AIzaSyFault_" + strings.ReplaceAll(tt.kind.String(), "-", "_")
			s.SetFault(key, Fault{Kind: tt.kind, RetryDelay: 2250 * time.Millisecond})
			for _, path := range []string{genPath, ssePath, "/v1beta/models"} {
				r := call(t, s, map[bool]string{true: "GET", false: "POST"}[path == "/v1beta/models"], path, key, helloBody)
				e := decodeError(t, r.body)
				if r.status != tt.status || e.Error.Code != tt.status || e.Error.Status != tt.rpc {
					t.Fatalf("%s: got %d %d %s, want %d %s", path, r.status, e.Error.Code, e.Error.Status, tt.status, tt.rpc)
				}
				if ct := r.header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
					t.Errorf("error Content-Type %q", ct)
				}
				if tt.check != nil {
					tt.check(t, key, e)
				}
			}
			s.ClearFault(key)
			if r := post(t, s, genPath, key, helloBody); r.status != 200 {
				t.Errorf("after ClearFault: status %d", r.status)
			}
		})
	}
}

func retryDelay(e errorBody) string {
	for _, d := range e.Error.Details {
		if d["@type"] == "type.googleapis.com/google.rpc.RetryInfo" {
			s, _ := d["retryDelay"].(string)
			return s
		}
	}
	return ""
}

func reason(e errorBody) string {
	for _, d := range e.Error.Details {
		if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			s, _ := d["reason"].(string)
			return s
		}
	}
	return ""
}

func TestFaultPerModelAndTimes(t *testing.T) {
	s := Start(t, Options{})
	s.SetFault("k", Fault{Kind: RateLimit, Model: "gemini-2.5-pro"})
	if r := post(t, s, "/v1beta/models/gemini-2.5-pro:generateContent", "k", helloBody); r.status != 429 {
		t.Fatalf("pro should be rate limited: %d", r.status)
	} else if e := decodeError(t, r.body); !strings.Contains(string(r.body), `"model": "gemini-2.5-pro"`) || retryDelay(e) != "7s" {
		t.Errorf("quota details should name the model and default to 7s: %s", r.body)
	}
	if r := post(t, s, genPath, "k", helloBody); r.status != 200 {
		t.Errorf("flash is another quota: %d", r.status)
	}
	if r := call(t, s, "GET", "/v1beta/models", "k", ""); r.status != 200 {
		t.Errorf("models list has no model: %d", r.status)
	}
	// A key-wide fault coexists with the per-model one; the specific wins.
	s.SetFault("k", Fault{Kind: Unavailable, Times: 2})
	want := []int{429, 503, 503, 200}
	paths := []string{"/v1beta/models/gemini-2.5-pro:generateContent", genPath, genPath, genPath}
	for i, p := range paths {
		if r := post(t, s, p, "k", helloBody); r.status != want[i] {
			t.Errorf("call %d %s: status %d, want %d", i, p, r.status, want[i])
		}
	}
}

func TestKeyNameFaultsAndFailMod(t *testing.T) {
	s := Start(t, Options{FailMod: 7, SlowDelay: 30 * time.Millisecond})
	tests := []struct {
		key    string
		status int
	}{
		{"key-429-a", 429},
		{"key-invalid-a", 400},
		{"key-403-a", 403},
		{"key-503-a", 503},
		{"key-slow-a", 200},
		{"key-007", 429},
		{"key-014", 429},
		{"key-008", 200},
		{"plain", 200},
	}
	for _, tt := range tests {
		start := time.Now()
		r := post(t, s, genPath, tt.key, helloBody)
		if r.status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.key, r.status, tt.status, r.body)
		}
		if strings.Contains(tt.key, "slow") && time.Since(start) < 30*time.Millisecond {
			t.Errorf("%s answered before SlowDelay", tt.key)
		}
	}
	// -cut- only cuts streams.
	if r := post(t, s, genPath, "key-cut-a", helloBody); r.status != 200 {
		t.Errorf("-cut- unary: %d", r.status)
	}
	r := post(t, s, ssePath, "key-cut-a", helloBody)
	if r.err == nil {
		t.Errorf("-cut- stream should end with a read error, got %q", r.body)
	}
}

func TestValidKeys(t *testing.T) {
	s := Start(t, Options{ValidKeys: []string{"good"}})
	if r := post(t, s, genPath, "good", helloBody); r.status != 200 {
		t.Errorf("valid key: %d", r.status)
	}
	r := post(t, s, genPath, "other", helloBody)
	if e := decodeError(t, r.body); r.status != 400 || reason(e) != "API_KEY_INVALID" {
		t.Errorf("unknown key: %d %s", r.status, r.body)
	}
	r = post(t, s, genPath, "", helloBody)
	if e := decodeError(t, r.body); r.status != 403 || !strings.HasPrefix(e.Error.Message, "Method doesn't allow unregistered callers") {
		t.Errorf("no key: %d %s", r.status, r.body)
	}
	if r := post(t, s, genPath, "?good", helloBody); r.status != 200 {
		t.Errorf("?key= form: %d", r.status)
	}
	// Bearer is only a key on the OpenAI routes.
	if r := post(t, s, genPath, "Bearer good", helloBody); r.status != 403 {
		t.Errorf("Bearer on native route: %d", r.status)
	}
	if r := post(t, s, "/v1beta/openai/chat/completions", "Bearer good", `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"x"}]}`); r.status != 200 {
		t.Errorf("Bearer on compat route: %d %s", r.status, r.body)
	}
}

func TestStreamError(t *testing.T) {
	s := Start(t, Options{StreamChunks: 3})
	s.SetFault("k", Fault{Kind: StreamError, AfterChunks: 2})
	r := post(t, s, ssePath, "k", helloBody)
	if r.status != 200 || r.err != nil {
		t.Fatalf("status %d err %v", r.status, r.err)
	}
	evs := sseEvents(t, r.body)
	if len(evs) != 3 {
		t.Fatalf("%d events, want 2 + error: %q", len(evs), r.body)
	}
	var e errorBody
	if err := json.Unmarshal(evs[2], &e); err != nil || e.Error.Code != 503 || e.Error.Status != "UNAVAILABLE" {
		t.Errorf("in-band error event %s: %v", evs[2], err)
	}
	if !bytes.HasPrefix(evs[2], []byte(`{"error": {"code": 503,"message": `)) {
		t.Errorf("in-band error spacing: %s", evs[2])
	}
	// The JSON-array form stays a valid array, the error as last element.
	r = post(t, s, "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "k", helloBody)
	var arr []map[string]any
	if err := json.Unmarshal(r.body, &arr); err != nil || len(arr) != 3 || arr[2]["error"] == nil {
		t.Errorf("array stream error: %v %s", err, r.body)
	}
	// OpenAI stream: error event and no [DONE].
	r = post(t, s, "/v1beta/openai/chat/completions", "Bearer k", `{"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"a b c"}]}`)
	if bytes.Contains(r.body, []byte("[DONE]")) || !bytes.Contains(r.body, []byte(`data: {"error":`)) {
		t.Errorf("openai stream error: %s", r.body)
	}
}

func TestStreamCut(t *testing.T) {
	s := Start(t, Options{StreamChunks: 3})
	for _, after := range []int{0, 1, 2} {
		key := "cut-" + strconv.Itoa(after)
		s.SetFault(key, Fault{Kind: StreamCut, AfterChunks: after})
		r := post(t, s, ssePath, key, helloBody)
		if r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		if !errors.Is(r.err, io.ErrUnexpectedEOF) && r.err == nil {
			t.Errorf("after %d: want a truncated body error, got none", after)
		}
		if n := bytes.Count(r.body, []byte("\r\n\r\n")); n != after {
			t.Errorf("after %d: got %d complete events: %q", after, n, r.body)
		}
	}
	// Other keys keep working after cuts.
	if r := post(t, s, ssePath, "fine", helloBody); r.err != nil || len(sseEvents(t, r.body)) != 3 {
		t.Errorf("healthy stream after cuts: %v", r.err)
	}
}

func TestSlowAndHang(t *testing.T) {
	s := Start(t, Options{})
	s.SetFault("slow", Fault{Kind: Slow, Delay: 60 * time.Millisecond})
	start := time.Now()
	if r := post(t, s, genPath, "slow", helloBody); r.status != 200 || time.Since(start) < 60*time.Millisecond {
		t.Errorf("slow: status %d after %v", r.status, time.Since(start))
	}

	s.SetFault("hang", Fault{Kind: Hang})
	c := &http.Client{Timeout: 150 * time.Millisecond}
	req, _ := http.NewRequest("POST", s.URL()+genPath, strings.NewReader(helloBody))
	req.Header.Set("x-goog-api-key", "hang")
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("hang answered %d", resp.StatusCode)
	}
	// A healthy request still goes through while others hang.
	if r := post(t, s, genPath, "ok", helloBody); r.status != 200 {
		t.Errorf("healthy key while hanging: %d", r.status)
	}
}

// TestCloseReleasesHangingAndStreaming checks that Close does not wait for
// hung requests or slow streams to finish on their own.
func TestCloseReleasesHangingAndStreaming(t *testing.T) {
	s := New(Options{StreamDelay: time.Hour})
	url, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.SetFault("hang", Fault{Kind: Hang})
	s.SetFault("cut", Fault{Kind: StreamCut, AfterChunks: 3})
	started := make(chan struct{}, 3)
	done := make(chan error, 3)
	for _, k := range []string{"hang", "stream", "cut"} {
		go func(key string) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
			if err != nil {
				done <- err
				return
			}
			defer conn.Close()
			path := genPath
			if key != "hang" {
				path = ssePath
			}
			req := "POST " + path + " HTTP/1.1\r\nHost: x\r\nx-goog-api-key: " + key + "\r\nContent-Length: " + strconv.Itoa(len(helloBody)) + "\r\n\r\n" + helloBody
			if _, err := conn.Write([]byte(req)); err != nil {
				done <- err
				return
			}
			started <- struct{}{}
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = io.Copy(io.Discard, bufio.NewReader(conn))
			done <- err
		}(k)
	}
	for i := 0; i < 3; i++ {
		<-started
	}
	time.Sleep(100 * time.Millisecond) // let the handlers reach their waits
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("Close did not release hanging handlers")
	}
	for i := 0; i < 3; i++ {
		if err := <-done; err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("client connection was not closed by Close")
			}
		}
	}
}

func TestObservability(t *testing.T) {
	s := Start(t, Options{})
	post(t, s, genPath, "AIzaSyObservedKey000001", `{"contents":[{"parts":[{"text":"x"}]}]}`)
	post(t, s, genPath, "AIzaSyObservedKey000001", helloBody)
	call(t, s, "GET", "/v1beta/models?pageSize=1", "?AIzaSyOtherKey", "")
	if got := s.Requests("AIzaSyObservedKey000001"); got != 2 {
		t.Errorf("Requests = %d, want 2", got)
	}
	if got := s.Total(); got != 3 {
		t.Errorf("Total = %d, want 3", got)
	}
	if got := s.PathRequests(genPath); got != 2 {
		t.Errorf("PathRequests = %d, want 2", got)
	}
	last := s.LastRequest()
	if last.Method != "GET" || last.Path != "/v1beta/models" || last.Query != "pageSize=1&key=AIzaSyOtherKey" || last.Key != "AIzaSyOtherKey" {
		t.Errorf("LastRequest = %+v", last)
	}
	post(t, s, genPath, "AIzaSyObservedKey000001", helloBody)
	last = s.LastRequest()
	if string(last.Body) != helloBody || last.Header.Get("X-Goog-Api-Key") != "AIzaSyObservedKey000001" || last.Header.Get("Content-Type") != "application/json" {
		t.Errorf("LastRequest body/header not copied: %+v", last)
	}
	r := call(t, s, "GET", "/_mock/stats", "", "")
	if bytes.Contains(r.body, []byte("AIzaSyObservedKey000001")) {
		t.Errorf("stats must not show full keys: %s", r.body)
	}
	var st struct {
		Total int64
		Keys  map[string]int64
		Paths map[string]int64
	}
	if err := json.Unmarshal(r.body, &st); err != nil || st.Total != 4 || st.Paths[genPath] != 3 || len(st.Keys) != 2 {
		t.Errorf("stats %v: %s", err, r.body)
	}
	s.Reset()
	if s.Total() != 0 || s.Requests("AIzaSyObservedKey000001") != 0 || s.LastRequest().Method != "" {
		t.Error("Reset left state behind")
	}
}

// TestConcurrentFaultsAndCounts runs parallel traffic while faults change,
// for the race detector.
func TestConcurrentFaultsAndCounts(t *testing.T) {
	s := Start(t, Options{})
	const workers, each = 4, 25
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			s.SetFault("k0", Fault{Kind: RateLimit, Times: 1})
			s.ClearFault("k1")
			_ = s.LastRequest()
		}
	}()
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			key := "k" + strconv.Itoa(w%2)
			for i := 0; i < each; i++ {
				r := post(t, s, genPath, key, helloBody)
				if r.status != 200 && r.status != 429 {
					errs <- errors.New("unexpected status " + strconv.Itoa(r.status))
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	<-done
	if got := s.Requests("k0") + s.Requests("k1"); got != workers*each {
		t.Errorf("per-key counts sum to %d, want %d", got, workers*each)
	}
}
