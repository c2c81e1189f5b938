package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"github.com/valyala/bytebufferpool"
	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/gemini"
	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/engine/upstream"
	"github.com/balanceproxy/balance/internal/verdict"
)

const (
	// maxLiveMessage bounds one message either way: base64 audio and
	// video frames are large, and the SDKs expect at least 16 MB.
	maxLiveMessage = 16 << 20
	// liveSetupWait bounds the wait for the client's setup message and
	// for Google's setupComplete.
	liveSetupWait = 30 * time.Second
	// liveDialWait bounds one upstream handshake.
	liveDialWait = 15 * time.Second
	// liveWriteWait bounds one relayed message's write: a peer that takes
	// nothing for this long is gone, and the session ends.
	liveWriteWait = 30 * time.Second
	// liveCloseWait is how long a closing side is given to answer a close
	// frame before its connection is dropped.
	liveCloseWait = 2 * time.Second
	// liveKeepBuffer is the largest message buffer returned to the pool.
	liveKeepBuffer = 64 << 10
)

// liveWritePool lends write buffers to the upstream connections; the
// upgrader has its own for the client side.
var liveWritePool sync.Pool

// liveSession is one relayed Live API session: the client's connection,
// Google's, and how each side ended. Its owner is the goroutine fasthttp
// runs the hijacked connection on (runLiveSession); the relay adds one
// goroutine for Google → client, and stop (shutdown, max duration) ends
// both.
type liveSession struct {
	ex     *exchange
	client *websocket.Conn
	up     *websocket.Conn

	// key is the key serving the open session; set under the registry's
	// lock once Google answered the setup (nil before).
	key *keypool.Key

	mu sync.Mutex
	// upEnd is how Google's side ended: its close frame, or a read error.
	upEnd error
	// endedBy is the side that ended the session first.
	endedBy endSide
	// done is set once the owner is closing the connections: nothing else
	// may touch them then (fasthttp reuses a hijacked connection's wrapper).
	done bool
}

// endSide names who ended a session.
type endSide uint8

const (
	notEnded endSide = iota
	endedByClient
	endedByUpstream
	endedByBalance
)

// endBy notes that side ended the session, unless another side already
// did, and reports which side did first. The caller holds ls.mu.
func (ls *liveSession) endBy(side endSide) endSide {
	if ls.endedBy == notEnded {
		ls.endedBy = side
	}
	return ls.endedBy
}

// runLiveSession is the session's owner: it admits, opens and relays the
// session, then records it. It runs on the hijacked connection's
// goroutine; the RequestCtx is gone, head is the upgrade request's copy.
func (s *Server) runLiveSession(rt *Runtime, ex *exchange, client *websocket.Conn, head *fasthttp.Request) {
	defer fasthttp.ReleaseRequest(head)
	client.SetReadLimit(maxLiveMessage)
	client.SetCloseHandler(keepCloseFrame)
	ls := &liveSession{ex: ex, client: client}
	ex.streamed = true
	registered := false
	f := s.limit(ex)
	if f == nil {
		f = s.live.add(ls)
		registered = f == nil
	}
	if f == nil {
		f = s.openLive(rt, ls, head)
	}
	if f == nil {
		f = s.live.opened(ls)
	}
	if f != nil {
		ex.noteFailure(f)
		ex.status = f.Status
		if f.Status != statusClientClosed {
			code, reason := liveCloseFor(f)
			writeClose(client, code, reason)
			awaitClose(client)
		}
	} else {
		if d := ex.token.cfg.LiveMaxDuration; d > 0 {
			t := time.AfterFunc(d, func() {
				ls.stop(websocket.ClosePolicyViolation, "session reached the token's live_max_duration ("+d.String()+")")
			})
			defer t.Stop()
		}
		s.relayLive(ls)
	}
	ls.release()
	_ = client.Close()
	if ls.up != nil {
		_ = ls.up.Close()
	}
	if registered {
		s.live.remove(ls)
	}
	s.finish(ex)
}

// keepCloseFrame replaces the WebSocket library's default close handler,
// which answers a close at once: a proxy passes the close on instead, and
// the side that closed gets the other side's answer.
func keepCloseFrame(int, string) error { return nil }

