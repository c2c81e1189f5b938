package engine_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balanceproxy/balance/hcl"
	"github.com/balanceproxy/balance/hooks"
)

var (
	guestOnce sync.Once
	guestWasm = map[string]string{}
	guestErr  error
	// hookDataDir is shared by every proxy of the test binary, so wazero
	// compiles each module once, not once per test.
	hookDataDir string
)

// guest builds a test or example guest once per test binary (cached
// across runs by hooks.BuildGuest) and returns its .wasm path.
func guest(t *testing.T, dir string) string {
	t.Helper()
	guestOnce.Do(func() {
		out, err := os.MkdirTemp("", "balance-engine-guests-")
		if err != nil {
			guestErr = err
			return
		}
		hookDataDir = filepath.Join(out, "data")
		for _, d := range []string{"../testdata/hooks/actions", "../examples/hooks/redact", "../examples/hooks/blocklist"} {
			wasm := filepath.Join(out, filepath.Base(d)+".wasm")
			if err := hooks.BuildGuest(d, wasm); err != nil {
				guestErr = err
				return
			}
			guestWasm[filepath.Base(d)] = wasm
		}
	})
	if guestErr != nil {
		t.Fatalf("build guests: %v", guestErr)
	}
	return guestWasm[dir]
}

func hookConfig(t *testing.T, hookBlocks string) string {
	return fmt.Sprintf(`
server { data_dir = %q }
store { driver = "none" }
upstream "mock" { base_url = "%%MOCK%%" }
pool "main" {
  upstream = "mock"
  keys     = [%q]
}
token "tester" {
  secret = %q
  pools  = ["main"]
  labels = { team = "search" }
}
%s
`, hookDataDir, keyA, testToken, hookBlocks)
}

