package hcl

import (
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// upstreamKind reads upstream.kind. A Vertex AI Express base URL must be
// the host alone: balance builds /v1/publishers/google/models/… itself,
// and a base URL that already holds part of that path would double it.
func (l *loader) upstreamKind(ru *rawUpstream, b *hclsyntax.Block) string {
	kind := KindGemini
	if ru.Kind != nil {
		kind = *ru.Kind
		l.oneOf(kind, UpstreamKinds, b, "kind")
	}
	if kind == KindVertexExpress {
		if pu, err := url.Parse(ru.BaseURL); err == nil && strings.Trim(pu.Path, "/") != "" {
			l.errorf(attrRange(b, "base_url"), "Invalid base_url for vertex_express", "A vertex_express base_url is the host alone (https://aiplatform.googleapis.com): balance adds /v1/publishers/google/models/{model}:{method}, so %q would put the path twice.", ru.BaseURL)
		}
	}
	return kind
}

// checkPoolKinds refuses a key shared by pools of different upstream
// kinds. A key's health (cooldowns per model, quarantine) is kept once per
// key value, so a Gemini API quota and a Vertex AI quota would be mixed up
// in one state: a 429 on Vertex would rest the key on Gemini too.
func (l *loader) checkPoolKinds(cfg *Config, loc locator) {
	type owner struct{ pool, kind string }
	first := map[string]owner{}
	for _, p := range cfg.Pools {
		u := cfg.Upstream(p.Upstream)
		if u == nil {
			continue // already an error
		}
		reported := false
		for _, k := range p.Keys {
			o, seen := first[k.Value]
			if !seen {
				first[k.Value] = owner{p.Name, u.Kind}
				continue
			}
			if o.kind != u.Kind && !reported {
				reported = true
				l.errorf(attrRange(loc.labeled("pool", p.Name), "upstream"), "Key in pools of different kinds",
					"Pool %q (kind %q) shares a key with pool %q (kind %q). A pool is of one upstream kind and a key's cooldowns and quarantine belong to one API: give each kind its own keys.", p.Name, u.Kind, o.pool, o.kind)
			}
		}
	}
}
