package engine_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/internal/mockgemini"
	"github.com/balanceproxy/balance/internal/secret"
)

const (
	keyA = "AIzaSyFaultKeyAAAAAAAAAAAAAAAAAAAAAAAA1"
	keyB = "AIzaSyFaultKeyBBBBBBBBBBBBBBBBBBBBBBBB2"
)

const generatePath = "/v1beta/models/gemini-2.5-flash:generateContent"
const streamPath = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"

// Each fault class: what the client sees, how many upstream calls were
// made, and what happened to the key that met the fault.
func TestFaultClasses(t *testing.T) {
	tests := []struct {
		name       string
		fault      mockgemini.Fault
		wantStatus int
		wantCalls  int64 // upstream calls in total
		wantState  keypool.State
		keyBlamed  bool
	}{
		{"429 cools the key for that model and retries", mockgemini.Fault{Kind: mockgemini.RateLimit, RetryDelay: 20 * time.Second}, 200, 2, keypool.Cooling, true},
		{"invalid key is quarantined and retried", mockgemini.Fault{Kind: mockgemini.InvalidKey}, 200, 2, keypool.Quarantined, true},
		{"403 is quarantined and retried", mockgemini.Fault{Kind: mockgemini.PermissionDenied}, 200, 2, keypool.Quarantined, true},
		{"503 retries elsewhere without blame", mockgemini.Fault{Kind: mockgemini.Unavailable}, 200, 2, keypool.Healthy, false},
		{"500 retries elsewhere without blame", mockgemini.Fault{Kind: mockgemini.Internal}, 200, 2, keypool.Healthy, false},
		{"client 400 passes back, no retry, no blame", mockgemini.Fault{Kind: mockgemini.BadRequest}, 400, 1, keypool.Healthy, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, []string{keyA, keyB}, "")
			h.mock.SetFault(keyA, tc.fault)
			status, _, body := h.do("POST", generatePath, genBody, nil)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tc.wantStatus, body)
			}
			if got := h.mock.Total(); got != tc.wantCalls {
				t.Fatalf("upstream calls %d, want %d", got, tc.wantCalls)
			}
			st := h.keyState(keyA)
			if st.State != tc.wantState {
				t.Fatalf("key state %s, want %s (%+v)", st.State, tc.wantState, st)
			}
			if tc.wantState == keypool.Cooling {
				until, ok := st.CoolingUntil["gemini-2.5-flash"]
				if !ok || len(st.CoolingUntil) != 1 {
					t.Fatalf("cooldown must be for the model only: %v", st.CoolingUntil)
				}
				if d := time.Until(until); d < 15*time.Second || d > 25*time.Second {
					t.Fatalf("cooldown %v does not honour RetryInfo 20s", d)
				}
			}
			if tc.keyBlamed != (st.LastError != "") && tc.wantState != keypool.Healthy {
				t.Fatalf("last error %q", st.LastError)
			}
			if strings.Contains(string(body), keyA) || strings.Contains(string(body), keyB) {
				t.Fatal("a key leaked into the response")
			}
		})
	}
}

func TestCoolingKeyIsSkippedWithoutUpstreamCall(t *testing.T) {
	h := newHarness(t, []string{keyA, keyB}, "")
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.RateLimit, Model: "gemini-2.5-flash"})
	if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
		t.Fatal(status)
	}
	before := h.mock.Requests(keyA)
	for range 6 {
		if status, _, b := h.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatalf("status %d %s", status, b)
		}
	}
	if h.mock.Requests(keyA) != before {
		t.Fatal("a cooling key was sent requests for the model it is cooling for")
	}
	// The same key still serves another model.
	if status, _, _ := h.do("POST", "/v1beta/models/gemini-2.5-pro:generateContent", genBody, nil); status != 200 {
		t.Fatal(status)
	}
	h.do("POST", "/v1beta/models/gemini-2.5-pro:generateContent", genBody, nil)
	if h.mock.Requests(keyA) == before {
		t.Fatal("a key cooling for one model must serve other models")
	}
}

