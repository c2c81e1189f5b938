package engine

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/gemini"
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

// authenticate finds the client's token. It reads headers and the query
// only.
func (s *Server) authenticate(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) *Failure {
	cred := clientCredential(&ctx.Request)
	return admitToken(ex, rt.lookupToken(cred), len(cred) > 0)
}

// admitToken makes tok the request's token, unless it is unknown (nil) or
// expired. presented says whether the client sent a credential at all.
func admitToken(ex *exchange, tok *tokenRuntime, presented bool) *Failure {
	if tok == nil {
		if presented {
			return fail(fasthttp.StatusUnauthorized, "Invalid client token.")
		}
		return fail(fasthttp.StatusUnauthorized, "Missing client token: send Authorization: Bearer <token>, x-goog-api-key or ?key=.")
	}
	if !tok.cfg.Expires.IsZero() && time.Now().After(tok.cfg.Expires) {
		return fail(fasthttp.StatusUnauthorized, "Client token "+tok.cfg.Name+" expired on "+tok.cfg.Expires.UTC().Format(time.RFC3339)+".")
	}
	ex.token = tok
	return nil
}

// authorize applies the model rules to model, checks the token may use it,
// and picks the pool: the one a hook named (pool), else the model rule's,
// else the token's first. It is the one admission check, for the model a
// client asked for and for the model or pool a hook chose (by names the
// hook; a bad choice is then the hook's fault, not the client's).
func (rt *Runtime) authorize(ex *exchange, model, pool, by string) *Failure {
	tok := ex.token
	badName := fasthttp.StatusBadRequest
	if by != "" {
		badName = fasthttp.StatusBadGateway
	}
	if model != "" && !gemini.ValidModel(model) {
		return fail(badName, "Invalid model name: use letters, digits, '-', '.', '_' or '@'.")
	}
	res := rt.models.resolve(model)
	if res.Target != model && !gemini.ValidModel(res.Target) {
		return fail(badName, "Invalid model name after model rules.")
	}
	if model != "" && !tok.allowsModel(res.Asked) && !tok.allowsModel(res.Target) {
		if by != "" {
			return fail(fasthttp.StatusForbidden, "Hook "+by+" routed this request to model "+model+", which token "+tok.cfg.Name+" may not use.")
		}
		return fail(fasthttp.StatusForbidden, "Token "+tok.cfg.Name+" may not use model "+model+".")
	}
	name := res.Pool
	if pool != "" {
		name = pool
	}
	p, ok := tok.poolFor(name)
	if !ok {
		if pool != "" {
			return fail(fasthttp.StatusForbidden, "Hook "+by+" routed this request to pool "+pool+", which token "+tok.cfg.Name+" may not use.")
		}
		return fail(fasthttp.StatusForbidden, "Model "+model+" is served by pool "+name+", which token "+tok.cfg.Name+" may not use.")
	}
	ex.model, ex.pool, ex.fallback = res, p, p.fallback
	if res.FallbackSet {
		ex.fallback = rt.poolsNamed(res.Fallback)
	}
	return nil
}

// limit counts the request against its token's limits. On success the
// token's state is released when the request is recorded.
func (s *Server) limit(ex *exchange) *Failure {
	st := s.tokens.get(ex.token.cfg.Name)
	if d := st.admit(ex.token); d != nil {
		return &Failure{Status: fasthttp.StatusTooManyRequests, Message: d.message + ".", RetryAfter: d.retryAfter}
	}
	ex.tstate = st
	return nil
}