// openLive runs the stages between the upgrade and the relay: read and
// parse the setup, authorize its model, run the request hooks on it, then
// open Google's side (dialLive). It ends with setupComplete sent to the
// client.
func (s *Server) openLive(rt *Runtime, ls *liveSession, head *fasthttp.Request) *Failure {
	ex, client := ls.ex, ls.client
	_ = client.SetReadDeadline(time.Now().Add(liveSetupWait))
	_, setup, err := client.ReadMessage()
	if err != nil {
		return &Failure{Status: statusClientClosed, Message: "The client left before sending setup: " + err.Error() + "."}
	}
	_ = client.SetReadDeadline(time.Time{})
	if f := ex.adapter.parse(setup, &ex.call); f != nil {
		return f
	}
	if f := rt.authorize(ex, ex.call.model, "", ""); f != nil {
		return f
	}
	if b := ex.call.live.ephemeral; b != nil {
		// The token was minted with one key, of one pool: only that key
		// can serve it.
		p, ok := ex.token.poolFor(b.pool)
		if !ok {
			return fail(fasthttp.StatusForbidden, "This ephemeral token was minted on pool "+b.pool+", which token "+ex.token.cfg.Name+" may no longer use.")
		}
		ex.pool = p
	}
	// Hooks see the setup as a request body, with the upgrade's headers.
	head.SetBodyRaw(setup)
	var hctx fasthttp.RequestCtx
	hctx.Init(head, nil, nil)
	ex.bodyRead = true
	if f := s.requestHooks(&hctx, rt, ex); f != nil {
		return f
	}
	setup = hctx.Request.Body()
	if ex.model.Target != ex.call.model {
		if setup, err = sjson.SetBytes(setup, "setup.model", "models/"+ex.model.Target); err != nil {
			return fail(fasthttp.StatusBadRequest, "Invalid setup: "+err.Error()+".")
		}
	}
	// The model rules' edits, those a setup takes, by the native path's
	// own editor.
	if live := ex.model.forLive(); live.editsBody() {
		edited, err := live.editBody([]byte(gjson.GetBytes(setup, "setup").Raw))
		if err == nil {
			setup, err = sjson.SetRawBytes(setup, "setup", edited)
		}
		if err != nil {
			return fail(fasthttp.StatusBadRequest, "Invalid setup: "+err.Error()+".")
		}
	}
	// The call a pool must serve, for fallbackPick and refuse: Vertex
	// pools have no Live API.
	ex.upCall = gemini.Call{Version: ex.call.live.version, Model: ex.model.Target, Method: ex.call.live.method()}
	header := http.Header{}
	for k, v := range hctx.Request.Header.All() {
		if forwardedHeader(k) {
			header.Set(string(k), string(v))
		}
	}
	for _, h := range ex.pool.headers {
		header.Set(h[0], h[1])
	}
	first, firstType, f := s.dialLive(ls, setup, header)
	if f != nil {
		return f
	}
	ex.ttfb = time.Since(ex.start)
	_ = client.SetWriteDeadline(time.Now().Add(liveWriteWait))
	if err := client.WriteMessage(firstType, first); err != nil {
		return &Failure{Status: statusClientClosed, Message: "The client left before setupComplete."}
	}
	return nil
}

// opened marks a session open on its key, for status and shutdown; one
// that opened while balance began shutting down is ended at once.
func (l *liveSessions) opened(ls *liveSession) *Failure {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return &Failure{Status: fasthttp.StatusServiceUnavailable, Reason: "ws_close_1001", Message: "balance is shutting down"}
	}
	ls.key = ls.ex.member.Key
	return nil
}

