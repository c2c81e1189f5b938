package hcl

import (
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Model rules compose: every rule whose name matches a model contributes,
// and each attribute comes from the most specific matching rule that sets
// it. Specificity, most specific first:
//
//  1. a rule with no glob characters (an exact name);
//  2. globs with more literal characters (everything except *, ? and
//     [...] classes) before globs with fewer;
//  3. among those, globs with fewer * before globs with more;
//  4. among those, the rule declared first.
//
// So `model "*" { safety_settings = ... }` applies to every model whose
// more specific rules leave safety_settings alone.
//
// A derived model (a name with virtual suffixes, such as
// gemini-2.5-flash-search) is matched under each name its suffixes peel
// off, down to the base model: rules that match the asked name but not
// the base (`model "gemini-2.5-flash-search"`, `model "*-search"`) come
// before every rule of the base, the derived name being the more specific
// one. Each rule counts once, at the name nearest the base it matches, so
// `model "*"` stays the least specific rule whatever was asked.

// ruleAttributes copies each attribute of a model rule, by its HCL name,
// for merging. Every attribute of rawModel must be listed here (a test
// checks it), or it would silently never merge.
var ruleAttributes = []struct {
	name string
	take func(dst, src *ModelRule)
}{
	{"target", func(d, s *ModelRule) { d.Target = s.Target }},
	{"pool", func(d, s *ModelRule) { d.Pool = s.Pool }},
	{"search", func(d, s *ModelRule) { d.Search = s.Search }},
	{"image", func(d, s *ModelRule) { d.Image = s.Image }},
	{"thinking_budget", func(d, s *ModelRule) { d.ThinkingBudget = s.ThinkingBudget }},
	{"include_thoughts", func(d, s *ModelRule) { d.IncludeThoughts = s.IncludeThoughts }},
	{"safety_settings", func(d, s *ModelRule) { d.SafetySettings = s.SafetySettings }},
	{"generation_config", func(d, s *ModelRule) { d.GenerationConfig = s.GenerationConfig }},
	{"hidden", func(d, s *ModelRule) { d.Hidden = s.Hidden }},
	{"listed", func(d, s *ModelRule) { d.Listed = s.Listed }},
	{"code_execution", func(d, s *ModelRule) { d.CodeExecution = s.CodeExecution }},
	{"url_context", func(d, s *ModelRule) { d.URLContext = s.URLContext }},
	{"variants", func(d, s *ModelRule) { d.Variants = s.Variants }},
	{"stream_pacing", func(d, s *ModelRule) { d.StreamPacing = s.StreamPacing }},
	{"imagen_chat", func(d, s *ModelRule) { d.ImagenChat = s.ImagenChat }},
}

// maxCachedResolutions bounds the per-name cache: model names come from
// clients, so a flood of made-up names must not grow memory. Names past
// the bound are resolved on every request (still correct, a little slower).
const maxCachedResolutions = 4096

// ModelRules answers which rule applies to a model name. It is compiled
// once per config generation; resolutions of exact rule names are
// computed then, and those of other names once per name (cached).
type ModelRules struct {
	suffixes Suffixes
	exact    map[string]*ModelRule
	// globs are the pattern rules, most specific first.
	globs []*ModelRule
	// known holds the resolution of every exact rule name.
	known  map[string]*Resolution
	cache  sync.Map // asked name → *Resolution
	cached atomic.Int32
}

// Resolution is what the rules decide for one model name as a client
// asked for it.
type Resolution struct {
	Asked string
	// Base is Asked without the virtual suffixes, the name rules match.
	Base string
	// Search, Image and NonThinking are set by suffixes of Asked.
	Search, Image, NonThinking bool
	// Rule is the merged rule of Asked and the names down to Base (Name =
	// Base); all zero when no rule matched.
	Rule *ModelRule
	// Matched names the rules that matched, most specific first.
	Matched []string
	// From names, for each attribute set, the rule it came from.
	From map[string]string
}

// CompileModelRules prepares cfg's model rules for lookups.
func CompileModelRules(cfg *Config) *ModelRules {
	r := &ModelRules{suffixes: cfg.OpenAI.Suffixes, exact: map[string]*ModelRule{}, known: map[string]*Resolution{}}
	for _, m := range cfg.Models {
		if IsPattern(m.Name) {
			r.globs = append(r.globs, m)
		} else {
			r.exact[m.Name] = m
		}
	}
	slices.SortStableFunc(r.globs, func(a, b *ModelRule) int {
		al, as := specificity(a.Name)
		bl, bs := specificity(b.Name)
		if al != bl {
			return bl - al
		}
		return as - bs
	})
	for name := range r.exact {
		r.known[name] = r.resolve(name)
	}
	return r
}

// IsPattern reports whether a model rule name is a glob.
func IsPattern(name string) bool { return strings.ContainsAny(name, "*?[") }

// specificity counts a glob's literal characters and its stars.
func specificity(pattern string) (literal, stars int) {
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '*':
			stars++
		case '?':
		case '[':
			// Skip the class: up to the first ']' that is not its first
			// character, honouring backslash escapes.
			j := i + 1
			if j < len(pattern) && pattern[j] == '^' {
				j++
			}
			for first := true; j < len(pattern) && (first || pattern[j] != ']'); j++ {
				if pattern[j] == '\\' {
					j++
				}
				first = false
			}
			i = j
		case '\\':
			i++
			literal++
		default:
			literal++
		}
	}
	return literal, stars
}

