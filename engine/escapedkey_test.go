package engine_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/internal/secret"
)

// TestEscapedKeyInUpstreamError: an upstream error that quotes the key
// JSON-escaped (\u002d for "-", \/ for "/", or every character as \uXXXX)
// reaches the client, on both protocols, with the key's status name and
// without the key in any spelling.
func TestEscapedKeyInUpstreamError(t *testing.T) {
	keys := []string{"AIzaSy-Escaped_Key/A00000000000000000001", "AIzaSy-Escaped_Key/B00000000000000000002"}
	escapeAll := func(s string) string {
		var sb strings.Builder
		for _, c := range []byte(s) {
			fmt.Fprintf(&sb, `\u%04x`, c)
		}
		return sb.String()
	}
	// A Google-like front end that refuses every key, quoting it twice:
	// with its dashes and slashes escaped, and with every character escaped.
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := r.Header.Get("x-goog-api-key")
		if k == "" {
			k = r.URL.Query().Get("key")
		}
		part := strings.NewReplacer("-", `\u002d`, "/", `\/`).Replace(k)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"error":{"code":403,"message":"Permission denied: Your API key %s was reported as leaked. (%s)","status":"PERMISSION_DENIED"}}`, part, escapeAll(k))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = up.Serve(ln) }()
	t.Cleanup(func() { _ = up.Close() })

	cfgText := fmt.Sprintf(`
upstream "google" { base_url = "http://%s" }
pool "main" {
  upstream = "google"
  keys     = ["%s"]
}
token "tester" {
  secret = %q
  pools  = ["main"]
}
store { driver = "none" }
`, ln.Addr(), strings.Join(keys, `", "`), testToken)
	// Each protocol gets a fresh proxy: the first refusal quarantines
	// both keys.
	start := func(t *testing.T) *harness {
		srv, url := startProxyWith(t, nil, t.TempDir(), cfgText, engine.Options{})
		return &harness{t: t, srv: srv, url: url, keys: keys, token: testToken}
	}

	tests := []struct{ name, path, body string }{
		{"gemini", generatePath, genBody},
		{"openai", "/v1/chat/completions", `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t)
			status, _, body := h.do("POST", tc.path, tc.body, map[string]string{"Authorization": "Bearer " + testToken})
			if status < 400 {
				t.Fatalf("%d %s", status, body)
			}
			text := string(body)
			// What the client's JSON decoder reads, too.
			var decoded any
			if err := json.Unmarshal(body, &decoded); err != nil {
				t.Fatalf("answer is not JSON: %v: %s", err, body)
			}
			plain := fmt.Sprint(decoded)
			for _, k := range keys {
				if strings.Contains(plain, strings.TrimPrefix(k, "AIzaSy-")) {
					t.Errorf("key visible once decoded: %s", plain)
				}
				mixed := strings.NewReplacer("-", `\u002d`, "/", `\/`).Replace(k)
				for _, spelled := range []string{k, escapeAll(k), mixed, strings.ReplaceAll(k, "-", `\u002d`), strings.ReplaceAll(k, "/", `\/`)} {
					if strings.Contains(text, spelled) {
						t.Errorf("key visible as %q in %s", spelled, text)
					}
				}
			}
			if !strings.Contains(text, secret.KeyFingerprint(keys[0])) && !strings.Contains(text, secret.KeyFingerprint(keys[1])) {
				t.Errorf("the answer does not name the key as status does: %s", text)
			}
			for _, k := range keys {
				st := h.keyState(k)
				if st.State != "quarantined" || strings.Contains(st.QuarantineReason, "Escaped_Key") || strings.Contains(st.LastError, "Escaped_Key") {
					t.Errorf("key state %+v", st)
				}
			}
		})
	}
}
