package openai

import (
	"strings"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// ModelList builds OpenAI's model list of the given ids, in order. Which
// ids a list shows is the caller's decision.
func ModelList(ids []string) []byte {
	b := make([]byte, 0, 32+80*len(ids))
	b = append(b, `{"object":"list","data":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendModel(b, id)
	}
	return append(b, "]}"...)
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
