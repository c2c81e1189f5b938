package openai

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/balanceproxy/balance/internal/jsonw"
)

func TestErrorFromGemini(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		body       string
		wantStatus int
		wantType   string
		wantCode   string
		wantMsg    string
	}{
		{"bad key", 400, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}`, 400, "invalid_request_error", "invalid_api_key", "API key not valid"},
		{"quota", 429, `{"error":{"code":429,"message":"You exceeded your current quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"47s"}]}}`, 429, "rate_limit_error", "rate_limit_exceeded", "exceeded"},
		{"not found", 404, `{"error":{"code":404,"message":"models/foo is not found","status":"NOT_FOUND"}}`, 404, "not_found_error", "model_not_found", "models/foo"},
		{"overloaded", 503, `{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}`, 503, "server_error", "unavailable", "overloaded"},
		{"forbidden", 403, `{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}`, 403, "permission_error", "permission_denied", "denied"},
		{"compat array", 400, `[{"error":{"code":400,"message":"Multiple candidates is not enabled","status":"INVALID_ARGUMENT"}}]`, 400, "invalid_request_error", "invalid_argument", "Multiple candidates"},
		{"html body", 502, `<html>Bad Gateway</html>`, 502, "server_error", "", "<html>Bad Gateway</html>"},
		{"empty body", 500, ``, 500, "server_error", "", "Internal Server Error"},
		{"bogus status", 200, `{"error":{"message":"x"}}`, 502, "server_error", "", "x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := ErrorFromGemini(c.status, []byte(c.body))
			if e.Status != c.wantStatus || e.Type != c.wantType || e.Code != c.wantCode || !strings.Contains(e.Message, c.wantMsg) {
				t.Errorf("got %+v", e)
			}
			var shape map[string]map[string]any
			if err := json.Unmarshal(e.JSON(), &shape); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"message", "type", "param", "code"} {
				if _, ok := shape["error"][k]; !ok {
					t.Errorf("missing error.%s in %s", k, e.JSON())
				}
			}
		})
	}
}

// Google's OpenAI-compatible endpoint wraps errors in an array, which the
// OpenAI SDKs cannot read; an OpenAI-shaped object keeps its type and param.
func TestErrorFromGeminiUnwrapsCompatErrors(t *testing.T) {
	got := ErrorFromGemini(400, []byte(`[{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}]`)).JSON()
	want := `{"error":{"message":"API key not valid.","type":"invalid_request_error","param":null,"code":"invalid_argument"}}`
	if string(got) != want {
		t.Errorf("got %s", got)
	}
	already := []byte(`{"error":{"message":"m","type":"invalid_request_error","param":"n","code":null}}`)
	if got := ErrorFromGemini(400, already).JSON(); !bytes.Equal(got, already) {
		t.Errorf("OpenAI-shaped body changed: %s", got)
	}
}

func TestStreamInBandError(t *testing.T) {
	var w bytes.Buffer
	st := NewStreamTranslator(Reply{ID: "chatcmpl-x", Model: "m"}, Options{})
	if err := st.Event([]byte(`{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}`), &w); err != nil {
		t.Fatal(err)
	}
	err := st.Event([]byte(`{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}`), &w)
	e, ok := err.(*Error)
	if !ok || e.Status != 503 {
		t.Fatalf("err %v", err)
	}
	w.Reset()
	if err := st.Fail(err, &w); err != nil {
		t.Fatal(err)
	}
	if got := w.String(); got != `data: {"error":{"message":"overloaded","type":"server_error","param":null,"code":"unavailable"}}`+"\n\n" {
		t.Errorf("error event %q", got)
	}
	// Nothing more after Fail.
	w.Reset()
	_ = st.Finish(&w)
	if w.Len() != 0 {
		t.Errorf("Finish after Fail wrote %q", w.String())
	}
	if err := st.Event([]byte(`{}`), &w); err == nil {
		t.Error("Event after Fail accepted")
	}
	// Malformed upstream JSON is an error, not a panic or a broken chunk.
	st2 := NewStreamTranslator(Reply{ID: "chatcmpl-y"}, Options{})
	w.Reset()
	if err := st2.Event([]byte(`{"candidates":[{"content":`), &w); err == nil || w.Len() != 0 {
		t.Errorf("malformed event: err %v, wrote %q", err, w.String())
	}
	if ev := ErrorEvent(err); !bytes.HasPrefix(ev, []byte(`data: {"error":{"message":`)) {
		t.Errorf("ErrorEvent %q", ev)
	}
}

func TestNewCompletionID(t *testing.T) {
	a, b := NewCompletionID(), NewCompletionID()
	if a == b || !strings.HasPrefix(a, "chatcmpl-") || len(a) != 33 {
		t.Errorf("ids %q %q", a, b)
	}
}

