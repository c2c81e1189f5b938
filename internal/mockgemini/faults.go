package mockgemini

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"time"
)

// FaultKind selects how a faulted key misbehaves.
type FaultKind int

const (
	// FaultNone is the zero value; a Fault of this kind does nothing.
	FaultNone FaultKind = iota
	// RateLimit answers 429 RESOURCE_EXHAUSTED with QuotaFailure and
	// RetryInfo (retryDelay = Fault.RetryDelay, default 7s).
	RateLimit
	// InvalidKey answers 400 INVALID_ARGUMENT with ErrorInfo API_KEY_INVALID.
	InvalidKey
	// PermissionDenied answers 403 PERMISSION_DENIED with the leaked-key
	// message, which quotes the full key (so redaction gets exercised).
	PermissionDenied
	// Unavailable answers 503 UNAVAILABLE "The model is overloaded...".
	Unavailable
	// Internal answers 500 INTERNAL.
	Internal
	// Slow sleeps Fault.Delay before answering normally.
	Slow
	// Hang never answers; the connection is held until the client goes
	// away or the server is closed.
	Hang
	// StreamCut sends Fault.AfterChunks events of a streamed answer and then
	// drops the connection without terminating the chunked body. Unary
	// requests are answered normally.
	StreamCut
	// StreamError sends Fault.AfterChunks events and then an in-band
	// error event (503 UNAVAILABLE). Unary requests are answered normally.
	StreamError
	// BadRequest answers 400 INVALID_ARGUMENT that is not key-related.
	BadRequest
	// StreamStop sends Fault.AfterChunks events (fewer than the whole
	// answer) and then ends the stream cleanly, without the event that
	// carries finishReason: an upstream that stopped early. Unary requests
	// are answered normally.
	StreamStop
	// HugeAnswer answers a unary request with a valid 200 answer whose text
	// is Fault.Bytes long (default 1 MiB): a runaway upstream body.
	HugeAnswer
	// KeyInHeader answers normally but quotes the request's key in a
	// response header (X-Debug-Key), so redaction of headers gets exercised.
	KeyInHeader
	// LiveClose ends a Live API session with Fault.CloseCode after
	// Fault.AfterChunks turns; 0 closes it right after the setup message,
	// before setupComplete. HTTP requests are answered normally.
	LiveClose
	// StreamStall answers a streamed request with 200 and Fault.AfterChunks
	// events, then sends nothing more, holding the connection until the
	// client closes it or the server closes: a model thinking silently.
	// Unary requests hang like Hang.
	StreamStall
)

var faultNames = [...]string{"none", "rate-limit", "invalid-key", "permission-denied", "unavailable",
	"internal", "slow", "hang", "stream-cut", "stream-error", "bad-request", "stream-stop", "huge-answer", "key-in-header", "live-close", "stream-stall"}

func (k FaultKind) String() string {
	if k >= 0 && int(k) < len(faultNames) {
		return faultNames[k]
	}
	return "fault(" + strconv.Itoa(int(k)) + ")"
}

// Fault describes how requests made with one key fail.
type Fault struct {
	Kind FaultKind
	// Model restricts the fault to requests for this model id (bare, e.g.
	// "gemini-2.5-flash"); "" applies it to every request with the key,
	// including models list/get. A per-model RateLimit mirrors Gemini's
	// per-key-per-model quotas.
	Model string
	// RetryDelay is the RetryInfo.retryDelay of a RateLimit (default 7s).
	RetryDelay time.Duration
	// Delay is how long a Slow fault waits before answering.
	Delay time.Duration
	// Times makes the fault fire this many times and then heal; 0 means
	// forever.
	Times int
	// AfterChunks is how many stream events StreamCut/StreamError send
	// before failing.
	AfterChunks int
	// Bytes is the text length of a HugeAnswer.
	Bytes int
	// CloseCode is the WebSocket close code of a LiveClose.
	CloseCode int
}

// faultState is a Fault plus its remaining-uses counter.
type faultState struct {
	Fault
	remaining atomic.Int64
}

// take consumes one use of the fault and reports whether it fires.
func (f *faultState) take() bool {
	if f.Times <= 0 {
		return true
	}
	return f.remaining.Add(-1) >= 0
}

func (f *faultState) exhausted() bool { return f.Times > 0 && f.remaining.Load() <= 0 }

// SetFault makes key fail as f describes. A key holds one fault per Model:
// setting a fault for the same (key, Model) replaces it, while faults for
// other models of the key stay. A model-specific fault wins over the
// key-wide one ("").
func (s *Server) SetFault(key string, f Fault) {
	st := &faultState{Fault: f}
	st.remaining.Store(int64(f.Times))
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	list := s.faults[key]
	next := make([]*faultState, 0, len(list)+1)
	for _, old := range list {
		if old.Model != f.Model {
			next = append(next, old)
		}
	}
	s.faults[key] = append(next, st)
	s.faultCount.Store(int64(len(s.faults)))
}

// ClearFault removes every fault of key.
func (s *Server) ClearFault(key string) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	delete(s.faults, key)
	s.faultCount.Store(int64(len(s.faults)))
}

// faultFor returns the programmatic fault that fires for (key, model), or
// nil. It consumes one use of a counted fault.
func (s *Server) faultFor(key, model []byte) *faultState {
	if s.faultCount.Load() == 0 {
		return nil
	}
	s.faultMu.RLock()
	list := s.faults[string(key)]
	s.faultMu.RUnlock()
	var wide, specific *faultState
	for _, f := range list {
		if f.Kind == FaultNone || f.exhausted() {
			continue
		}
		if f.Model == "" {
			wide = f
		} else if string(model) == f.Model {
			specific = f
		}
	}
	for _, f := range [2]*faultState{specific, wide} {
		if f != nil && f.take() {
			return f
		}
	}
	return nil
}

// nameFault derives a fault from the key's spelling, for the CLI, the demo
// and benchmarks where no Go API is at hand: "-429-", "-invalid-", "-403-",
// "-503-", "-slow-", "-cut-", "-wsclose-" inside the key, or Options.FailMod.
func (s *Server) nameFault(key []byte) FaultKind {
	if bytes.IndexByte(key, '-') >= 0 {
		switch {
		case bytes.Contains(key, []byte("-429-")):
			return RateLimit
		case bytes.Contains(key, []byte("-invalid-")):
			return InvalidKey
		case bytes.Contains(key, []byte("-403-")):
			return PermissionDenied
		case bytes.Contains(key, []byte("-503-")):
			return Unavailable
		case bytes.Contains(key, []byte("-slow-")):
			return Slow
		case bytes.Contains(key, []byte("-cut-")):
			return StreamCut
		case bytes.Contains(key, []byte("-wsclose-")):
			return LiveClose
		}
	}
	if s.opts.FailMod > 0 {
		if n, ok := trailingNumber(key); ok && n%s.opts.FailMod == 0 {
			return RateLimit
		}
	}
	return FaultNone
}

// trailingNumber parses the decimal digits that end key ("key-007" → 7).
func trailingNumber(key []byte) (int, bool) {
	i := len(key)
	for i > 0 && key[i-1] >= '0' && key[i-1] <= '9' && len(key)-i < 9 {
		i--
	}
	if i == len(key) {
		return 0, false
	}
	n := 0
	for _, c := range key[i:] {
		n = n*10 + int(c-'0')
	}
	return n, true
}
