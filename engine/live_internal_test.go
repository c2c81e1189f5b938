package engine

import (
	"bytes"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/balanceproxy/balance/internal/verdict"
)

// FuzzLiveParse: the setup parser and the path matcher never panic; a
// setup they accept is valid JSON naming a model, and anything else is
// refused as the client's error.
func FuzzLiveParse(f *testing.F) {
	f.Add([]byte(`{"setup":{"model":"models/gemini-live-2.5-flash-preview","generationConfig":{}}}`), []byte("/gemini//ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"))
	f.Add([]byte(`{"setup":{"model":7}}`), []byte("//ws/x"))
	f.Add([]byte(`{"setup":[]}`), []byte("/gemini/v1beta/models"))
	f.Add([]byte(`hello`), []byte("///"))
	f.Fuzz(func(t *testing.T, body, path []byte) {
		var c call
		if fl := (liveAdapter{}).parse(body, &c); fl == nil {
			if c.model == "" || !gjson.ValidBytes(body) {
				t.Fatalf("accepted %q as model %q", body, c.model)
			}
		} else if fl.Status != 400 || fl.Message == "" {
			t.Fatalf("refused %q with %d %q", body, fl.Status, fl.Message)
		}
		if rest := trimLiveMount(path); bytes.HasPrefix(rest, []byte("/")) {
			t.Fatalf("mount trimmed to %q", rest)
		}
		_ = isLivePath(path)
	})
}

// A close from Google before or during a session is judged by its reason
// first, then its code; liveCloseFor passes Google's code on.
func TestClassifyLiveClose(t *testing.T) {
	cases := []struct {
		code   int
		reason string
		want   verdict.Class
	}{
		{1011, "RESOURCE_EXHAUSTED: You exceeded your current quota", verdict.RateLimited},
		{1008, "API key not valid. Please pass a valid API key.", verdict.InvalidKey},
		{1008, "PERMISSION_DENIED: consumer suspended", verdict.PermissionDenied},
		{1011, "Internal error encountered.", verdict.ServerError},
		{1013, "", verdict.ServerError},
		{1007, "Invalid JSON payload received.", verdict.ClientError},
		{1008, "models/x is not found for API version v1beta, or is not supported for bidiGenerateContent", verdict.ClientError},
	}
	for _, tc := range cases {
		v := classifyLiveClose(tc.code, tc.reason)
		if v.Class != tc.want {
			t.Errorf("%d %q: %s, want %s", tc.code, tc.reason, v.Class, tc.want)
		}
		f := &Failure{Status: liveCloseStatus(v.Class), Reason: v.Reason, Message: tc.reason}
		if code, _ := liveCloseFor(f); code != tc.code {
			t.Errorf("%d %q: passed on as %d", tc.code, tc.reason, code)
		}
	}
	for status, want := range map[int]int{429: 1013, 403: 1008, 401: 1008, 400: 1007, 502: 1011, 503: 1011} {
		if code, _ := liveCloseFor(&Failure{Status: status, Message: "x"}); code != want {
			t.Errorf("status %d closes with %d, want %d", status, code, want)
		}
	}
}
