package hooks

import (
	"context"
	"fmt"
	"path"
	"strings"
)

// Selector is a hook block's routes/models/tokens filters. An empty list
// matches everything.
//
// Routes are route patterns (MatchRoute): "/v1" selects /v1/chat/completions
// but not /v1beta/…. Models and tokens are path.Match globs, as everywhere
// else in balance.hcl: "gemini-2.5-*", "public-?", "[ab]-team".
type Selector struct {
	Routes, Models, Tokens []string
}

// Matches reports whether a call on route for model by token is selected.
func (s Selector) Matches(route, model, token string) bool {
	return matchAny(s.Routes, route, MatchRoute) && matchAny(s.Models, model, globMatch) &&
		matchAny(s.Tokens, token, globMatch)
}

func matchAny(patterns []string, s string, match func(pattern, s string) bool) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if match(p, s) {
			return true
		}
	}
	return false
}

func globMatch(pattern, s string) bool {
	ok, _ := path.Match(pattern, s)
	return ok
}

// MatchRoute reports whether the request path p is selected by a route
// pattern. Patterns and paths are compared segment by segment (between
// '/'s), and a pattern selects a path and everything below it:
//
//   - "/v1" selects /v1 and /v1/chat/completions, not /v1beta/models/…;
//     "/" selects every path; a trailing '/' changes nothing;
//   - '*' matches any run of characters within one segment:
//     "/v1beta/models/*:streamGenerateContent" selects streaming calls of
//     every model, "/v1beta/models/gemini-2.5-*" every call of those models;
//   - a segment "**" matches any number of segments, none included:
//     "/**/models/*:embedContent".
//
// Everything else is literal. ValidRoute checks a pattern's syntax.
func MatchRoute(pattern, p string) bool {
	return matchSegments(segments(pattern), segments(p))
}

// ValidRoute reports why pattern is not a usable route pattern, or nil.
func ValidRoute(pattern string) error {
	if !strings.HasPrefix(pattern, "/") {
		return fmt.Errorf("%q must start with '/': it is matched against the request path, e.g. \"/v1beta\"", pattern)
	}
	if strings.ContainsAny(pattern, "?#") {
		return fmt.Errorf("%q contains '?' or '#': routes match the path only, not the query", pattern)
	}
	for _, seg := range segments(pattern) {
		if seg == "" {
			return fmt.Errorf("%q has an empty segment (\"//\")", pattern)
		}
		if seg != "**" && strings.Contains(seg, "**") {
			return fmt.Errorf("%q: \"**\" must be a whole segment (\"/a/**/b\"); within a segment use '*'", pattern)
		}
	}
	return nil
}

// segments splits a path after its leading '/' and without a trailing
// one: "/v1/chat/" gives ["v1" "chat"], "/" and "" give none.
func segments(p string) []string {
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// matchSegments matches pattern segments against the leading segments of
// a path; a pattern that runs out first selects everything below.
func matchSegments(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			pat = pat[1:]
			if len(pat) == 0 {
				return true
			}
			for i := range len(segs) + 1 {
				if matchSegments(pat, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 || !matchSegment(pat[0], segs[0]) {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return true
}

// matchSegment matches one segment, where '*' is any run of characters
// and everything else is literal.
func matchSegment(pattern, s string) bool {
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