func TestToolCallIDRoundTrip(t *testing.T) {
	for _, c := range []struct{ gid, sig string }{
		{"", ""}, {"abc", ""}, {"", "EukBCuYB+/8="}, {"3ae8iwca", "AAAA"}, {"x", "a+b/cw=="}, {"x", "ab=="}, {"x", "abc="},
	} {
		id := string(appendToolCallID(nil, c.gid, c.sig))
		gid, sig := parseToolCallID(id)
		if gid != c.gid {
			t.Errorf("%q: gid %q want %q", id, gid, c.gid)
		}
		// Unpadded base64url loses only '=' padding, which is restored.
		if sig != c.sig {
			t.Errorf("%q: sig %q want %q", id, sig, c.sig)
		}
	}
	if gid, sig := parseToolCallID("toolu_01ABC"); gid != "" || sig != "" {
		t.Errorf("foreign id parsed as %q %q", gid, sig)
	}
}

func TestEmbeddings(t *testing.T) {
	er, e := TranslateEmbeddingsRequest([]byte(`{"model":"gemini-embedding-001","input":["hello","wörld"],"encoding_format":"base64","dimensions":3}`))
	if e != nil {
		t.Fatal(e)
	}
	body := er.GeminiBody("gemini-embedding-001")
	want := `{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hello"}]},"outputDimensionality":3},{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"wörld"}]},"outputDimensionality":3}]}`
	if string(body) != want {
		t.Errorf("gemini body\n%s\nwant\n%s", body, want)
	}
	out, err := er.TranslateEmbeddingsResponse([]byte("{\n  \"embeddings\": [\n    {\"values\": [0.5, -0.25, 3.0e-2]},\n    {\"values\": [1, 2, 3]}\n  ]\n}"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Data []struct {
			Index     int    `json:"index"`
			Embedding string `json:"embedding"`
		} `json:"data"`
		Model string `json:"model"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	raw, _ := base64.StdEncoding.DecodeString(res.Data[0].Embedding)
	var got []float32
	for i := 0; i+4 <= len(raw); i += 4 {
		got = append(got, math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
	}
	if len(got) != 3 || got[0] != 0.5 || got[1] != -0.25 || got[2] != float32(0.03) || res.Data[1].Index != 1 {
		t.Errorf("decoded %v from %s", got, out)
	}
	// Float format copies numbers through, compacted.
	er.Format = "float"
	out, _ = er.TranslateEmbeddingsResponse([]byte("{\"embeddings\": [{\"values\": [0.5, -0.25]}]}"))
	if !strings.Contains(string(out), `"embedding":[0.5,-0.25]`) {
		t.Errorf("float output %s", out)
	}
	for _, bad := range []struct{ body, param string }{
		{`{"input":"x"}`, "model"},
		{`{"model":"m"}`, "input"},
		{`{"model":"m","input":[1,2,3]}`, "input"},
		{`{"model":"m","input":[]}`, "input"},
		{`{"model":"m","input":["a",""]}`, "input[1]"},
		{`{"model":"m","input":"x","encoding_format":"int8"}`, "encoding_format"},
		{`{"model":"m","input":"x","dimensions":0}`, "dimensions"},
	} {
		if _, e := TranslateEmbeddingsRequest([]byte(bad.body)); e == nil || e.Status != 400 || e.Param != bad.param {
			t.Errorf("%s: %v", bad.body, e)
		}
	}
}

func TestImages(t *testing.T) {
	ir, e := TranslateImagesRequest([]byte(`{"model":"imagen-4.0-generate-001","prompt":"a \"red\" cat","n":2,"size":"1024x1792","output_format":"jpeg"}`))
	if e != nil {
		t.Fatal(e)
	}
	want := `{"instances":[{"prompt":"a \"red\" cat"}],"parameters":{"sampleCount":2,"aspectRatio":"9:16","outputOptions":{"mimeType":"image/jpeg"},"includeRaiReason":true}}`
	if string(ir.Gemini) != want {
		t.Errorf("got %s", ir.Gemini)
	}
	for size, ratio := range map[string]string{"1024x1024": "1:1", "1792x1024": "16:9", "1536x1024": "4:3", "1024x1536": "3:4", "256x256": "1:1"} {
		if got, ok := aspectRatio(size); !ok || got != ratio {
			t.Errorf("%s → %s, want %s", size, got, ratio)
		}
	}
	for _, bad := range []struct{ body, param string }{
		{`{"model":"m","prompt":"x","n":5}`, "n"},
		{`{"model":"m","prompt":"x","response_format":"png"}`, "response_format"},
		{`{"model":"m","prompt":"x","size":"big"}`, "size"},
		{`{"model":"m","prompt":" "}`, "prompt"},
		{`{"model":"m","prompt":"x","output_format":"webp"}`, "output_format"},
	} {
		if _, e := TranslateImagesRequest([]byte(bad.body)); e == nil || e.Param != bad.param {
			t.Errorf("%s: %v", bad.body, e)
		}
	}
	out, err := TranslateImagesResponse([]byte(`{"predictions":[{"raiFilteredReason":"filtered"},{"bytesBase64Encoded":"QUJD","mimeType":"image/png"}]}`), 7)
	if err != nil || string(out) != `{"created":7,"data":[{"b64_json":"QUJD"}]}` {
		t.Errorf("%s %v", out, err)
	}
	_, err = TranslateImagesResponse([]byte(`{"predictions":[{"raiFilteredReason":"Unsafe prompt"}]}`), 7)
	if e, ok := err.(*Error); !ok || e.Code != "content_policy_violation" || e.Message != "Unsafe prompt" {
		t.Errorf("all filtered: %v", err)
	}
}

func TestModels(t *testing.T) {
	out := ModelList([]string{"gemini-2.5-flash", "gemini-2.5-flash-search", `we"ird`})
	want := `{"object":"list","data":[{"id":"gemini-2.5-flash","object":"model","created":0,"owned_by":"google"},{"id":"gemini-2.5-flash-search","object":"model","created":0,"owned_by":"google"},{"id":"we\"ird","object":"model","created":0,"owned_by":"google"}]}`
	if string(out) != want {
		t.Errorf("got %s", out)
	}
	if got := string(ModelList(nil)); got != `{"object":"list","data":[]}` {
		t.Errorf("empty list %s", got)
	}
	if got := string(TranslateModel("models/gemini-2.5-pro")); got != `{"id":"gemini-2.5-pro","object":"model","created":0,"owned_by":"google"}` {
		t.Errorf("one model %s", got)
	}
}

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fc00::1": false, "0.0.0.0": false, "::": false,
		"100.64.0.1": false, "224.0.0.1": false, "64:ff9b::a00:1": false,
	} {
		if got := publicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %v want %v", addr, got, want)
		}
	}
}

