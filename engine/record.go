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

// The names are searched without their opening quote: bytes.Index scans
// for a name's first byte, and quotes are everywhere in JSON.
var usageField = []byte(`usageMetadata"`)

// parseUsage finds the last usageMetadata object in b (a response body or
// the tail of a stream, where it is cumulative) and reads its counts. It
// runs on every answer, so it is a byte scan: one pass over the object,
// reading its top-level members, where a JSON decode would cost a handful
// of allocations.
func parseUsage(b []byte) (Usage, bool) {
	// The last occurrence, found with forward searches: bytes.Index is
	// vectorised, bytes.LastIndex is not, and an answer holds one or (a
	// stream's tail) a few.
	i := bytes.Index(b, usageField)
	if i < 0 {
		return Usage{}, false
	}
	for {
		j := bytes.Index(b[i+len(usageField):], usageField)
		if j < 0 {
			break
		}
		i += len(usageField) + j
	}
	rest := b[i+len(usageField):]
	start := bytes.IndexByte(rest, '{')
	if start < 0 {
		return Usage{}, false
	}
	var u Usage
	depth := 0
	for j := start; j < len(rest); j++ {
		switch rest[j] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return u, true
			}
		case '"':
			end := bytes.IndexByte(rest[j+1:], '"')
			if end < 0 {
				return Usage{}, false
			}
			key := rest[j+1 : j+1+end]
			j += 1 + end
			if depth != 1 {
				continue // inside a *TokensDetails list
			}
			dst := u.field(key)
			if dst == nil {
				continue
			}
			k := j + 1
			for k < len(rest) && (rest[k] == ' ' || rest[k] == ':' || rest[k] == '\n' || rest[k] == '\r' || rest[k] == '\t') {
				k++
			}
			n := 0
			for ; k < len(rest) && rest[k] >= '0' && rest[k] <= '9'; k++ {
				n = n*10 + int(rest[k]-'0')
			}
			*dst = n
			j = k - 1
		}
	}
	return Usage{}, false
}

// field is the count a usageMetadata member name holds, or nil.
func (u *Usage) field(name []byte) *int {
	switch string(name) {
	case "promptTokenCount":
		return &u.PromptTokenCount
	case "candidatesTokenCount", "responseTokenCount": // the Live API says response
		return &u.CandidatesTokenCount
	case "thoughtsTokenCount":
		return &u.ThoughtsTokenCount
	case "cachedContentTokenCount":
		return &u.CachedContentTokenCount
	case "totalTokenCount":
		return &u.TotalTokenCount
	}
	return nil
}
