package hooks

import (
	"context"
	"errors"
	"testing"
)

func TestGlobAndSelector(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"gemini-2.5-*", "gemini-2.5-flash", true},
		{"gemini-2.5-*", "gemini-1.5-pro", false},
		{"/v1beta/*", "/v1beta/models/x:generateContent", true},
		{"*flash*", "gemini-2.5-flash-lite", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"*", "", true},
	}
	for _, tc := range tests {
		if got := Glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
	s := Selector{Models: []string{"gemini-*"}, Tokens: []string{"public-*", "ci"}}
	if !s.Matches("/any", "gemini-2.5-pro", "ci") || s.Matches("/any", "gpt-4o", "ci") || s.Matches("/any", "gemini-x", "internal") {
		t.Error("selector mismatch")
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
