package engine

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"

	"github.com/valyala/fasthttp"
)

var (
	headerAuthorization = []byte("Authorization")
	headerGoogAPIKey    = []byte("X-Goog-Api-Key")
	argKey              = []byte("key")
	bearerPrefix        = []byte("Bearer ")
)

// clientCredential returns the token a client presented, from
// Authorization: Bearer, x-goog-api-key or ?key=, in that order. The
// slice aliases the request: use it before the handler returns.
func clientCredential(req *fasthttp.Request) []byte {
	if h := req.Header.PeekBytes(headerAuthorization); len(h) > len(bearerPrefix) && bytes.EqualFold(h[:len(bearerPrefix)], bearerPrefix) {
		return bytes.TrimSpace(h[len(bearerPrefix):])
	}
	if h := req.Header.PeekBytes(headerGoogAPIKey); len(h) > 0 {
		return h
	}
	return req.URI().QueryArgs().PeekBytes(argKey)
}

// stripClientCredentials removes every way a client can pass a token, so
// none reaches Google.
func stripClientCredentials(req *fasthttp.Request) {
	req.Header.DelBytes(headerAuthorization)
	req.Header.DelBytes(headerGoogAPIKey)
	req.URI().QueryArgs().DelBytes(argKey)
}

// lookupToken finds the token for a presented secret. The map is keyed by
// the secret's sha256, and the final comparison is constant-time.
func (rt *Runtime) lookupToken(presented []byte) *tokenRuntime {
	if len(presented) == 0 {
		return nil
	}
	t, ok := rt.tokens[sha256.Sum256(presented)]
	if !ok || subtle.ConstantTimeCompare(t.secret, presented) != 1 {
		return nil
	}
	return t
}