// dialLive opens Google's side on a key of the pool, moving to the next
// key while Google refuses the upgrade or closes before setupComplete, as
// forward does for HTTP calls, with the same classification, key
// judgement and retry policy. When no key of the pool can take the
// session (every one cooling for its model, or a Vertex pool, which has
// no Live API), the fallback pools (fallback.go) can, as for HTTP calls. It returns Google's first message
// (setupComplete), which the client has not seen yet.
func (s *Server) dialLive(ls *liveSession, setup []byte, header http.Header) ([]byte, int, *Failure) {
	ex := ls.ex
	p := ex.pool
	var tried []*keypool.Key
	done := []*poolRuntime{p} // pools drained, for fallbackPick
	budget := newRetryBudget(p)
	var last *Failure
	for {
		now := time.Now()
		var m *keypool.Member
		if b := ex.call.live.ephemeral; b != nil {
			if ex.attempts > 0 {
				return nil, 0, last
			}
			if m = p.pool.Use(b.keyHash, now); m == nil {
				return nil, 0, &Failure{Status: fasthttp.StatusServiceUnavailable, Class: verdict.ServerError, Reason: "no_key",
					Message: "The key that minted this ephemeral token is no longer in pool " + p.cfg.Name + "."}
			}
		} else {
			var free time.Time
			if p.serves(ex.upCall) {
				m, free = p.pool.Pick(ex.model.Target, tried, now)
			}
			if m == nil && len(ex.fallback) > 0 {
				var next *poolRuntime
				if next, m, free = fallbackPick(ex, ex.fallback, &done, tried, now, free); m != nil {
					moveLive(ex, next, header)
					p = next
				}
			}
			if m == nil {
				if ex.attempts > 0 {
					return nil, 0, last
				}
				if f := p.refuse(ex); f != nil {
					return nil, 0, f
				}
				return nil, 0, noKeyFailure(ex, free)
			}
		}
		if ex.member != nil {
			ex.member.Key.End(false, 0) // the previous attempt failed
		}
		ex.attempts++
		ex.member = m
		up, first, firstType, v, f := s.dialLiveOnce(ex, m, setup, header)
		ex.verdict = v
		s.judge(ex, m, v, now)
		if v.Class == verdict.OK {
			ls.up = up
			return first, firstType, nil
		}
		last = f
		if !budget.again(p, ex.attempts, v) {
			return nil, 0, f
		}
		tried = append(tried, m.Key)
	}
}

// moveLive moves a session not yet dialled to fallback pool p: its extra
// headers replace the old pool's, and the session, its stats and its key
// accounting follow ex.pool.
func moveLive(ex *exchange, p *poolRuntime, header http.Header) {
	for _, h := range ex.pool.headers {
		header.Del(h[0])
	}
	for _, h := range p.headers {
		header.Set(h[0], h[1])
	}
	ex.pool = p
}

