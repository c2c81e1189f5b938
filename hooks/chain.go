package hooks

import (
	"context"
	"strings"
)

// Selector is a hook block's routes/models/tokens filters. An empty list
// matches everything; patterns use '*' as "any run of characters"
// ("gemini-2.5-*", "/v1beta/*", "public-*").
type Selector struct {
	Routes, Models, Tokens []string
}

// Matches reports whether a call on route for model by token is selected.
func (s Selector) Matches(route, model, token string) bool {
	return matchAny(s.Routes, route) && matchAny(s.Models, model) && matchAny(s.Tokens, token)
}

func matchAny(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if Glob(p, s) {
			return true
		}
	}
	return false
}

// Glob matches s against pattern, where '*' matches any run of characters
// (including none and including '/') and everything else is literal.
func Glob(pattern, s string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == s
	}
	if !strings.HasPrefix(s, pattern[:star]) {
		return false
	}
	s = s[star:]
	parts := strings.Split(pattern[star+1:], "*")
	for i, part := range parts {
		if i == len(parts)-1 {
			return strings.HasSuffix(s, part)
		}
		j := strings.Index(s, part)
		if j < 0 {
			return false
		}
		s = s[j+len(part):]
	}
	return true
}

// Step is one hook of a Chain with its filters.
type Step struct {
	Hook   *Hook
	Select Selector
}

// Chain is the hooks of a config in declared order.
type Chain []Step

// Outcome is what a Chain run decided.
type Outcome struct {
	// Result merges the hooks' results: the last body, model and pool
	// set win, header edits accumulate in order. Action is continue
	// unless a hook responded or rejected, which stops the chain.
	Result
	// By names the hook that responded or rejected, if any.
	By string
	// Skipped lists hooks that failed with fail = "open" and were skipped.
	Skipped []*CallError
}

// Run applies the chain's hooks that handle phase and match in, in order.
// Each hook sees the previous hooks' edits: body, headers, model and pool
// are updated in a copy of in (in itself is not modified). A failing hook
// with fail = "open" is skipped and reported in Outcome.Skipped; one with
// fail = "closed" stops the chain with its *CallError, and the engine
// refuses the request.
func (c Chain) Run(ctx context.Context, phase Phase, in *Envelope) (Outcome, error) {
	out := Outcome{Result: Result{Action: ActionContinue}}
	cur := *in
	copied := false
	for _, st := range c {
		h := st.Hook
		if !h.Handles(phase) || !st.Select.Matches(in.Route, cur.Model, in.Token.Name) {
			continue
		}
		res, err := h.Call(ctx, phase, &cur)
		if err != nil {
			ce, _ := err.(*CallError)
			if h.Fail() == FailOpen && ce != nil {
				out.Skipped = append(out.Skipped, ce)
				continue
			}
			return out, err
		}
		if !res.Changed() {
			continue
		}
		if !copied {
			cur.Headers = append([]Header(nil), cur.Headers...)
			copied = true
		}
		if res.Body != nil {
			cur.Body = res.Body
			out.Body = res.Body
		}
		if res.Model != "" {
			cur.Model = res.Model
			out.Model = res.Model
		}
		if res.Pool != "" {
			cur.Pool = res.Pool
			out.Pool = res.Pool
		}
		for _, name := range res.RemoveHeaders {
			cur.Headers = removeHeader(cur.Headers, name)
			out.SetHeaders = removeHeader(out.SetHeaders, name)
			out.RemoveHeaders = append(out.RemoveHeaders, name)
		}
		for _, hd := range res.SetHeaders {
			cur.Headers = append(removeHeader(cur.Headers, hd.Name), hd)
			out.SetHeaders = append(removeHeader(out.SetHeaders, hd.Name), hd)
		}
		if res.Action == ActionRespond || res.Action == ActionReject {
			out.Action, out.Status, out.By = res.Action, res.Status, h.Name()
			out.Body = res.Body
			return out, nil
		}
	}
	return out, nil
}

func removeHeader(hs []Header, name string) []Header {
	out := hs[:0]
	for _, h := range hs {
		if !strings.EqualFold(h.Name, name) {
			out = append(out, h)
		}
	}
	return out
}
