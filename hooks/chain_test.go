package hooks

import (
	"context"
	"errors"
	"testing"
)

func TestMatchRoute(t *testing.T) {
	const gen = "/v1beta/models/gemini-2.5-flash:generateContent"
	tests := []struct {
		pattern, path string
		want          bool
	}{
		// A pattern selects a path and everything below it, by segment.
		{"/v1beta", gen, true},
		{"/v1", "/v1/chat/completions", true},
		{"/v1", "/v1", true},
		{"/v1", gen, false}, // "v1" is not "v1beta"
		{"/v1/", "/v1/chat/completions", true},
		{"/v1/chat/completions", "/v1/chat/completions", true},
		{"/v1/chat/completions", "/v1/chat", false},
		{"/", gen, true},
		// '*' stays within a segment.
		{"/v1beta/models/*:generateContent", gen, true},
		{"/v1beta/models/*:generateContent", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", false},
		{"/v1beta/models/*:*", gen, true},
		{"/v1beta/models/gemini-2.5-*", gen, true},
		{"/v1beta/models/gemini-2.0-*", gen, false},
		{"/v1beta/*", gen, true},
		{"/*/models", gen, true},
		{"/*", "/", false},
		{"/v1beta/models/*:generateContent", "/v1beta/tunedModels/x/y:generateContent", false},
		{"/v1b*", gen, true},
		{"/a*b*c", "/abc", true},
		{"/a*b*c", "/acb", false},
		{"/*ab*ab", "/ab", false},
		// "**" spans any number of segments.
		{"/**/models/*:embedContent", "/v1beta/models/text-embedding-004:embedContent", true},
		{"/**/models/*:embedContent", "/models/x:embedContent", true},
		{"/**/models/*:embedContent", gen, false},
		{"/v1beta/**", gen, true},
		{"/**", "/anything/at/all", true},
		// Not a path.
		{"/v1beta", "", false},
	}
	for _, tc := range tests {
		if got := MatchRoute(tc.pattern, tc.path); got != tc.want {
			t.Errorf("MatchRoute(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
	for _, bad := range []string{"v1beta", "", "/v1?key=x", "/v1//chat", "/v1beta/**flash", "/a#b"} {
		if ValidRoute(bad) == nil {
			t.Errorf("ValidRoute(%q) accepted it", bad)
		}
	}
	for _, good := range []string{"/", "/v1", "/v1/", "/**/x", "/v1beta/models/*:generateContent"} {
		if err := ValidRoute(good); err != nil {
			t.Errorf("ValidRoute(%q): %v", good, err)
		}
	}
}

func TestSelector(t *testing.T) {
	s := Selector{Models: []string{"gemini-*"}, Tokens: []string{"public-?", "ci"}}
	if !s.Matches("/any", "gemini-2.5-pro", "ci") || s.Matches("/any", "gpt-4o", "ci") || s.Matches("/any", "gemini-x", "internal") {
		t.Error("model or token filter mismatch")
	}
	// Models and tokens are path.Match globs, as in the rest of the config.
	if !s.Matches("/any", "gemini-x", "public-1") || s.Matches("/any", "gemini-x", "public-12") {
		t.Error("'?' in a token pattern is one character")
	}
	r := Selector{Routes: []string{"/v1beta", "/v1/chat/completions"}}
	if !r.Matches("/v1beta/models/m:generateContent", "m", "t") || !r.Matches("/v1/chat/completions", "m", "t") ||
		r.Matches("/v1/embeddings", "m", "t") || r.Matches("", "m", "t") {
		t.Error("route filter mismatch")
	}
	if !(Selector{}).Matches("", "", "") {
		t.Error("an empty selector must match everything")
	}
}

func TestChainOrderAndPolicies(t *testing.T) {
	rt := newTestRuntime(t)
	mk := func(name, config string, fail FailPolicy, sel Selector) Step {
		return Step{Hook: load(t, rt, Spec{Name: name, Config: []byte(config), Fail: fail, MaxInstances: 1}), Select: sel}
	}
	model := mk("model", `{"mode":"model","model":"gemini-2.5-pro"}`, FailClosed, Selector{})
	upper := mk("upper", `{"mode":"upper"}`, FailClosed, Selector{})
	headers := mk("headers", `{"mode":"headers"}`, FailClosed, Selector{})
	broken := mk("broken", `{"mode":"error"}`, FailOpen, Selector{})
	brokenClosed := mk("broken-closed", `{"mode":"error"}`, FailClosed, Selector{})
	reject := mk("reject", `{"mode":"reject"}`, FailClosed, Selector{Tokens: []string{"public-*"}})

	in := env("openai", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, Header{"x-drop", "1"}, Header{"x-keep", "2"})
	out, err := Chain{model, broken, upper, headers, reject}.Run(context.Background(), PhaseRequest, in)
	if err != nil {
		t.Fatal(err)
	}
	// upper saw model's body: both edits are in the final body.
	assertJSONEqual(t, out.Body, `{"model":"gemini-2.5-pro","messages":[{"role":"user","content":"HI"}]}`)
	if out.Action != ActionContinue || len(out.Skipped) != 1 || out.Skipped[0].Hook != "broken" {
		t.Errorf("outcome = %+v", out)
	}
	if len(out.SetHeaders) != 1 || out.SetHeaders[0] != (Header{"x-hook", "request"}) || len(out.RemoveHeaders) != 1 {
		t.Errorf("header edits = %+v / %+v", out.SetHeaders, out.RemoveHeaders)
	}
	if string(in.Body) != `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}` || len(in.Headers) != 2 {
		t.Error("Run modified its input")
	}

	// The selector picks the reject hook for public tokens only, and it
	// stops the chain.
	in.Token.Name = "public-web"
	out, err = Chain{reject, upper}.Run(context.Background(), PhaseRequest, in)
	if err != nil || out.Action != ActionReject || out.Status != 403 || out.By != "reject" {
		t.Fatalf("outcome = %+v, %v", out, err)
	}
	assertJSONEqual(t, out.Body, `{"error":{"message":"blocked by test","type":"permission_denied","param":null,"code":null}}`)

	// fail = "closed" stops the chain with the hook's error.
	_, err = Chain{upper, brokenClosed, headers}.Run(context.Background(), PhaseRequest, in)
	var ce *CallError
	if !errors.As(err, &ce) || ce.Hook != "broken-closed" || ce.Kind != KindGuestError {
		t.Fatalf("err = %v", err)
	}
}