func TestAllKeysRateLimitedAnswers429WithRetryAfter(t *testing.T) {
	h := newHarness(t, []string{keyA, keyB}, "")
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.RateLimit, RetryDelay: 40 * time.Second})
	h.mock.SetFault(keyB, mockgemini.Fault{Kind: mockgemini.RateLimit, RetryDelay: 10 * time.Second})
	status, hdr, body := h.do("POST", generatePath, genBody, nil)
	if status != 429 {
		t.Fatalf("status %d", status)
	}
	if ra := hdr.Get("Retry-After"); ra == "" {
		t.Fatal("429 without Retry-After")
	}
	if strings.Contains(string(body), keyA) || strings.Contains(string(body), keyB) {
		t.Fatal("key leaked")
	}
	// Now every key is cooling: the next request is answered at once,
	// with no upstream call, and says when a key frees up.
	calls := h.mock.Total()
	status, hdr, body = h.do("POST", generatePath, genBody, nil)
	if status != 429 || h.mock.Total() != calls {
		t.Fatalf("status %d, upstream calls %d → %d", status, calls, h.mock.Total())
	}
	var e struct {
		Error struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Status != "RESOURCE_EXHAUSTED" || !strings.Contains(e.Error.Message, "frees up") {
		t.Fatalf("body %s", body)
	}
	if ra := hdr.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
}

func TestAllKeysQuarantinedAnswers503(t *testing.T) {
	h := newHarness(t, []string{keyA, keyB}, "")
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.InvalidKey})
	h.mock.SetFault(keyB, mockgemini.Fault{Kind: mockgemini.PermissionDenied})
	status, _, body := h.do("POST", generatePath, genBody, nil)
	if status != 403 && status != 400 {
		t.Fatalf("status %d: the last upstream error is passed back, got %s", status, body)
	}
	if strings.Contains(string(body), keyB) || !strings.Contains(string(body), "AIza…") {
		t.Fatalf("leaked-key message must be redacted to a fingerprint: %s", body)
	}
	calls := h.mock.Total()
	status, hdr, _ := h.do("POST", generatePath, genBody, nil)
	if status != 503 || h.mock.Total() != calls || hdr.Get("Retry-After") == "" {
		t.Fatalf("status %d, calls %d→%d", status, calls, h.mock.Total())
	}
}

func TestQuarantinedKeyComesBackAfterProbe(t *testing.T) {
	h := newHarness(t, []string{keyA, keyB}, strings.ReplaceAll(`
upstream "mock" { base_url = "%MOCK%" }
pool "main" {
  upstream = "mock"
  keys     = ["KA", "KB"]
  probe { interval = "1s" }
}
token "tester" {
  secret = "sk-test-client-token"
  pools  = ["main"]
}`, "KA\", \"KB", keyA+`", "`+keyB))
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.InvalidKey, Times: 1})
	if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
		t.Fatal(status)
	}
	if h.keyState(keyA).State != keypool.Quarantined {
		t.Fatal("not quarantined")
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.keyState(keyA).State != keypool.Healthy {
		if time.Now().After(deadline) {
			t.Fatalf("key not restored by the probe: %+v", h.keyState(keyA))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(h.mock.LastRequest().Path, "/models/gemini-2.5-flash") || h.mock.LastRequest().Method != "GET" {
		t.Fatalf("probe should be a cheap models.get, was %s %s", h.mock.LastRequest().Method, h.mock.LastRequest().Path)
	}
}

func TestStreamRetriesBeforeFirstByteOnly(t *testing.T) {
	t.Run("429 before the stream starts moves to another key", func(t *testing.T) {
		h := newHarness(t, []string{keyA, keyB}, "")
		h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.RateLimit})
		status, hdr, body := h.do("POST", streamPath, genBody, nil)
		if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("status %d ct %q", status, hdr.Get("Content-Type"))
		}
		if strings.Count(string(body), "data: ") < 2 || !strings.HasSuffix(string(body), "\r\n\r\n") {
			t.Fatalf("stream body %q", body)
		}
	})
	t.Run("in-band error as the first event moves to another key", func(t *testing.T) {
		h := newHarness(t, []string{keyA, keyB}, "")
		h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.StreamError, AfterChunks: 0})
		status, _, body := h.do("POST", streamPath, genBody, nil)
		if status != 200 || strings.Contains(string(body), `"error"`) {
			t.Fatalf("status %d body %q", status, body)
		}
		if h.mock.Total() != 2 {
			t.Fatalf("upstream calls %d, want 2", h.mock.Total())
		}
	})
	t.Run("a cut after output began ends with an error event, never a second key", func(t *testing.T) {
		h := newHarness(t, []string{keyA, keyB}, "")
		h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.StreamCut, AfterChunks: 1})
		h.mock.SetFault(keyB, mockgemini.Fault{Kind: mockgemini.StreamCut, AfterChunks: 1})
		status, _, body := h.do("POST", streamPath, genBody, nil)
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		events := strings.Split(strings.TrimSpace(string(body)), "\r\n\r\n")
		lastEvent := events[len(events)-1]
		if !strings.HasPrefix(lastEvent, "data: {\"error\"") {
			t.Fatalf("stream must end with an error event, got %q", body)
		}
		if h.mock.Total() != 1 {
			t.Fatalf("a started stream was retried: %d upstream calls", h.mock.Total())
		}
		if st := h.keyState(keyA); st.State != keypool.Healthy && st.State != "" {
			if st2 := h.keyState(keyB); st2.State != keypool.Healthy {
				t.Fatalf("a cut stream must not quarantine keys: %+v %+v", st, st2)
			}
		}
	})
}

