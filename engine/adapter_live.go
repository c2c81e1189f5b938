package engine

import (
	"bytes"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
)

// The Live API front door: a WebSocket session
// (/ws/google.ai.generativelanguage.{v1beta,v1alpha}.GenerativeService.BidiGenerateContent[Constrained],
// bare or under /gemini) relayed to Google on one pool key.
//
// It runs the pipeline's stages in the order a session allows: route and
// authenticate on the upgrade request (a refusal is an HTTP answer in
// Google's error shape, and nothing is dialed), then upgrade; the model
// arrives in the first message (setup), so parse, authorize and the
// request hooks run on it, after which a key is picked and Google dialed,
// moving to the next key while Google refuses, before the client has seen
// any message. A refusal after the upgrade is a close frame: 1007 for a
// setup that is not one, 1008 for a model or pool the token may not use,
// 1013 for a limit or no free key, 1011 for an upstream failure, or
// Google's own close code. live_session.go relays the open session.

// liveCall is a parsed Live API path.
type liveCall struct {
	// version is the API version the client asked for, "v1beta" or "v1alpha".
	version string
	// constrained is set for BidiGenerateContentConstrained, the method of
	// ephemeral tokens.
	constrained bool
	// ephemeral is the binding of the ephemeral token the client
	// authenticated with, nil for a client token.
	ephemeral *ephemeralToken
}

// method is the RPC name the client asked for.
func (lc liveCall) method() string {
	if lc.constrained {
		return "BidiGenerateContentConstrained"
	}
	return "BidiGenerateContent"
}

var livePathStem = []byte("ws/google.ai.generativelanguage.")

// trimLiveMount strips the leading slashes and an optional gemini/ mount
// from a path. The JS SDK doubles the slash before ws/ (//ws/…,
// /gemini//ws/…), so every run of slashes counts as one.
func trimLiveMount(p []byte) []byte {
	p = bytes.TrimLeft(p, "/")
	if rest, ok := bytes.CutPrefix(p, []byte("gemini/")); ok {
		p = bytes.TrimLeft(rest, "/")
	}
	return p
}

// isLivePath reports whether a path is under the Live API's ws/ root.
func isLivePath(p []byte) bool {
	return bytes.HasPrefix(trimLiveMount(p), []byte("ws/"))
}

// liveAdapter is the Live API's adapter. It only routes and parses: the
// session driver (serveLive) runs the stages, and the relay answers.
type liveAdapter struct{}

func (liveAdapter) protocol() Protocol { return ProtoGemini }

func (liveAdapter) route(ctx *fasthttp.RequestCtx, c *call) *Failure {
	rest, _ := bytes.CutPrefix(trimLiveMount(ctx.Path()), livePathStem)
	var lc liveCall
	switch string(rest) {
	case "v1beta.GenerativeService.BidiGenerateContent":
		lc = liveCall{version: "v1beta"}
	case "v1alpha.GenerativeService.BidiGenerateContent":
		lc = liveCall{version: "v1alpha"}
	case "v1beta.GenerativeService.BidiGenerateContentConstrained":
		lc = liveCall{version: "v1beta", constrained: true}
	case "v1alpha.GenerativeService.BidiGenerateContentConstrained":
		lc = liveCall{version: "v1alpha", constrained: true}
	default:
		return fail(fasthttp.StatusNotFound, "Unknown Live API path "+string(ctx.Path())+
			". The Live API is /ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent (also v1alpha, and …Constrained for ephemeral tokens).")
	}
	if f := allowOnly(ctx, fasthttp.MethodGet); f != nil {
		return f
	}
	if !websocket.FastHTTPIsWebSocketUpgrade(ctx) {
		return fail(fasthttp.StatusUpgradeRequired, "The Live API is a WebSocket: send Connection: Upgrade and Upgrade: websocket.")
	}
	*c = call{route: "live." + lc.method(), body: true, stream: true, live: lc}
	return nil
}

// parse reads the session's first message, which must be a setup naming
// the model. Its other fields pass through unread.
func (liveAdapter) parse(body []byte, c *call) *Failure {
	if !gjson.ValidBytes(body) {
		return fail(fasthttp.StatusBadRequest, "Invalid JSON payload: the first message of a Live session must be a JSON setup message.")
	}
	setup := gjson.GetBytes(body, "setup")
	if !setup.IsObject() {
		return fail(fasthttp.StatusBadRequest, `The first message of a Live session must be {"setup":{"model":"models/…"}}.`)
	}
	model := setup.Get("model")
	if model.Type != gjson.String || model.String() == "" {
		return fail(fasthttp.StatusBadRequest, `setup.model is required ("models/…").`)
	}
	c.model = strings.TrimPrefix(model.String(), "models/")
	return nil
}

