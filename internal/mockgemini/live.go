package mockgemini

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// The Live API (BidiGenerateContent over a WebSocket), as the mock plays
// it:
//
//   - the upgrade is refused with the HTTP mock's error answer for a key
//     without credentials, an invalid key, or a key-wide fault (RateLimit,
//     InvalidKey, PermissionDenied, Unavailable, Internal, BadRequest);
//   - the first message must be {"setup":{"model":…}}, else the session is
//     closed with 1007; it is answered with {"setupComplete":{}};
//   - clientContent is echoed ("Echo: <text>") as serverContent, then
//     turnComplete with usageMetadata; text containing "call a tool" in a
//     session whose setup declares a function gets a toolCall instead, and
//     the toolResponse is echoed back ("Tool said: <response JSON>");
//   - realtimeInput with audio gets LiveAudioFrames PCM frames
//     (audio/pcm;rate=24000) and turnComplete; realtimeInput text is echoed;
//   - a LiveClose fault closes the session with Fault.CloseCode after
//     Fault.AfterChunks turns (0: right after setup, before setupComplete).
//
// Every server message goes out as a binary frame holding JSON, as Google
// sends them.

// LiveAudioFrames is how many audio frames an audio turn is answered with.
const LiveAudioFrames = 3

// liveAudioFrameBytes is the PCM size of one answered audio frame (20 ms
// of 16-bit mono at 24 kHz).
const liveAudioFrameBytes = 960

const livePathPrefix = "/ws/google.ai.generativelanguage."

var liveUpgrader = websocket.FastHTTPUpgrader{
	ReadBufferSize:  4 << 10,
	WriteBufferSize: 4 << 10,
	WriteBufferPool: &sync.Pool{},
	CheckOrigin:     func(*fasthttp.RequestCtx) bool { return true },
}

// liveReadLimit bounds one client message (base64 audio can be large).
const liveReadLimit = 32 << 20

// LiveSessions returns how many Live sessions were upgraded (past the
// handshake) since the server started.
func (s *Server) LiveSessions() int64 { return s.liveUpgraded.Load() }

// isLivePath reports whether p is a Live API path (after fasthttp has
// collapsed doubled slashes).
func isLivePath(p []byte) bool { return bytes.HasPrefix(p, []byte(livePathPrefix)) }

// serveLive answers a Live API upgrade.
func (s *Server) serveLive(ctx *fasthttp.RequestCtx) {
	rest := strings.TrimPrefix(string(ctx.Path()), livePathPrefix)
	version, method, ok := strings.Cut(rest, ".GenerativeService.")
	if !ok || (version != "v1beta" && version != "v1alpha") || (method != "BidiGenerateContent" && method != "BidiGenerateContentConstrained") {
		s.writeError(ctx, errNotFound("Requested entity was not found."), false)
		return
	}
	s.total.Add(1)
	s.bump(&s.perPath, ctx.Path())
	r := request{version: version}
	r.key = s.keyOf(ctx, false)
	if tok, found := bytes.CutPrefix(ctx.Request.Header.Peek("Authorization"), []byte("Token ")); found && len(r.key) == 0 {
		key, known := s.ephemeralKey(string(bytes.TrimSpace(tok)))
		if !known {
			s.writeError(ctx, apiError{code: 401, status: "UNAUTHENTICATED", message: "Ephemeral token is not valid or has expired."}, false)
			return
		}
		r.key = []byte(key)
	}
	if len(r.key) > 0 {
		s.bump(&s.perKey, r.key)
	}
	if !s.opts.DisableRecording {
		s.record(ctx, r.key)
	}
	if !s.authenticate(ctx, &r) {
		return
	}
	var f Fault
	if st := s.faultFor(r.key, nil); st != nil {
		f = st.Fault
	} else if k := s.nameFault(r.key); k != FaultNone {
		f = Fault{Kind: k}
		if k == LiveClose {
			f.AfterChunks, f.CloseCode = 1, websocket.CloseInternalServerErr
		}
	}
	switch f.Kind {
	case RateLimit:
		s.writeError(ctx, errRateLimit("", cmpDuration(f.RetryDelay, 7*time.Second)), false)
		return
	case InvalidKey:
		s.writeError(ctx, errInvalidKey(), false)
		return
	case PermissionDenied:
		s.writeError(ctx, errLeakedKey(string(r.key)), false)
		return
	case Unavailable:
		s.writeError(ctx, errUnavailable(), false)
		return
	case Internal:
		s.writeError(ctx, errInternal(), false)
		return
	case BadRequest:
		s.writeError(ctx, errBadRequest(msgBadRequest), false)
		return
	}
	if !websocket.FastHTTPIsWebSocketUpgrade(ctx) {
		s.writeError(ctx, errBadRequest("The Live API needs a WebSocket upgrade."), false)
		return
	}
	s.streams.Add(1)
	err := liveUpgrader.Upgrade(ctx, func(c *websocket.Conn) {
		defer s.streams.Done()
		s.liveUpgraded.Add(1)
		done := make(chan struct{})
		defer close(done)
		go func() { // the server's Close ends the session
			select {
			case <-s.closed:
				_ = c.Close()
			case <-done:
			}
		}()
		s.liveSession(c, f)
		_ = c.Close()
	})
	if err != nil {
		s.streams.Done()
	}
}

func cmpDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// liveSession plays one session until the client leaves or a fault ends it.
func (s *Server) liveSession(c *websocket.Conn, f Fault) {
	c.SetReadLimit(liveReadLimit)
	// Answer the client's close with its own code, as Google does.
	_, msg, err := c.ReadMessage()
	if err != nil {
		return
	}
	if last := s.lastReq.Load(); last != nil && !s.opts.DisableRecording {
		// The session's recorded request is its upgrade, with the setup
		// message as its body.
		r := *last
		r.Body = append([]byte(nil), msg...)
		s.lastReq.Store(&r)
	}
	setup := gjson.GetBytes(msg, "setup")
	model := setup.Get("model").String()
	if !setup.IsObject() || model == "" {
		liveClose(c, websocket.CloseInvalidFramePayloadData, "Invalid JSON payload: the first message must be a setup with a model.")
		return
	}
	if f.Kind == LiveClose && f.AfterChunks <= 0 {
		liveClose(c, f.CloseCode, "mock: session closed before setupComplete")
		return
	}
	tool := setup.Get("tools.#.functionDeclarations.0.name").Array()
	fn := ""
	if len(tool) > 0 {
		fn = tool[0].String()
	}
	if !liveSend(c, []byte(`{"setupComplete":{}}`)) {
		return
	}
	turns := 0
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		m := gjson.ParseBytes(msg)
		var ok bool
		switch {
		case m.Get("clientContent").Exists():
			text := lastTurnText(m.Get("clientContent.turns"))
			if fn != "" && strings.Contains(text, "call a tool") {
				b := append([]byte(`{"toolCall":{"functionCalls":[{"id":"mock-call-1","name":`), jsonw.AppendMarshal(nil, fn)...)
				ok = liveSend(c, append(b, `,"args":{"city":"Paris"}}]}}`...))
				continue
			}
			ok = liveText(c, "Echo: "+text, len(text))
		case m.Get("toolResponse").Exists():
			resp := m.Get("toolResponse.functionResponses.0.response").Raw
			ok = liveText(c, "Tool said: "+resp, len(resp))
		case m.Get("realtimeInput").Exists():
			in := m.Get("realtimeInput")
			data := in.Get("audio.data").String()
			if data == "" {
				data = in.Get("mediaChunks.0.data").String()
			}
			switch {
			case data != "":
				ok = liveAudio(c, base64.StdEncoding.DecodedLen(len(data)))
			case in.Get("text").Exists():
				ok = liveText(c, "Echo: "+in.Get("text").String(), len(in.Get("text").String()))
			default:
				ok = true // activity markers and stream ends need no answer
			}
		default:
			liveClose(c, websocket.CloseInvalidFramePayloadData, "Invalid JSON payload: unknown message.")
			return
		}
		if !ok {
			return
		}
		turns++
		if f.Kind == LiveClose && turns >= f.AfterChunks {
			liveClose(c, f.CloseCode, "mock: session closed after "+strconv.Itoa(turns)+" turn(s)")
			return
		}
	}
}