// Resolve applies the virtual suffixes to asked, then the merged rule of
// asked and each name the suffixes peel off, down to the name left.
func (r *ModelRules) Resolve(asked string) *Resolution {
	if res, ok := r.known[asked]; ok {
		return res
	}
	if v, ok := r.cache.Load(asked); ok {
		return v.(*Resolution)
	}
	res := r.resolve(asked)
	if r.cached.Load() < maxCachedResolutions {
		if _, loaded := r.cache.LoadOrStore(asked, res); !loaded {
			r.cached.Add(1)
		}
	}
	return res
}

func (r *ModelRules) resolve(asked string) *Resolution {
	res := &Resolution{Asked: asked}
	name := asked
	names := []string{asked}
	for changed := true; changed; {
		changed = false
		if s := r.suffixes.Search; s != "" && strings.HasSuffix(name, s) && len(name) > len(s) {
			name, res.Search, changed = strings.TrimSuffix(name, s), true, true
		}
		if s := r.suffixes.Image; s != "" && strings.HasSuffix(name, s) && len(name) > len(s) && r.exact[name] == nil && !IsNativeImageModel(name) {
			name, res.Image, changed = strings.TrimSuffix(name, s), true, true
		}
		if s := r.suffixes.NonThinking; s != "" && strings.HasSuffix(name, s) && len(name) > len(s) {
			name, res.NonThinking, changed = strings.TrimSuffix(name, s), true, true
		}
		if changed {
			names = append(names, name)
		}
	}
	res.Base = name
	res.Rule, res.Matched, res.From = r.merge(names...)
	return res
}

// RuleFor is the merged rule for name as it is, without suffixes: what
// model lists consult for a model Google lists.
func (r *ModelRules) RuleFor(name string) *ModelRule {
	if res, ok := r.known[name]; ok && res.Base == name {
		return res.Rule
	}
	rule, _, _ := r.merge(name)
	return rule
}

// merge takes each attribute from the most specific matching rule that
// sets it. names run from the asked name to the base model, the last; a
// rule matching several of them counts at the last it matches.
func (r *ModelRules) merge(names ...string) (*ModelRule, []string, map[string]string) {
	levels := make([][]*ModelRule, len(names))
	counted := map[*ModelRule]bool{}
	for i := len(names) - 1; i >= 0; i-- {
		if m := r.exact[names[i]]; m != nil {
			counted[m] = true
			levels[i] = append(levels[i], m)
		}
		for _, g := range r.globs {
			if ok, _ := path.Match(g.Name, names[i]); ok && !counted[g] {
				counted[g] = true
				levels[i] = append(levels[i], g)
			}
		}
	}
	matched := slices.Concat(levels...)
	out := &ModelRule{Name: names[len(names)-1], attrs: map[string]bool{}}
	from := map[string]string{}
	ruleNames := make([]string, 0, len(matched))
	for _, m := range matched {
		ruleNames = append(ruleNames, m.Name)
	}
	for _, a := range ruleAttributes {
		for _, m := range matched {
			if m.Sets(a.name) {
				a.take(out, m)
				out.attrs[a.name] = true
				from[a.name] = m.Name
				break
			}
		}
	}
	return out, ruleNames, from
}

// IsNativeImageModel keeps real model names that end in "-image" (such as
// gemini-2.5-flash-image) from being read as a suffix.
func IsNativeImageModel(name string) bool {
	return strings.HasPrefix(name, "gemini-") && strings.Count(name, "-") >= 3 && strings.HasSuffix(name, "flash-image")
}