// dialLiveOnce dials Google on one key, sends the setup and reads the
// answer to it.
func (s *Server) dialLiveOnce(ex *exchange, m *keypool.Member, setup []byte, header http.Header) (*websocket.Conn, []byte, int, verdict.Verdict, *Failure) {
	p := ex.pool
	lc := ex.call.live
	netDial, err := s.live.netDialer(m.Proxy)
	if err != nil {
		v := verdict.Verdict{Class: verdict.Connection, Reason: "connection", Message: err.Error()}
		return nil, nil, 0, v, liveTransportFailure(ex, v)
	}
	d := websocket.Dialer{
		NetDial:          func(_, addr string) (net.Conn, error) { return netDial(addr) },
		TLSClientConfig:  p.target.TLSConfig(),
		HandshakeTimeout: liveDialWait,
		ReadBufferSize:   4 << 10,
		WriteBufferSize:  4 << 10,
		WriteBufferPool:  &liveWritePool,
	}
	h := header.Clone()
	method := "BidiGenerateContent"
	if b := lc.ephemeral; b != nil {
		// Google knows the token, not balance's key: it goes as sent.
		h.Set("Authorization", "Token "+b.name)
		method = "BidiGenerateContentConstrained"
	} else {
		h.Set(headerGoogAPIKeyLower, m.Key.Value())
	}
	url := p.target.WebSocketURL("/ws/google.ai.generativelanguage." + lc.version + ".GenerativeService." + method)
	ctx, cancel := context.WithTimeout(s.bgCtx, liveDialWait)
	up, resp, err := d.DialContext(ctx, url, h)
	cancel()
	if err != nil {
		if resp != nil { // refused with an HTTP answer
			body, _ := io.ReadAll(resp.Body)
			v := gemini.Classify(resp.StatusCode, body)
			ex.verdict = v
			f := &Failure{Status: resp.StatusCode, Class: v.Class, Reason: v.Reason, Message: upstreamMessage(ex, resp.StatusCode)}
			if len(body) > 0 {
				f.Upstream = append([]byte(nil), p.redactBytes(body)...)
			}
			return nil, nil, 0, v, f
		}
		v := transportVerdict(err)
		return nil, nil, 0, v, liveTransportFailure(ex, v)
	}
	up.SetReadLimit(maxLiveMessage)
	up.SetCloseHandler(keepCloseFrame)
	_ = up.SetWriteDeadline(time.Now().Add(liveWriteWait))
	if err := up.WriteMessage(websocket.TextMessage, setup); err != nil {
		_ = up.Close()
		v := transportVerdict(err)
		return nil, nil, 0, v, liveTransportFailure(ex, v)
	}
	_ = up.SetReadDeadline(time.Now().Add(liveSetupWait))
	mt, first, err := up.ReadMessage()
	if err != nil {
		_ = up.Close()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			v := classifyLiveClose(ce.Code, p.redact(ce.Text))
			return nil, nil, 0, v, &Failure{Status: liveCloseStatus(v.Class), Class: v.Class, Reason: v.Reason,
				Message: "Upstream closed the session before setupComplete: " + strconv.Itoa(ce.Code) + " " + v.Message}
		}
		v := transportVerdict(err)
		return nil, nil, 0, v, liveTransportFailure(ex, v)
	}
	if !bytes.Contains(first, []byte(`"setupComplete"`)) {
		_ = up.Close()
		v := verdict.Verdict{Class: verdict.ServerError, Reason: "no_setup_complete", Message: "upstream answered the setup with something else than setupComplete"}
		return nil, nil, 0, v, liveTransportFailure(ex, v)
	}
	_ = up.SetReadDeadline(time.Time{})
	return up, first, mt, verdict.Verdict{Class: verdict.OK}, nil
}

func liveTransportFailure(ex *exchange, v verdict.Verdict) *Failure {
	status := fasthttp.StatusBadGateway
	if v.Class == verdict.Timeout {
		status = fasthttp.StatusGatewayTimeout
	}
	return &Failure{Status: status, Class: v.Class, Reason: v.Reason,
		Message: "Upstream " + ex.pool.upstream.Name + " Live session failed after " + strconv.Itoa(ex.attempts) + " attempt(s): " + ex.pool.redact(v.Message) + "."}
}

// classifyLiveClose judges a close frame from Google like an HTTP error:
// by what its reason says first (Google names the status there), then by
// code. A close it cannot place is the session's own fault (1007 for a
// bad setup, 1008 for a model the Live API does not serve) and is passed
// to the client as it is.
func classifyLiveClose(code int, reason string) verdict.Verdict {
	v := verdict.Verdict{Reason: "ws_close_" + strconv.Itoa(code), Message: reason}
	r := strings.ToUpper(reason)
	switch {
	case strings.Contains(r, "RESOURCE_EXHAUSTED") || strings.Contains(r, "QUOTA") || strings.Contains(r, "RATE LIMIT"):
		v.Class = verdict.RateLimited
	case strings.Contains(r, "API_KEY") || strings.Contains(r, "API KEY"):
		v.Class = verdict.InvalidKey
	case strings.Contains(r, "PERMISSION_DENIED") || strings.Contains(r, "PERMISSION DENIED"):
		v.Class = verdict.PermissionDenied
	case code == websocket.CloseInternalServerErr || code == websocket.CloseTryAgainLater || code == websocket.CloseServiceRestart || code == 1014:
		v.Class = verdict.ServerError
	default:
		v.Class = verdict.ClientError
	}
	return v
}

// liveCloseStatus is the status recorded for a session Google closed.
func liveCloseStatus(c verdict.Class) int {
	switch c {
	case verdict.RateLimited:
		return fasthttp.StatusTooManyRequests
	case verdict.InvalidKey, verdict.ClientError:
		return fasthttp.StatusBadRequest
	case verdict.PermissionDenied:
		return fasthttp.StatusForbidden
	}
	return fasthttp.StatusBadGateway
}