func (liveAdapter) translate(*fasthttp.RequestCtx, *Runtime, *exchange) (*fasthttp.Request, *Failure) {
	return nil, nil
}

func (liveAdapter) reply(*Runtime, *exchange, *fasthttp.Response, *fasthttp.Response) *Failure {
	return nil
}

func (liveAdapter) sink(*Runtime, *exchange) eventSink { return nil }

// liveUpgrader answers a client's upgrade. The write buffer comes from a
// pool, so an idle session holds none.
var liveUpgrader = websocket.FastHTTPUpgrader{
	ReadBufferSize:  4 << 10,
	WriteBufferSize: 4 << 10,
	WriteBufferPool: &sync.Pool{},
	// An Origin proves nothing here: every session carries a client token,
	// or an ephemeral one minted for exactly this use from a browser.
	CheckOrigin: func(*fasthttp.RequestCtx) bool { return true },
	Error: func(ctx *fasthttp.RequestCtx, status int, reason error) {
		ProtoGemini.render(&ctx.Response, fail(status, "WebSocket handshake refused: "+reason.Error()+"."))
	},
}

var authTokenPrefix = []byte("Token ")

// ephemeralCredential is the ephemeral token of Authorization: Token
// auth_tokens/…, as the SDKs send it.
func ephemeralCredential(req *fasthttp.Request) (string, bool) {
	h := req.Header.PeekBytes(headerAuthorization)
	if len(h) <= len(authTokenPrefix) || !bytes.EqualFold(h[:len(authTokenPrefix)], authTokenPrefix) {
		return "", false
	}
	return string(bytes.TrimSpace(h[len(authTokenPrefix):])), true
}

// authenticateLive finds the session's client token: the one an
// ephemeral token was minted for, or the client's own (authenticate).
func (s *Server) authenticateLive(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) *Failure {
	name, ok := ephemeralCredential(&ctx.Request)
	if !ok {
		return s.authenticate(ctx, rt, ex)
	}
	// Only Google's token names are looked up: the lookup may read the
	// store, and this client has not authenticated yet.
	var b *ephemeralToken
	var err error
	if strings.HasPrefix(name, "auth_tokens/") && len(name) <= 512 {
		b, err = s.lookupEphemeral(name, time.Now())
	}
	if err != nil {
		return &Failure{Status: fasthttp.StatusServiceUnavailable, RetryAfter: time.Second, Message: "Ephemeral tokens cannot be checked right now: " + err.Error() + "."}
	}
	if b == nil {
		return fail(fasthttp.StatusUnauthorized, "Unknown or expired ephemeral token: mint one with POST /v1alpha/auth_tokens through balance.")
	}
	if f := admitToken(ex, rt.tokenNamed(b.token), true); f != nil {
		return f
	}
	ex.call.live.ephemeral = b
	return nil
}

// tokenNamed is the live generation's token of that name, or nil.
func (rt *Runtime) tokenNamed(name string) *tokenRuntime {
	for _, t := range rt.tokens {
		if t.cfg.Name == name {
			return t
		}
	}
	return nil
}

// serveLive runs a Live API upgrade request up to the upgrade; the
// session (liveSession) takes the exchange over from there.
func (s *Server) serveLive(ctx *fasthttp.RequestCtx, rt *Runtime) {
	a := liveAdapter{}
	ex := s.newExchange(a, ctx.Time())
	ex.logRequest = rt.Config.Server.LogRequests
	f := a.route(ctx, &ex.call)
	if f == nil {
		f = s.authenticateLive(ctx, rt, ex)
	}
	if f == nil {
		f = s.live.admits(ex.token)
	}
	ctx.Response.Header.SetBytesV("X-Request-Id", ex.id)
	ctx.Response.Header.Set("X-Balance-Generation", rt.genHeader)
	if f == nil {
		// The session reads the upgrade request's headers (hooks see
		// them, some go upstream) after the handler returns: a copy.
		head := fasthttp.AcquireRequest()
		ctx.Request.Header.CopyTo(&head.Header)
		err := liveUpgrader.Upgrade(ctx, func(conn *websocket.Conn) { s.runLiveSession(rt, ex, conn, head) })
		if err == nil {
			return // the session owns the exchange
		}
		fasthttp.ReleaseRequest(head)
		ex.status = ctx.Response.StatusCode()
		s.finish(ex)
		return
	}
	s.fail(ctx, ex, f)
	if f.Status == fasthttp.StatusUpgradeRequired {
		ctx.Response.Header.Set("Upgrade", "websocket")
	}
	ctx.Response.Header.SetBytesV("X-Request-Id", ex.id)
	ctx.Response.Header.Set("X-Balance-Generation", rt.genHeader)
	ex.status = ctx.Response.StatusCode()
	s.finish(ex)
}
