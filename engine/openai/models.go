package openai

import (
	"path"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// TranslateModels builds OpenAI's model list from one or more Gemini
// models-list pages ({"models":[{"name":"models/…"}]}). extra ids (virtual
// models such as "-search" variants) are appended when not already listed;
// ids matching a hidden pattern (path.Match syntax, e.g. "gemini-1.0-*") are
// dropped, extras included.
func TranslateModels(extra, hidden []string, pages ...[]byte) ([]byte, error) {
	seen := make(map[string]bool)
	b := make([]byte, 0, 4096)
	b = append(b, `{"object":"list","data":[`...)
	n := 0
	add := func(id string) {
		if id == "" || seen[id] || isHidden(id, hidden) {
			return
		}
		seen[id] = true
		if n > 0 {
			b = append(b, ',')
		}
		b = appendModel(b, id)
		n++
	}
	for _, pg := range pages {
		if !gjson.ValidBytes(pg) {
			return nil, errInvalidUpstream
		}
		gjson.GetBytes(pg, "models").ForEach(func(_, m gjson.Result) bool {
			add(strings.TrimPrefix(m.Get("name").Str, "models/"))
			return true
		})
	}
	for _, id := range extra {
		add(id)
	}
	return append(b, "]}"...), nil
}

// TranslateModel answers GET /v1/models/{id} for a model known to exist.
func TranslateModel(id string) []byte {
	return appendModel(make([]byte, 0, 64+len(id)), strings.TrimPrefix(id, "models/"))
}

func appendModel(b []byte, id string) []byte {
	b = append(b, `{"id":`...)
	b = jsonw.AppendString(b, id)
	return append(b, `,"object":"model","created":0,"owned_by":"google"}`...)
}

func isHidden(id string, hidden []string) bool {
	for _, h := range hidden {
		if h == id {
			return true
		}
		if ok, _ := path.Match(h, id); ok {
			return true
		}
	}
	return false
}