// lastTurnText is the text of the last turn's parts.
func lastTurnText(turns gjson.Result) string {
	all := turns.Array()
	if len(all) == 0 {
		return ""
	}
	var b strings.Builder
	for _, p := range all[len(all)-1].Get("parts").Array() {
		b.WriteString(p.Get("text").String())
	}
	return b.String()
}

// liveText answers a turn with text, then turnComplete with usage.
func liveText(c *websocket.Conn, text string, promptChars int) bool {
	b := append([]byte(`{"serverContent":{"modelTurn":{"role":"model","parts":[{"text":`), jsonw.AppendMarshal(nil, text)...)
	if !liveSend(c, append(b, `}]}}}`...)) {
		return false
	}
	return liveTurnComplete(c, promptChars/4+1, len(text)/4+1)
}

// liveAudio answers an audio turn with PCM frames, then turnComplete.
func liveAudio(c *websocket.Conn, inBytes int) bool {
	pcm := make([]byte, liveAudioFrameBytes)
	for i := range pcm {
		pcm[i] = byte(i)
	}
	frame := append([]byte(`{"serverContent":{"modelTurn":{"role":"model","parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"`),
		base64.StdEncoding.EncodeToString(pcm)...)
	frame = append(frame, `"}}]}}}`...)
	for range LiveAudioFrames {
		if !liveSend(c, frame) {
			return false
		}
	}
	// Audio costs 25 tokens per second: 32 000 bytes of 16 kHz PCM.
	return liveTurnComplete(c, inBytes/1280+1, LiveAudioFrames)
}

func liveTurnComplete(c *websocket.Conn, prompt, response int) bool {
	b := []byte(`{"serverContent":{"generationComplete":true,"turnComplete":true},"usageMetadata":{"promptTokenCount":`)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = append(b, `,"responseTokenCount":`...)
	b = strconv.AppendInt(b, int64(response), 10)
	b = append(b, `,"totalTokenCount":`...)
	b = strconv.AppendInt(b, int64(prompt+response), 10)
	return liveSend(c, append(b, "}}"...))
}

func liveSend(c *websocket.Conn, msg []byte) bool {
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.WriteMessage(websocket.BinaryMessage, msg) == nil
}

func liveClose(c *websocket.Conn, code int, reason string) {
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

// Ephemeral tokens: POST /v1alpha/auth_tokens mints one for the calling
// key; a Live connect with Authorization: Token <name> acts as that key.

var pathAuthTokens = []byte("/v1alpha/auth_tokens")

// serveAuthTokens answers POST /v1alpha/auth_tokens.
func (s *Server) serveAuthTokens(ctx *fasthttp.RequestCtx) {
	s.total.Add(1)
	s.bump(&s.perPath, ctx.Path())
	r := request{version: "v1alpha"}
	r.key = s.keyOf(ctx, false)
	if len(r.key) > 0 {
		s.bump(&s.perKey, r.key)
	}
	if !s.opts.DisableRecording {
		s.record(ctx, r.key)
	}
	if !ctx.IsPost() {
		s.writeError(ctx, errNotFound("Method not found."), false)
		return
	}
	if _, ok := s.admit(ctx, &r, false); !ok {
		return
	}
	s.ephMu.Lock()
	if s.ephemeral == nil {
		s.ephemeral = map[string]string{}
	}
	s.ephSeq++
	name := "auth_tokens/mock-" + strconv.FormatInt(s.ephSeq, 10) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	s.ephemeral[name] = string(r.key)
	s.ephMu.Unlock()
	expire := time.Now().Add(30 * time.Minute).UTC().Format(time.RFC3339)
	if t, err := time.Parse(time.RFC3339, gjson.GetBytes(ctx.PostBody(), "expireTime").String()); err == nil && t.After(time.Now()) {
		expire = t.UTC().Format(time.RFC3339)
	}
	b := append([]byte(`{"name":`), jsonw.AppendMarshal(nil, name)...)
	b = append(b, `,"expireTime":`...)
	b = jsonw.AppendMarshal(b, expire)
	writeCompact(ctx, append(b, '}'))
}

// ephemeralKey is the key that minted an ephemeral token.
func (s *Server) ephemeralKey(name string) (string, bool) {
	s.ephMu.Lock()
	defer s.ephMu.Unlock()
	k, ok := s.ephemeral[name]
	return k, ok
}
