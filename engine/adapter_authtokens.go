package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/store"
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
	// name is the token as its session presented it ("auth_tokens/…"),
	// what goes upstream; bindings are kept by its hash, never by it.
	name    string
	token   string // the client token's name
	pool    string
	keyHash string // keypool.Key.Hash of the key that minted it
	expires time.Time
}

// ephemeralTokens are the bindings this process has minted or looked up,
// by the sha256 of their token. The store holds them all (migration
// 0011), so a restarted balance, or another instance on its database,
// routes a token minted here through the same key.
type ephemeralTokens struct {
	mu     sync.Mutex
	byHash map[string]ephemeralToken
}

// ephemeralHash is the sha256 hex of an ephemeral token: how a binding is
// found, in memory and in the store, without keeping the token.
func ephemeralHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// remember keeps a binding in memory, dropping the expired ones.
func (e *ephemeralTokens) remember(hash string, b ephemeralToken, now time.Time) {
	b.name = ""
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byHash == nil {
		e.byHash = map[string]ephemeralToken{}
	}
	for h, old := range e.byHash {
		if now.After(old.expires) {
			delete(e.byHash, h)
		}
	}
	e.byHash[hash] = b
}

// bindEphemeral records a minted token's binding before the client gets
// the token: in memory, and in the store for restarts and peers.
func (s *Server) bindEphemeral(name string, b ephemeralToken, now time.Time) {
	hash := ephemeralHash(name)
	s.ephemeral.remember(hash, b, now)
	st := s.store.Load()
	if st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.bgCtx, resourceStoreTimeout)
	defer cancel()
	err := st.PutEphemeralToken(ctx, store.EphemeralToken{Hash: hash, Token: b.token, Pool: b.pool, KeyHash: b.keyHash, Created: now, Expires: b.expires})
	if err != nil {
		s.log.Warn("ephemeral token binding not saved; other instances and a restart cannot route it", "err", err)
	}
}

// lookupEphemeral is the live binding of a presented token: memory first,
// then the store (minted before a restart, or by a peer). It is nil when
// none exists, and errStoreUnavailable when the store cannot say.
func (s *Server) lookupEphemeral(name string, now time.Time) (*ephemeralToken, error) {
	hash := ephemeralHash(name)
	e := &s.ephemeral
	e.mu.Lock()
	b, ok := e.byHash[hash]
	e.mu.Unlock()
	if ok && !now.After(b.expires) {
		b.name = name
		return &b, nil
	}
	st := s.store.Load()
	if st == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(s.bgCtx, resourceStoreTimeout)
	defer cancel()
	rec, ok, err := st.LookupEphemeralToken(ctx, hash)
	if err != nil {
		s.log.Warn("ephemeral token lookup failed", "err", err)
		return nil, errStoreUnavailable
	}
	if !ok {
		return nil, nil
	}
	b = ephemeralToken{token: rec.Token, pool: rec.Pool, keyHash: rec.KeyHash, expires: rec.Expires}
	e.remember(hash, b, now)
	b.name = name
	return &b, nil
}

var pathAuthTokens = "/v1alpha/auth_tokens"

// isAuthTokensPath reports whether p is the auth_tokens collection, bare
// or under /gemini.
func isAuthTokensPath(p []byte) bool {
	return string(p) == pathAuthTokens || string(p) == "/gemini"+pathAuthTokens
}

// authTokensAdapter is the front door of POST /v1alpha/auth_tokens.
type authTokensAdapter struct{ s *Server }

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
	a.s.bindEphemeral(name, ephemeralToken{token: ex.token.cfg.Name, pool: ex.pool.cfg.Name, keyHash: ex.member.Key.Hash, expires: expires}, now)
	return nil
}

func (authTokensAdapter) sink(*Runtime, *exchange) eventSink { return nil }
