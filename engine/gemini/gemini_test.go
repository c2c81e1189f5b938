package gemini

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/balanceproxy/balance/internal/verdict"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		class  verdict.Class
		retry  time.Duration
		daily  bool
		reason string
	}{
		{"ok", 200, `{}`, verdict.OK, 0, false, ""},
		{"429 with RetryInfo", 429, `{"error":{"code":429,"message":"You exceeded your current quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"29.723877525s"}]}}`, verdict.RateLimited, 29723877525 * time.Nanosecond, false, "RESOURCE_EXHAUSTED"},
		{"429 per day", 429, `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}}`, verdict.RateLimited, 0, true, "RESOURCE_EXHAUSTED"},
		{"429 delay only in the message", 429, `{"error":{"code":429,"message":"Quota exceeded. Please retry in 47.884324799s.","status":"RESOURCE_EXHAUSTED"}}`, verdict.RateLimited, 47884324799 * time.Nanosecond, false, "RESOURCE_EXHAUSTED"},
		{"invalid key", 400, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}`, verdict.InvalidKey, 0, false, "API_KEY_INVALID"},
		{"client 400", 400, `{"error":{"code":400,"message":"Invalid JSON payload received.","status":"INVALID_ARGUMENT"}}`, verdict.ClientError, 0, false, "INVALID_ARGUMENT"},
		{"location 400 is the client's", 400, `{"error":{"code":400,"message":"User location is not supported for the API use.","status":"FAILED_PRECONDITION"}}`, verdict.ClientError, 0, false, "FAILED_PRECONDITION"},
		{"403", 403, `{"error":{"code":403,"message":"Your API key was reported as leaked.","status":"PERMISSION_DENIED"}}`, verdict.PermissionDenied, 0, false, "PERMISSION_DENIED"},
		{"404", 404, `{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}`, verdict.ClientError, 0, false, "NOT_FOUND"},
		{"503", 503, `{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}`, verdict.ServerError, 0, false, "UNAVAILABLE"},
		{"500 non-JSON", 500, `<html>oops</html>`, verdict.ServerError, 0, false, "500"},
		{"compat array", 429, `[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}]`, verdict.RateLimited, 0, false, "RESOURCE_EXHAUSTED"},
		{"empty body", 502, ``, verdict.ServerError, 0, false, "502"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Classify(tc.status, []byte(tc.body))
			if v.Class != tc.class || v.RetryAfter != tc.retry || v.Daily != tc.daily || v.Reason != tc.reason {
				t.Fatalf("got %+v (class %s)", v, v.Class)
			}
		})
	}
}

func TestErrorJSON(t *testing.T) {
	var e struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
			Details []struct {
				Type       string `json:"@type"`
				RetryDelay string `json:"retryDelay"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(ErrorJSON(429, `all "keys" cooling`, 1500*time.Millisecond), &e); err != nil {
		t.Fatal(err)
	}
	if e.Error.Code != 429 || e.Error.Status != "RESOURCE_EXHAUSTED" || e.Error.Message != `all "keys" cooling` || len(e.Error.Details) != 1 || e.Error.Details[0].RetryDelay != "1.5s" {
		t.Fatalf("%+v", e)
	}
	// Our own errors classify like Google's.
	if v := Classify(429, ErrorJSON(429, "x", 3*time.Second)); v.RetryAfter != 3*time.Second {
		t.Fatalf("round trip lost the delay: %+v", v)
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want Call
	}{
		{"/v1beta/models", true, Call{Version: "v1beta"}},
		{"/v1beta/models/gemini-2.5-flash", true, Call{Version: "v1beta", Model: "gemini-2.5-flash"}},
		{"/v1beta/models/gemini-2.5-flash:streamGenerateContent", true, Call{Version: "v1beta", Model: "gemini-2.5-flash", Method: "streamGenerateContent"}},
		{"/v1/models/text-embedding-004:batchEmbedContents", true, Call{Version: "v1", Model: "text-embedding-004", Method: "batchEmbedContents"}},
		{"/v1beta/tunedModels/my-model:generateContent", true, Call{Version: "v1beta", Model: "my-model", Method: "generateContent", Tuned: true}},
		{"/v1beta/models/imagen-4.0-generate-001:predict", true, Call{Version: "v1beta", Model: "imagen-4.0-generate-001", Method: "predict"}},
		{"/v1beta/models/x:explode", false, Call{}},
		{"/v1beta/models/", false, Call{}},
		{"/v1beta/models/a/b:generateContent", false, Call{}},
		{"/v2/models", false, Call{}},
		{"/v1beta/files", false, Call{}},
		{"", false, Call{}},
		{"/v1beta/models/a b:generateContent", false, Call{}},
		{"/v1beta/models/a\r\nX-Evil: 1:generateContent", false, Call{}},
		{"/v1beta/models/..:generateContent", false, Call{}},
		{"/v1beta/models/a?b:generateContent", false, Call{}},
	}
	for _, tc := range tests {
		got, ok := ParsePath(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParsePath(%q) = %+v %v, want %+v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if c, _ := ParsePath("/v1beta/models/m:streamGenerateContent"); !c.Streams() {
		t.Error("streamGenerateContent streams")
	}
}

func FuzzClassify(f *testing.F) {
	f.Add(429, []byte(`{"error":{"details":[{"retryDelay":"7s"}]}}`))
	f.Add(400, []byte(`[{"error":{"message":"API key not valid"}}]`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		v := Classify(status, body)
		ok := status >= 200 && status < 300
		if ok != (v.Class == verdict.OK) {
			t.Fatalf("status %d classified %s", status, v.Class)
		}
		if v.Reason == "" && !ok {
			t.Fatalf("status %d classified without a reason", status)
		}
	})
}

func FuzzParsePath(f *testing.F) {
	f.Add("/v1beta/models/gemini-2.5-flash:generateContent")
	f.Fuzz(func(t *testing.T, p string) {
		c, ok := ParsePath(p)
		if ok && c.Method != "" && c.Model == "" {
			t.Fatalf("method without model from %q", p)
		}
	})
}