// liveCloseFor is the close frame that ends a session refused after the
// upgrade: Google's own close when it gave one, else a code for the
// Failure's status, with its message as the reason.
func liveCloseFor(f *Failure) (int, string) {
	if code, ok := strings.CutPrefix(f.Reason, "ws_close_"); ok {
		if n, err := strconv.Atoi(code); err == nil {
			return n, f.Message
		}
	}
	switch {
	case f.Status == fasthttp.StatusTooManyRequests:
		return websocket.CloseTryAgainLater, f.Message
	case f.Status == fasthttp.StatusUnauthorized || f.Status == fasthttp.StatusForbidden:
		return websocket.ClosePolicyViolation, f.Message
	case f.Status < 500:
		return websocket.CloseInvalidFramePayloadData, f.Message
	}
	return websocket.CloseInternalServerErr, f.Message
}

// writeClose sends a close frame; the reason is cut to what a control
// frame holds (123 bytes), on a character boundary.
func writeClose(c *websocket.Conn, code int, reason string) {
	if len(reason) > 123 {
		reason = reason[:123]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(liveCloseWait))
}

// awaitClose gives a side that was sent a close frame a moment to answer
// it, reading (and dropping) what it still sends, so its close answer is
// not lost to a connection reset.
func awaitClose(c *websocket.Conn) {
	_ = c.NetConn().SetReadDeadline(time.Now().Add(liveCloseWait))
	for {
		if _, _, err := c.NextReader(); err != nil {
			return
		}
	}
}

// relayLive passes messages both ways until either side ends, then ends
// the other: a close frame is passed on with its code and reason, a side
// that drops its connection gets the other closed at once. Each direction
// holds one message at a time, so a slow reader on one side stops reads
// on the other (backpressure), and an idle session holds no buffer.
func (s *Server) relayLive(ls *liveSession) {
	upDone := make(chan struct{})
	go func() {
		defer close(upDone)
		ls.pumpUpstream()
	}()
	ls.pumpClient()
	select {
	case <-upDone:
	case <-time.After(liveCloseWait):
		_ = ls.up.NetConn().Close()
		<-upDone
	}
	ls.judgeEnd(s)
}

// pumpClient relays client → Google.
func (ls *liveSession) pumpClient() {
	for {
		mt, r, err := ls.client.NextReader()
		if err != nil {
			ls.clientEnded(err)
			return
		}
		buf := bytebufferpool.Get()
		_, err = buf.ReadFrom(r)
		if err == nil {
			_ = ls.up.SetWriteDeadline(time.Now().Add(liveWriteWait))
			err = ls.up.WriteMessage(mt, buf.B)
			releaseLiveBuffer(buf)
			if err != nil { // Google's side is gone; its pump tells the client
				_ = ls.up.NetConn().Close()
				return
			}
			continue
		}
		releaseLiveBuffer(buf)
		ls.clientEnded(err)
		return
	}
}

// clientEnded passes the client's end to Google: its close frame, or, for
// a dropped connection (the Go SDK's Close sends no close frame), a close
// 1001 and the connection dropped at once.
func (ls *liveSession) clientEnded(err error) {
	ls.mu.Lock()
	answered := ls.endBy(endedByClient) != endedByClient
	ls.mu.Unlock()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		writeClose(ls.up, sendableCode(ce.Code), ce.Text)
		if !answered {
			_ = ls.up.NetConn().SetReadDeadline(time.Now().Add(liveCloseWait))
		}
		return
	}
	writeClose(ls.up, websocket.CloseGoingAway, "client went away")
	_ = ls.up.NetConn().Close()
}

