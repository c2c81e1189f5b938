package engine

import (
	"bytes"
	"encoding/json"
	"time"
)

// Record is what the proxy reports about one finished client request. It
// holds no secret: keys appear only as fingerprints, bodies are redacted.
// Its fields match store.Request one for one, so the store adapter is a
// plain conversion.
type Record struct {
	Time             time.Time
	RequestID        string
	Token            string
	Route            string
	Protocol         string
	ModelAsked       string
	ModelSent        string
	Pool             string
	KeyFP            string
	Status           int
	ErrorClass       string
	Attempts         int
	Latency          time.Duration
	TTFB             time.Duration
	PromptTokens     int
	CompletionTokens int
	ThoughtTokens    int
	CachedTokens     int
	Streamed         bool
	ErrorBody        string
	RequestBody      string
}

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

// parseUsage finds the last usageMetadata object in b (a response body or
// the tail of a stream, where it is cumulative) without decoding the rest.
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
	depth := 0
	for j := start; j < len(rest); j++ {
		switch rest[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				var u Usage
				if json.Unmarshal(rest[start:j+1], &u) != nil {
					return Usage{}, false
				}
				return u, true
			}
		}
	}
	return Usage{}, false
}