func TestStatusEndpoint(t *testing.T) {
	h := newHarness(t, []string{keyA, keyB}, "")
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.InvalidKey})
	h.do("POST", generatePath, genBody, nil)
	status, _, _ := h.do("GET", "/status", "", map[string]string{"Authorization": "Bearer wrong-status-token"})
	if status != 401 {
		t.Fatalf("status without the token: %d", status)
	}
	status, _, body := h.do("GET", "/status", "", map[string]string{"Authorization": "Bearer status-secret-123"})
	if status != 200 {
		t.Fatalf("status %d %s", status, body)
	}
	for _, secret := range []string{keyA, keyB, testToken, "status-secret-123"} {
		if strings.Contains(string(body), secret) {
			t.Fatalf("status leaks a secret: %s", secret)
		}
	}
	var v struct {
		Generation int `json:"generation"`
		Pools      []struct {
			Name        string `json:"name"`
			Quarantined int    `json:"quarantined"`
			Keys        []struct {
				Fingerprint string `json:"fingerprint"`
				State       string `json:"state"`
				Reason      string `json:"quarantine_reason"`
			} `json:"keys"`
		} `json:"pools"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if v.Generation != 1 || len(v.Pools) != 1 || v.Pools[0].Quarantined != 1 {
		t.Fatalf("status %s", body)
	}
	k := v.Pools[0].Keys[0]
	if k.Fingerprint != secret.KeyFingerprint(keyA) || k.State != "quarantined" || !strings.Contains(k.Reason, "API_KEY_INVALID") {
		t.Fatalf("key status %+v", k)
	}
}

func TestBlameListDecidesWhatCountsAgainstAKey(t *testing.T) {
	cfg := strings.NewReplacer("KA", keyA, "KB", keyB).Replace(`
upstream "mock" { base_url = "%MOCK%" }
pool "main" {
  upstream = "mock"
  keys     = ["KA", "KB"]
  blame    = ["rate_limited", "server_error"]
}
token "tester" {
  secret = "sk-test-client-token"
  pools  = ["main"]
}`)
	t.Run("a listed 503 cools the key", func(t *testing.T) {
		h := newHarness(t, []string{keyA, keyB}, cfg)
		h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.Unavailable})
		if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatal(status)
		}
		if st := h.keyState(keyA); st.State != keypool.Cooling {
			t.Fatalf("state %s", st.State)
		}
	})
	t.Run("an unlisted invalid key is not quarantined", func(t *testing.T) {
		h := newHarness(t, []string{keyA, keyB}, cfg)
		h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.InvalidKey})
		if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatal(status)
		}
		if st := h.keyState(keyA); st.State != keypool.Healthy || st.LastError == "" {
			t.Fatalf("state %+v", st)
		}
	})
}

func TestKeyFaultsDoNotSpendTheRetryBudget(t *testing.T) {
	keys := []string{}
	for i := range 6 {
		keys = append(keys, fmt.Sprintf("AIzaSyBudgetKey%024d", i))
	}
	cfg := fmt.Sprintf(`
upstream "mock" { base_url = "%%MOCK%%" }
pool "main" {
  upstream    = "mock"
  keys        = ["%s"]
  max_retries = 1
}
token "tester" {
  secret = "sk-test-client-token"
  pools  = ["main"]
}`, strings.Join(keys, `", "`))
	h := newHarness(t, keys, cfg)
	for _, k := range keys[:5] {
		h.mock.SetFault(k, mockgemini.Fault{Kind: mockgemini.RateLimit})
	}
	// Five rate-limited keys then a healthy one: max_retries = 1 must not
	// stop the search, because 429s are the keys' own fault.
	status, _, body := h.do("POST", generatePath, genBody, nil)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	// Server errors do spend it: two 503s and the request gives up.
	h2 := newHarness(t, keys, cfg)
	for _, k := range keys {
		h2.mock.SetFault(k, mockgemini.Fault{Kind: mockgemini.Unavailable})
	}
	if status, _, _ := h2.do("POST", generatePath, genBody, nil); status != 503 || h2.mock.Total() != 2 {
		t.Fatalf("503s: status %d after %d calls, want 503 after 2", status, h2.mock.Total())
	}
}