// pumpUpstream relays Google → client, summing the usage Google reports.
func (ls *liveSession) pumpUpstream() {
	for {
		mt, r, err := ls.up.NextReader()
		if err != nil {
			ls.upstreamEnded(err)
			return
		}
		buf := bytebufferpool.Get()
		if _, err = buf.ReadFrom(r); err != nil {
			releaseLiveBuffer(buf)
			ls.upstreamEnded(err)
			return
		}
		if u, ok := parseUsage(buf.B); ok {
			ls.ex.usage.add(u)
		}
		_ = ls.client.SetWriteDeadline(time.Now().Add(liveWriteWait))
		err = ls.client.WriteMessage(mt, buf.B)
		releaseLiveBuffer(buf)
		if err != nil { // the client is gone: end its pump and Google's side
			ls.mu.Lock()
			ls.endBy(endedByClient)
			ls.mu.Unlock()
			_ = ls.client.NetConn().Close()
			_ = ls.up.NetConn().Close()
			return
		}
	}
}

// upstreamEnded passes Google's end to the client: its close frame with
// code and reason, or 1011 for a connection Google dropped.
func (ls *liveSession) upstreamEnded(err error) {
	ls.mu.Lock()
	if ls.upEnd == nil {
		ls.upEnd = err
	}
	quiet := ls.endBy(endedByUpstream) != endedByUpstream
	ls.mu.Unlock()
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		writeClose(ls.client, sendableCode(ce.Code), ls.ex.pool.redact(ce.Text))
	case !quiet:
		writeClose(ls.client, websocket.CloseInternalServerErr, "upstream connection lost")
	}
	if !quiet {
		_ = ls.client.NetConn().SetReadDeadline(time.Now().Add(liveCloseWait))
	}
}

// sendableCode is a close code that may go on the wire: "no status" and
// "abnormal closure" only describe a close locally.
func sendableCode(code int) int {
	switch code {
	case websocket.CloseNoStatusReceived, websocket.CloseAbnormalClosure, websocket.CloseTLSHandshake:
		return websocket.CloseNormalClosure
	}
	return code
}

// stop ends the session from balance's side (shutdown, max duration):
// the client gets code and reason, Google a going-away close. It does
// nothing once the session ended.
func (ls *liveSession) stop(code int, reason string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.done || ls.endBy(endedByBalance) != endedByBalance {
		return
	}
	writeClose(ls.client, code, reason)
	writeClose(ls.up, websocket.CloseGoingAway, reason)
	_ = ls.client.NetConn().SetReadDeadline(time.Now().Add(liveCloseWait))
	_ = ls.up.NetConn().SetReadDeadline(time.Now().Add(liveCloseWait))
}

// interrupt ends a session still in setup (shutdown): its read of the
// setup fails at once. It does nothing once the session ended.
func (ls *liveSession) interrupt() {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if !ls.done {
		_ = ls.client.NetConn().SetReadDeadline(time.Now())
	}
}

// release marks the session done before its owner closes the
// connections.
func (ls *liveSession) release() {
	ls.mu.Lock()
	ls.done = true
	ls.mu.Unlock()
}

// judgeEnd records how an open session ended. A session that Google cut
// with an error code is a failure of the session (502, or 429 and a
// cooled key when Google says quota); anything else is a session served.
func (ls *liveSession) judgeEnd(s *Server) {
	ex := ls.ex
	ex.status = fasthttp.StatusOK
	ex.verdict = verdict.Verdict{Class: verdict.OK}
	ls.mu.Lock()
	upEnd, by := ls.upEnd, ls.endedBy
	ls.mu.Unlock()
	if by != endedByUpstream {
		return
	}
	var ce *websocket.CloseError
	if errors.As(upEnd, &ce) {
		if ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway || ce.Code == websocket.CloseNoStatusReceived {
			return
		}
		v := classifyLiveClose(ce.Code, ex.pool.redact(ce.Text))
		if v.Class == verdict.ClientError {
			v.Class = verdict.ServerError
		}
		ex.verdict = v
		ex.status = liveCloseStatus(v.Class)
		ex.errBody = "upstream closed the session: " + strconv.Itoa(ce.Code) + " " + v.Message
		if v.Class.KeyFault() {
			s.judge(ex, ex.member, v, time.Now())
		}
		return
	}
	if upEnd != nil {
		ex.verdict = transportVerdict(upEnd)
		ex.status = fasthttp.StatusBadGateway
		ex.errBody = "upstream connection lost: " + ex.pool.redact(upEnd.Error())
	}
}