func TestSafeFetcher(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/img", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream") // lies: sniffing must find PNG
		_, _ = w.Write(pngBytes)
	})
	mux.HandleFunc("/jpeg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg; charset=binary")
		_, _ = w.Write([]byte("not really a jpeg"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte{0x89}, 4096))
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html><body>hi</body></html>"))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/img", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()

	// The default policy refuses loopback at dial time, also via a name
	// that resolves to it.
	strict := NewSafeFetcher(2*time.Second, 1024)
	for _, u := range []string{srv.URL + "/img", strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/img"} {
		if _, _, err := strict.Fetch(ctx, u); err == nil || !strings.Contains(err.Error(), "not public") {
			t.Errorf("%s: loopback allowed: %v", u, err)
		}
	}
	if _, _, err := strict.Fetch(ctx, "file:///etc/passwd"); err == nil {
		t.Error("file scheme allowed")
	}

	f := NewSafeFetcher(300*time.Millisecond, 1024)
	f.allow = func(netip.Addr) bool { return true }
	data, mt, err := f.Fetch(ctx, srv.URL+"/img")
	if err != nil || mt != "image/png" || !bytes.Equal(data, pngBytes) {
		t.Errorf("img: %q %v", mt, err)
	}
	if _, mt, err := f.Fetch(ctx, srv.URL+"/jpeg"); err != nil || mt != "image/jpeg" {
		t.Errorf("declared type: %q %v", mt, err)
	}
	if _, mt, err := f.Fetch(ctx, srv.URL+"/redirect"); err != nil || mt != "image/png" {
		t.Errorf("redirect: %q %v", mt, err)
	}
	if _, _, err := f.Fetch(ctx, srv.URL+"/big"); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("size cap: %v", err)
	}
	if _, _, err := f.Fetch(ctx, srv.URL+"/html"); err == nil || !strings.Contains(err.Error(), "not an image") {
		t.Errorf("html: %v", err)
	}
	start := time.Now()
	if _, _, err := f.Fetch(ctx, srv.URL+"/slow"); err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("timeout: %v after %v", err, time.Since(start))
	}
	if _, _, err := f.Fetch(ctx, srv.URL+"/missing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "ctl\x00\x01\x1f\t\n\r", "ünï ✓ 😀", "bad\xffutf8", "\u2028\u2029", "<html>&"} {
		got := jsonw.AppendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q → invalid JSON %s: %v", s, got, err)
			continue
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q round-trips to %q, encoding/json gives %q", s, back, wantBack)
		}
	}
}
