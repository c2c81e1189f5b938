package mockgemini

import (
	"bytes"
	"strings"

	"github.com/tidwall/gjson"
)

// Vertex AI in express mode serves the publisher models under
// /v1/publishers/google/models/{model}:{method} (and /v1beta1/…) on
// aiplatform.googleapis.com with an API key, in the Gemini API's request
// and answer shapes. The mock serves those paths with the same answers
// and the same per-key faults; what differs is what Vertex differs in:
// no models list or get, and its own error bodies.

var (
	prefixV1beta1      = []byte("/v1beta1/")
	prefixVertexModels = []byte("publishers/google/models/")
)

const vertexService = "aiplatform.googleapis.com"

// vertexRest turns the rest of a Vertex path after its version
// ("publishers/google/models/m:method") into the Gemini form
// ("models/m:method"); ok is false for a path that is not Vertex's.
func vertexRest(rest []byte) ([]byte, bool) {
	if !bytes.HasPrefix(rest, prefixVertexModels) {
		return rest, false
	}
	return rest[len("publishers/google/"):], true
}

// isVertexPath reports whether a request path is one of Vertex's.
func isVertexPath(path []byte) bool {
	for _, v := range [][]byte{prefixV1, prefixV1beta1} {
		if bytes.HasPrefix(path, v) && bytes.HasPrefix(path[len(v):], prefixVertexModels) {
			return true
		}
	}
	return false
}

// msgVertexRateLimit is the message Vertex sends with every 429: no
// QuotaFailure, no RetryInfo, no delay in the text.
const msgVertexRateLimit = "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."

// vertexError is e as Vertex renders it: a 429 is the bare
// RESOURCE_EXHAUSTED with Vertex's message, and error details name
// aiplatform.googleapis.com as the service.
func vertexError(e apiError) apiError {
	if e.code == 429 {
		return apiError{code: 429, status: "RESOURCE_EXHAUSTED", message: msgVertexRateLimit}
	}
	e.details = strings.ReplaceAll(e.details, serviceName, vertexService)
	return e
}

// msgVertexRole is Vertex's answer to a content whose role is missing or
// neither "user" nor "model". The Gemini API takes a missing role as the
// user's; Vertex refuses the whole request.
const msgVertexRole = "Unable to submit request because Please use a valid role: user, model.. Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"

// vertexRolesValid reports whether every content of a generate or
// countTokens body has a role Vertex takes.
func vertexRolesValid(body []byte) bool {
	ok := true
	gjson.GetBytes(body, "contents").ForEach(func(_, c gjson.Result) bool {
		r := c.Get("role").String()
		ok = r == "user" || r == "model"
		return ok
	})
	return ok
}
