package engine

import (
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
)

// Ephemeral tokens for the Live API: POST /v1alpha/auth_tokens (the SDKs'
// authTokens.create) goes through the pipeline like any Gemini call and is
// minted by Google on a pool key. The token is valid only for that key's
// project, so balance binds it to the key, the client token and the pool;
// a Live session that later presents it (Authorization: Token …) runs as
// that client token, on that key.

// ephemeralTTL is how long a binding lives when Google's answer names no
// expireTime: Google's own default lifetime of a token.
const ephemeralTTL = 30 * time.Minute

// ephemeralToken is one minted token's binding.
type ephemeralToken struct {
	name    string // "auth_tokens/…", what the client presents
	token   string // the client token's name
	pool    string
	keyHash string // keypool.Key.Hash of the key that minted it
	expires time.Time
}

// ephemeralTokens are the bindings of the tokens minted through balance,
// in memory: a restart forgets them, and their sessions must then mint
// again.
type ephemeralTokens struct {
	mu     sync.Mutex
	byName map[string]*ephemeralToken
}

// bind records a minted token, dropping the expired ones.
func (e *ephemeralTokens) bind(b *ephemeralToken, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byName == nil {
		e.byName = map[string]*ephemeralToken{}
	}
	for name, old := range e.byName {
		if now.After(old.expires) {
			delete(e.byName, name)
		}
	}
	e.byName[b.name] = b
}

// lookup is the live binding of a presented token, or nil.
func (e *ephemeralTokens) lookup(name string, now time.Time) *ephemeralToken {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.byName[name]
	if b == nil || now.After(b.expires) {
		return nil
	}
	return b
}

var pathAuthTokens = "/v1alpha/auth_tokens"

// isAuthTokensPath reports whether p is the auth_tokens collection, bare
// or under /gemini.
func isAuthTokensPath(p []byte) bool {
	return string(p) == pathAuthTokens || string(p) == "/gemini"+pathAuthTokens
}

// authTokensAdapter is the front door of POST /v1alpha/auth_tokens.
type authTokensAdapter struct{ bind *ephemeralTokens }

func (authTokensAdapter) protocol() Protocol { return ProtoGemini }

func (authTokensAdapter) route(ctx *fasthttp.RequestCtx, c *call) *Failure {
	if f := allowOnly(ctx, fasthttp.MethodPost); f != nil {
		return f
	}
	*c = call{route: "authTokens.create", body: true, passAnswer: true}
	return nil
}

// parse reads the model a token is locked to, if any, so the token's
// model rules admit it like a session on that model.
func (authTokensAdapter) parse(body []byte, c *call) *Failure {
	if m := gjson.GetBytes(body, "bidiGenerateContentSetup.setup.model"); m.Type == gjson.String {
		c.model = strings.TrimPrefix(m.String(), "models/")
	}
	return nil
}

func (authTokensAdapter) translate(ctx *fasthttp.RequestCtx, _ *Runtime, ex *exchange) (*fasthttp.Request, *Failure) {
	req := newUpstreamRequest(&ctx.Request, ex.clientBody(ctx))
	ex.scratch = append(append(ex.scratch[:0], ex.pool.target.PathPrefix...), pathAuthTokens...)
	req.URI().SetPathBytes(ex.scratch)
	copyQuery(req, &ctx.Request)
	return req, nil
}

// reply binds the minted token to the key that minted it.
func (a authTokensAdapter) reply(_ *Runtime, ex *exchange, up, _ *fasthttp.Response) *Failure {
	name := gjson.GetBytes(up.Body(), "name").String()
	if !strings.HasPrefix(name, "auth_tokens/") {
		return &Failure{Status: fasthttp.StatusBadGateway, Message: "Upstream answered auth_tokens.create without a token name."}
	}
	now := time.Now()
	expires := now.Add(ephemeralTTL)
	if t, err := time.Parse(time.RFC3339, gjson.GetBytes(up.Body(), "expireTime").String()); err == nil && t.After(now) {
		expires = t
	}
	a.bind.bind(&ephemeralToken{name: name, token: ex.token.cfg.Name, pool: ex.pool.cfg.Name, keyHash: ex.member.Key.Hash, expires: expires}, now)
	return nil
}

func (authTokensAdapter) sink(*Runtime, *exchange) eventSink { return nil }