func releaseLiveBuffer(b *bytebufferpool.ByteBuffer) {
	if cap(b.B) <= liveKeepBuffer {
		bytebufferpool.Put(b)
	}
}

// add sums another message's usage into u. Live sessions report usage per
// turn; the record holds the session's total.
func (u *Usage) add(o Usage) {
	u.PromptTokenCount += o.PromptTokenCount
	u.CandidatesTokenCount += o.CandidatesTokenCount
	u.ThoughtsTokenCount += o.ThoughtsTokenCount
	u.CachedContentTokenCount += o.CachedContentTokenCount
	u.TotalTokenCount += o.TotalTokenCount
}

// liveSessions is the open Live sessions, for the per-token limit, status
// (sessions per key) and shutdown, and the dialers sessions leave by.
type liveSessions struct {
	mu       sync.Mutex
	open     map[*liveSession]time.Time
	perToken map[string]int
	closing  bool
	wg       sync.WaitGroup
	dialers  map[string]func(string) (net.Conn, error)
}

// admits is the check before the upgrade: a token at its live_sessions
// limit gets 429 as an HTTP answer. add checks again, for the race.
func (l *liveSessions) admits(t *tokenRuntime) *Failure {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refusal(t)
}

func (l *liveSessions) refusal(t *tokenRuntime) *Failure {
	if l.closing {
		return &Failure{Status: fasthttp.StatusServiceUnavailable, Message: "balance is shutting down.", RetryAfter: time.Second}
	}
	if n := t.cfg.LiveSessions; n > 0 && l.perToken[t.cfg.Name] >= n {
		return &Failure{Status: fasthttp.StatusTooManyRequests, RetryAfter: time.Second,
			Message: "Token " + t.cfg.Name + " has reached its limit of " + strconv.Itoa(n) + " open Live sessions (live_sessions)."}
	}
	return nil
}

// add registers a session within its token's limit, and arms the token's
// live_max_duration.
func (l *liveSessions) add(ls *liveSession) *Failure {
	t := ls.ex.token
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.refusal(t); f != nil {
		return f
	}
	if l.open == nil {
		l.open = map[*liveSession]time.Time{}
		l.perToken = map[string]int{}
	}
	l.open[ls] = time.Now()
	l.perToken[t.cfg.Name]++
	l.wg.Add(1)
	return nil
}

func (l *liveSessions) remove(ls *liveSession) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.open[ls]; !ok {
		return
	}
	delete(l.open, ls)
	l.perToken[ls.ex.token.cfg.Name]--
	l.wg.Done()
}

// perKey counts the open sessions on each key, for status.
func (l *liveSessions) perKey() map[*keypool.Key]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[*keypool.Key]int64{}
	for ls := range l.open {
		if ls.key != nil {
			out[ls.key]++
		}
	}
	return out
}

// closeAll ends every open session with 1001 (shutdown) and refuses new
// ones, then waits up to wait for their owners to record them.
func (l *liveSessions) closeAll(wait time.Duration) (int, bool) {
	l.mu.Lock()
	l.closing = true
	var open, setup []*liveSession
	for ls := range l.open {
		if ls.key != nil {
			open = append(open, ls)
		} else {
			setup = append(setup, ls)
		}
	}
	l.mu.Unlock()
	for _, ls := range open {
		ls.stop(websocket.CloseGoingAway, "balance is shutting down")
	}
	for _, ls := range setup { // opened will refuse them
		ls.interrupt()
	}
	open = append(open, setup...)
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return len(open), true
	case <-time.After(wait):
		return len(open), false
	}
}

// netDialer is the dial function for an egress proxy ("" = direct),
// built once per proxy.
func (l *liveSessions) netDialer(proxy string) (func(string) (net.Conn, error), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d, ok := l.dialers[proxy]; ok {
		return d, nil
	}
	d, err := upstream.NetDialer(proxy)
	if err != nil {
		return nil, err
	}
	if l.dialers == nil {
		l.dialers = map[string]func(string) (net.Conn, error){}
	}
	l.dialers[proxy] = d
	return d, nil
}