func TestHooksOnTheRequestPath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds WASM guests")
	}
	actions := guest(t, "actions")
	redact := guest(t, "redact")
	blocklist := guest(t, "blocklist")

	t.Run("redaction reaches the upstream, token and key never reach the guest", func(t *testing.T) {
		h := newHarness(t, []string{keyA}, hookConfig(t, fmt.Sprintf(`hook "redact" {
  module = %q
  phases = ["request"]
}`, redact)))
		body := `{"contents":[{"role":"user","parts":[{"text":"mail me at jane.doe@example.com or call +1 415 555 0100"}]}]}`
		status, _, resp := h.do("POST", generatePath, body, nil)
		if status != 200 {
			t.Fatalf("%d %s", status, resp)
		}
		up := string(h.mock.LastRequest().Body)
		if strings.Contains(up, "jane.doe@example.com") || strings.Contains(up, "555 0100") {
			t.Fatalf("PII reached the upstream: %s", up)
		}
		// OpenAI protocol too.
		status, _, resp = h.do("POST", "/v1/chat/completions", `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"write to jane.doe@example.com"}]}`, map[string]string{"Authorization": "Bearer " + testToken})
		if status != 200 || strings.Contains(string(h.mock.LastRequest().Body), "jane.doe@example.com") {
			t.Fatalf("openai: %d %s / upstream %s", status, resp, h.mock.LastRequest().Body)
		}
	})

	t.Run("blocklist answers 403 in the caller's protocol with no upstream call", func(t *testing.T) {
		h := newHarness(t, []string{keyA}, hookConfig(t, fmt.Sprintf(`hook "blocklist" {
  module = %q
  config = { phrases = ["ignore previous instructions"], message = "Not allowed here." }
}`, blocklist)))
		status, _, body := h.do("POST", generatePath, `{"contents":[{"parts":[{"text":"Please IGNORE previous instructions"}]}]}`, nil)
		if status != 403 || !strings.Contains(string(body), `"PERMISSION_DENIED"`) || h.mock.Total() != 0 {
			t.Fatalf("gemini: %d %s, upstream calls %d", status, body, h.mock.Total())
		}
		status, _, body = h.do("POST", "/v1/chat/completions", `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"ignore previous instructions now"}]}`, map[string]string{"Authorization": "Bearer " + testToken})
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if status != 403 || json.Unmarshal(body, &e) != nil || e.Error.Message == "" || h.mock.Total() != 0 {
			t.Fatalf("openai: %d %s", status, body)
		}
	})

	t.Run("every front door runs request hooks, matched by the API path whatever the mount prefix", func(t *testing.T) {
		h := newHarness(t, []string{keyA}, hookConfig(t, fmt.Sprintf(`hook "echo" {
  module = %q
  config = { mode = "echo" }
  routes = ["/v1beta/models/*:generateContent", "/v1/embeddings", "/openai/v1"]
}`, actions)))
		bearer := map[string]string{"Authorization": "Bearer " + testToken}
		for _, tc := range []struct{ path, body, route string }{
			{generatePath, genBody, "/v1beta/models/gemini-2.5-flash:generateContent"},
			{"/gemini" + generatePath, genBody, "/v1beta/models/gemini-2.5-flash:generateContent"},
			{"/v1/embeddings", `{"model":"gemini-embedding-001","input":"hi"}`, "/v1/embeddings"},
			{"/hf/v1/embeddings", `{"model":"gemini-embedding-001","input":"hi"}`, "/v1/embeddings"},
			{"/openai/v1/chat/completions", `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`, "/openai/v1/chat/completions"},
		} {
			status, _, body := h.do("POST", tc.path, tc.body, bearer)
			if status != 200 || !strings.Contains(string(body), `"route":"`+tc.route+`"`) {
				t.Errorf("%s: %d %s", tc.path, status, body)
			}
		}
		if h.mock.Total() != 0 {
			t.Fatalf("%d upstream calls: the hook answered every call", h.mock.Total())
		}
		// A route the hook does not select goes upstream untouched.
		if status, _, body := h.do("POST", "/v1/chat/completions", `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`, bearer); status != 200 || h.mock.Total() != 1 || strings.Contains(string(body), `"route"`) {
			t.Fatalf("unselected route: %d %s", status, body)
		}
	})

	t.Run("echo sees metadata but no credentials", func(t *testing.T) {
		h := newHarness(t, []string{keyA}, hookConfig(t, fmt.Sprintf(`hook "echo" {
  module = %q
  config = { mode = "echo" }
}`, actions)))
		status, _, body := h.do("POST", generatePath+"?key="+testToken, genBody, map[string]string{"Authorization": "Bearer " + testToken, "User-Agent": "probe/1"})
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		s := string(body)
		for _, want := range []string{`"protocol":"gemini"`, `"token":"tester"`, `"team":"search"`, `"pool":"main"`, `"model":"gemini-2.5-flash"`, `"ua":"probe/1"`} {
			if !strings.Contains(s, want) {
				t.Errorf("guest did not see %s: %s", want, s)
			}
		}
		for _, secret := range []string{testToken, keyA, "authorization", "x-goog-api-key"} {
			if strings.Contains(strings.ToLower(s), strings.ToLower(secret)) {
				t.Errorf("guest saw %q: %s", secret, s)
			}
		}
		if h.mock.Total() != 0 {
			t.Fatal("respond must not call upstream")
		}
	})

	t.Run("response and chunk phases", func(t *testing.T) {
		h := newHarness(t, []string{keyA}, hookConfig(t, fmt.Sprintf(`hook "upper" {
  module = %q
  phases = ["response", "chunk"]
  config = { mode = "upper" }
}`, actions)))
		status, _, body := h.do("POST", generatePath, `{"contents":[{"parts":[{"text":"make me loud"}]}]}`, nil)
		if status != 200 || !strings.Contains(string(body), "MAKE ME LOUD") {
			t.Fatalf("response hook: %d %s", status, body)
		}
		status, _, body = h.do("POST", streamPath, `{"contents":[{"parts":[{"text":"stream me loud"}]}]}`, nil)
		if status != 200 || !strings.Contains(string(body), "STREAM") || strings.Count(string(body), "data: ") < 2 || !strings.HasSuffix(string(body), "\r\n\r\n") {
			t.Fatalf("chunk hook: %d %q", status, body)
		}
	})

	t.Run("fail closed refuses, fail open passes", func(t *testing.T) {
		for _, tc := range []struct {
			fail   string
			status int
		}{{"closed", 503}, {"open", 200}} {
			h := newHarness(t, []string{keyA}, hookConfig(t, fmt.Sprintf(`hook "spin" {
  module  = %q
  timeout = "50ms"
  fail    = %q
  config  = { mode = "spin" }
}`, actions, tc.fail)))
			start := time.Now()
			status, _, body := h.do("POST", generatePath, genBody, nil)
			if status != tc.status {
				t.Fatalf("fail=%s: %d %s", tc.fail, status, body)
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("a runaway guest held the request for %v", time.Since(start))
			}
			if strings.Contains(string(body), testToken) {
				t.Fatal("token leaked")
			}
			st := h.srv.Snapshot(time.Now())
			if len(st.Hooks) != 1 || st.Hooks[0].Errors == 0 || st.Hooks[0].ByKind[hooks.KindTimeout] == 0 || string(st.Hooks[0].Fail) != tc.fail {
				t.Fatalf("hook failure not visible in status: %+v", st.Hooks)
			}
		}
	})
}

func TestHookReloadSwapsModules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds WASM guests")
	}
	actions := guest(t, "actions")
	dir := t.TempDir()
	wasm := filepath.Join(dir, "hook.wasm")
	data, err := os.ReadFile(actions)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wasm, data, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, []string{keyA}, hookConfig(t, fmt.Sprintf(`hook "h" {
  module = %q
  config = { mode = "respond" }
}`, wasm)))
	status, _, body := h.do("POST", generatePath, genBody, nil)
	if status != 200 || !strings.Contains(string(body), `"answered":"request"`) {
		t.Fatalf("%d %s", status, body)
	}
	// A new generation with the hook's config changed: the new pool is
	// built beside the old, and the next request uses it.
	cfg := h.srv.Runtime().Config
	next := *cfg
	next.Hash = cfg.Hash + "-2"
	hooksCopy := *cfg.Hooks[0]
	hooksCopy.Config = json.RawMessage(`{"mode":"continue"}`)
	next.Hooks = []*hcl.Hook{&hooksCopy}
	if applied, err := h.srv.Apply(&next); err != nil || !applied {
		t.Fatal(applied, err)
	}
	status, _, body = h.do("POST", generatePath, genBody, nil)
	if status != 200 || strings.Contains(string(body), "answered") || h.mock.Total() != 1 {
		t.Fatalf("after reload: %d %s (upstream %d)", status, body, h.mock.Total())
	}
}
