package engine

import (
	"strconv"
	"sync"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/balanceproxy/balance/engine/gemini"
	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/engine/openai"
	"github.com/balanceproxy/balance/engine/upstream"
	"github.com/balanceproxy/balance/hooks"
	"github.com/balanceproxy/balance/internal/verdict"
	"github.com/balanceproxy/balance/store"
)

// exchange is one client request's state from routing to the stats
// record. It never holds the RequestCtx: stream writers outlive it.
type exchange struct {
	start   time.Time
	id      []byte
	adapter adapter
	call    call

	token  *tokenRuntime
	tstate *tokenState
	model  resolved
	pool   *poolRuntime

	attempts int
	member   *keypool.Member
	verdict  verdict.Verdict
	// inBandError is the (small) error event a 200 stream opened with.
	inBandError []byte
	// peeked holds the first bytes of a stream, read to see whether it
	// opens with an in-band error before the client is committed to it.
	peeked []byte

	status   int
	ttfb     time.Duration
	streamed bool
	usage    Usage
	errBody  string
	// requestBody is the client's body kept for the record of a failed
	// request (store.record_request_bodies).
	requestBody string

	// chain is the request's hooks (nil without any); retained are those
	// pinned until the request ends so a reload cannot close them between
	// the request and response phases.
	chain    hooks.Chain
	retained []*hooks.Hook
	// scratch is a reusable buffer (the upstream path).
	scratch []byte
	// upCall is the model call the upstream path was built for, so a
	// fallback pool of another kind can build its own; zero for calls
	// whose path is not built from a model call (compat, models list).
	upCall gemini.Call
	// detached is set once a stream writer owns the exchange.
	detached bool
	// logRequest is server.log_requests of the request's generation.
	logRequest bool
	// body holds the client's request body, read by readBody; bodyReserved
	// is what it counts against server.max_body_memory.
	body         *bytebufferpool.ByteBuffer
	bodyReserved int64
	// bodyRead is set once the whole body is in memory: only then may
	// anything call ctx.Request.Body(), which would read the rest of an
	// unread body.
	bodyRead bool
	// streamsCut is closed when shutdown cuts the open streams, so that
	// waits inside a stream's sink (pacing) end at once.
	streamsCut <-chan struct{}

	// pin, when set, is the one key that may serve the request: the owner
	// of the resource pinName it names (resources.go).
	pin     *keypool.Key
	pinName string

	// upstream holds the connection of the attempt in flight, so that a
	// client's hang-up or shutdown can abandon it (clientwatch.go).
	upstream upstream.Call
	// watched is set while the client watch holds the request (only the
	// request's own goroutine touches it); watchSlot is its place there,
	// -1 once the watch let go (guarded by the watch's lock).
	watched   bool
	watchSlot int
	// drained backs forward's list of the pools the request has drained.
	drained [4]*poolRuntime
	// failedAttempts are the attempts that failed before the last one,
	// for the error log; handed to the record, never reused.
	failedAttempts []store.Attempt
	// upload is the upload body the request streamed to Google, if any;
	// uploaded is set when the request finished an upload (stats).
	upload   *uploadBody
	uploaded bool
}

// call is what a request's adapter read from it: enough for the driver to
// admit, forward and record it.
type call struct {
	// route names the call in stats ("generateContent", "chat.completions").
	route string
	// model is the model asked for; "" for calls on no model (lists).
	model string
	// body is set when the call carries a JSON body.
	body bool
	// stream is set when the client asked for a streamed answer.
	stream bool
	// passAnswer is set when Google's answer is passed on as it is: it is
	// read straight into the client's response.
	passAnswer bool
	// keepAlive, when positive, serves a streaming client from a unary
	// upstream call with SSE comments while it waits.
	keepAlive time.Duration

	// apiPath is the path without its mount prefix, what hook routes
	// match; set only when the request has hooks.
	apiPath string
	// native is the parsed path of a native Gemini call.
	native gemini.Call
	// subPath is the path of a call on Google's OpenAI-compatible
	// endpoint, after /openai/v1.
	subPath string
	// modelID is the id of GET /v1/models/{id}.
	modelID string
	// reply is what a chat completion's answer is translated with.
	reply openai.Reply
	// embeddings is the translated embeddings request.
	embeddings *openai.EmbeddingsRequest
	// created is the creation time an images answer reports.
	created int64
	// live is the parsed path of a Live API session.
	live liveCall
	// refs is set on calls whose body may name files or a cached
	// content: the driver pins them to the owning key.
	refs bool
	// resource is the parsed call of the Files, cachedContents and
	// batches routes (adapter_files.go).
	resource resourceCall
	// responses is a Responses API call's state.
	responses *responsesCall
	// imageURLs is set when an images call asked for links.
	imageURLs bool
	// speech is the translated audio/speech request.
	speech *openai.SpeechRequest
}

var exchangePool = sync.Pool{New: func() any { return &exchange{id: make([]byte, 0, 32), scratch: make([]byte, 0, 128)} }}

// newExchange starts a request's bookkeeping with a fresh request id: a
// per-process random prefix and a counter, unique within the run. start is
// when the server began reading the request (fasthttp's ctx.Time).
func (s *Server) newExchange(a adapter, start time.Time) *exchange {
	ex := exchangePool.Get().(*exchange)
	id, scratch, peeked, retained := ex.id[:0], ex.scratch[:0], ex.peeked[:0], ex.retained[:0]
	*ex = exchange{start: start, adapter: a, scratch: scratch, peeked: peeked, retained: retained, watchSlot: -1}
	id = append(id, s.idPrefix...)
	id = append(id, '-')
	ex.id = strconv.AppendUint(id, s.idSeq.Add(1), 36)
	return ex
}

// releaseExchange returns an exchange to the pool once nothing uses it.
func releaseExchange(ex *exchange) {
	if cap(ex.peeked) > 64<<10 {
		ex.peeked = nil
	}
	clear(ex.retained)
	exchangePool.Put(ex)
}

// record turns a finished exchange into its stats record.
func (ex *exchange) record() Record {
	rec := Record{
		Time: ex.start, RequestID: string(ex.id), Route: ex.call.route, Protocol: ex.adapter.protocol().String(),
		ModelAsked: ex.model.Asked, ModelSent: ex.model.Target,
		Status: ex.status, Attempts: ex.attempts, Latency: time.Since(ex.start), TTFB: ex.ttfb,
		PromptTokens: ex.usage.PromptTokenCount, CompletionTokens: ex.usage.CandidatesTokenCount,
		ThoughtTokens: ex.usage.ThoughtsTokenCount, CachedTokens: ex.usage.CachedContentTokenCount,
		Streamed: ex.streamed, ErrorBody: ex.errBody, RequestBody: ex.requestBody,
		FailedAttempts: ex.failedAttempts,
	}
	if ex.upload != nil {
		rec.UploadBytes = ex.upload.sent.Load()
	}
	if ex.uploaded {
		rec.Uploads = 1
	}
	if ex.status >= 400 {
		rec.ErrorClass = ex.verdict.Class.String()
		if ex.verdict.Class == verdict.OK {
			rec.ErrorClass = verdict.ClientError.String()
		}
	}
	if ex.token != nil {
		rec.Token = ex.token.cfg.Name
	}
	if ex.pool != nil {
		rec.Pool = ex.pool.cfg.Name
	}
	if ex.member != nil {
		rec.KeyFP = ex.member.Key.FP
	}
	return rec
}
