package engine

import (
	"bytes"

	"github.com/balanceproxy/balance/store"
)

// Record is what the proxy reports about one finished client request. It
// holds no secret: keys appear only as fingerprints, bodies are redacted.
type Record = store.Request

// Recorder receives a Record per request. Record must not block: the
// store queues and writes in the background.
type Recorder interface {
	Record(Record)
}

// Usage is Gemini's usageMetadata.
type Usage struct {
	PromptTokenCount        int `json:"promptTokenCount"`
	CandidatesTokenCount    int `json:"candidatesTokenCount"`
	ThoughtsTokenCount      int `json:"thoughtsTokenCount"`
	CachedContentTokenCount int `json:"cachedContentTokenCount"`
	TotalTokenCount         int `json:"totalTokenCount"`
}

var usageField = []byte(`"usageMetadata"`)

// usageFields are read from usageMetadata by a byte scan: this runs on
// every response, and a JSON decode would cost a handful of allocations.
var usageFields = [...][]byte{
	[]byte(`"promptTokenCount"`),
	[]byte(`"candidatesTokenCount"`),
	[]byte(`"thoughtsTokenCount"`),
	[]byte(`"cachedContentTokenCount"`),
	[]byte(`"totalTokenCount"`),
}

// parseUsage finds the last usageMetadata object in b (a response body or
// the tail of a stream, where it is cumulative) and reads its counts.
func parseUsage(b []byte) (Usage, bool) {
	i := bytes.LastIndex(b, usageField)
	if i < 0 {
		return Usage{}, false
	}
	rest := b[i+len(usageField):]
	start := bytes.IndexByte(rest, '{')
	if start < 0 {
		return Usage{}, false
	}
	depth, end := 0, -1
	for j := start; j < len(rest) && end < 0; j++ {
		switch rest[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				end = j
			}
		}
	}
	if end < 0 {
		return Usage{}, false
	}
	obj := rest[start:end]
	var u Usage
	dst := [...]*int{&u.PromptTokenCount, &u.CandidatesTokenCount, &u.ThoughtsTokenCount, &u.CachedContentTokenCount, &u.TotalTokenCount}
	for f, name := range usageFields {
		// Only top-level fields: the *TokensDetails arrays hold
		// "tokenCount", which no name here is a suffix of.
		k := bytes.Index(obj, name)
		if k < 0 {
			continue
		}
		v := bytes.TrimLeft(obj[k+len(name):], " \t\r\n:")
		n := 0
		for _, c := range v {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		*dst[f] = n
	}
	return u, true
}
