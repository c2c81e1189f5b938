package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const geminiBody = `{"contents":[{"role":"user","parts":[{"text":"hello there"},{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}],"generationConfig":{"temperature":0.2}}`
const openAIBody = `{"model":"gpt-4o","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi you"}]}]}`

func env(protocol, body string, headers ...Header) *Envelope {
	return &Envelope{
		Route: "/v1beta", Protocol: protocol, Pool: "main", Model: "gemini-2.5-flash",
		Token:   Token{Name: "alice", Labels: map[string]string{"team": "search"}},
		Headers: headers, Body: []byte(body),
	}
}

func TestActions(t *testing.T) {
	rt := newTestRuntime(t)
	tests := []struct {
		desc     string
		config   string
		phase    Phase
		in       *Envelope
		want     Result
		wantBody string // compared as JSON when set
	}{
		{desc: "continue request", config: `{"mode":"continue"}`, phase: PhaseRequest, in: env("gemini", geminiBody),
			want: Result{Action: ActionContinue}},
		{desc: "continue response", config: `{"mode":"continue"}`, phase: PhaseResponse, in: env("gemini", geminiBody),
			want: Result{Action: ActionContinue}},
		{desc: "respond", config: `{"mode":"respond"}`, phase: PhaseRequest, in: env("gemini", geminiBody),
			want: Result{Action: ActionRespond, Status: 200}, wantBody: `{"answered":"request"}`},
		{desc: "respond in response phase", config: `{"mode":"respond"}`, phase: PhaseResponse, in: env("openai", openAIBody),
			want: Result{Action: ActionRespond, Status: 200}, wantBody: `{"answered":"response"}`},
		{desc: "reject gemini shape", config: `{"mode":"reject"}`, phase: PhaseRequest, in: env("gemini", geminiBody),
			want:     Result{Action: ActionReject, Status: 403},
			wantBody: `{"error":{"code":403,"message":"blocked by test","status":"PERMISSION_DENIED"}}`},
		{desc: "reject openai shape", config: `{"mode":"reject"}`, phase: PhaseRequest, in: env("openai", openAIBody),
			want:     Result{Action: ActionReject, Status: 403},
			wantBody: `{"error":{"message":"blocked by test","type":"permission_denied","param":null,"code":null}}`},
		{desc: "headers", config: `{"mode":"headers"}`, phase: PhaseResponse, in: env("gemini", geminiBody),
			want: Result{Action: ActionContinue, SetHeaders: []Header{{"x-hook", "response"}}, RemoveHeaders: []string{"x-drop"}}},
		{desc: "body transform", config: `{"mode":"model","model":"gemini-2.5-pro"}`, phase: PhaseRequest, in: env("openai", openAIBody),
			want:     Result{Action: ActionContinue},
			wantBody: strings.Replace(openAIBody, "gpt-4o", "gemini-2.5-pro", 1)},
		{desc: "gemini texts", config: `{"mode":"upper"}`, phase: PhaseRequest, in: env("gemini", geminiBody),
			want: Result{Action: ActionContinue}, wantBody: strings.Replace(geminiBody, "hello there", "HELLO THERE", 1)},
		{desc: "openai texts", config: `{"mode":"upper"}`, phase: PhaseRequest, in: env("openai", openAIBody),
			want:     Result{Action: ActionContinue},
			wantBody: strings.NewReplacer("be brief", "BE BRIEF", "hi you", "HI YOU").Replace(openAIBody)},
		{desc: "streamed chunk", config: `{"mode":"upper"}`, phase: PhaseChunk,
			in:   env("gemini", `{"candidates":[{"content":{"role":"model","parts":[{"text":"partial answer"}]}}]}`),
			want: Result{Action: ActionContinue}, wantBody: `{"candidates":[{"content":{"role":"model","parts":[{"text":"PARTIAL ANSWER"}]}}]}`},
		{desc: "upper with nothing to change", config: `{"mode":"upper"}`, phase: PhaseChunk,
			in: env("gemini", `{"usageMetadata":{"totalTokenCount":3}}`), want: Result{Action: ActionContinue}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h := load(t, rt, Spec{Config: []byte(tc.config), MaxInstances: 1})
			got, err := h.Call(context.Background(), tc.phase, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantBody != "" {
				assertJSONEqual(t, got.Body, tc.wantBody)
			} else if got.Body != nil {
				t.Errorf("body = %s, want unchanged", got.Body)
			}
			got.Body = nil
			if !equalResult(got, tc.want) {
				t.Errorf("result = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func equalResult(a, b Result) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func assertJSONEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %s is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	gj, _ := json.Marshal(g)
	wj, _ := json.Marshal(w)
	if string(gj) != string(wj) {
		t.Errorf("body = %s\nwant   %s", gj, wj)
	}
}

// TestEnvelopeSeenByGuest checks what a guest actually receives, including
// that credentials never reach it.
func TestEnvelopeSeenByGuest(t *testing.T) {
	rt := newTestRuntime(t)
	h := load(t, rt, Spec{Config: []byte(`{"mode":"echo","x":[1,2]}`)})
	const secret = "AIzaSySECRETSECRETSECRET1234"
	var hl HeaderList
	for _, kv := range [][2]string{
		{"Authorization", "Bearer " + secret}, {"X-Goog-Api-Key", secret}, {"User-Agent", "sdk/1.0"},
		{"Referer", "https://x.test/v1beta/models?key=" + secret + "&alt=sse"}, {"Cookie", "s=" + secret},
	} {
		hl.Add([]byte(kv[0]), []byte(kv[1]))
	}
	in := env("gemini", `{"contents":[]}`, hl...)
	// Headers passed without HeaderList are filtered by the encoder too.
	in.Headers = append(in.Headers, Header{"x-goog-api-key", secret}, Header{"AUTHORIZATION", secret})
	res, err := h.Call(context.Background(), PhaseRequest, in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.Body), secret) {
		t.Fatalf("guest saw the secret: %s", res.Body)
	}
	var got map[string]string
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"phase": "request", "route": "/v1beta", "protocol": "gemini", "pool": "main",
		"model": "gemini-2.5-flash", "token": "alice", "team": "search", "ua": "sdk/1.0",
		"headers": "referer,user-agent", "body": `{"contents":[]}`, "config": `{"mode":"echo","x":[1,2]}`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestEnvelopeNeverCarriesCredentials(t *testing.T) {
	const secret = "AIzaSyTOPSECRETVALUE000000"
	tests := []struct {
		desc    string
		headers []Header
	}{
		{"authorization", []Header{{"Authorization", "Bearer " + secret}}},
		{"goog key any case", []Header{{"x-GOOG-api-KEY", secret}}},
		{"proxy auth", []Header{{"Proxy-Authorization", "Basic " + secret}}},
		{"key query param in a value", []Header{{"X-Original-URL", "/v1beta/models/m:generateContent?alt=sse&key=" + secret}}},
		{"key param first", []Header{{"Referer", "https://h/p?key=" + secret}}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			b := appendEnvelope(nil, PhaseRequest, &Envelope{Headers: tc.headers}, nil, true)
			if strings.Contains(string(b), secret) {
				t.Errorf("envelope carries the secret: %s", b)
			}
			if !json.Valid(b) {
				t.Errorf("envelope is not JSON: %s", b)
			}
			var hl HeaderList
			for _, h := range tc.headers {
				hl.Add([]byte(h.Name), []byte(h.Value))
			}
			for _, h := range append(hl, EnvelopeHeaders(tc.headers)...) {
				if strings.Contains(h.Value, secret) {
					t.Errorf("helper kept the secret: %+v", h)
				}
			}
		})
	}
	// Guests cannot set or remove credentials either.
	r, err := decodeResult([]byte(`{"action":"continue","headers":{"set":{"X-Goog-Api-Key":"mine","x-ok":"1"},"remove":["authorization","x-gone"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.SetHeaders) != 1 || r.SetHeaders[0] != (Header{"x-ok", "1"}) || len(r.RemoveHeaders) != 1 || r.RemoveHeaders[0] != "x-gone" {
		t.Errorf("credential edits not dropped: %+v", r)
	}
}

func callErr(t *testing.T, err error, want ErrorKind) *CallError {
	t.Helper()
	var ce *CallError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *CallError of kind %s", err, want)
	}
	if ce.Kind != want {
		t.Fatalf("kind = %s (%v), want %s", ce.Kind, ce, want)
	}
	if ce.Hook == "" || ce.Module == "" {
		t.Errorf("CallError does not name the hook and module: %+v", ce)
	}
	return ce
}

func withMode(mode string) *Envelope {
	return env("gemini", geminiBody, Header{"x-mode", mode})
}

func TestRunawayGuestIsStoppedAtTimeout(t *testing.T) {
	rt := newTestRuntime(t)
	h := load(t, rt, Spec{Timeout: 50 * time.Millisecond, MaxInstances: 1, Fail: FailOpen})
	start := time.Now()
	_, err := h.Call(context.Background(), PhaseRequest, withMode("spin"))
	elapsed := time.Since(start)
	callErr(t, err, KindTimeout)
	if elapsed > 2*time.Second {
		t.Errorf("spin took %v to stop", elapsed)
	}
	s := h.Stats()
	if s.ByKind[KindTimeout] != 1 || s.Instances != 0 || s.LastError == "" || s.Fail != FailOpen {
		t.Errorf("stats after timeout = %+v", s)
	}
	res, err := h.Call(context.Background(), PhaseRequest, withMode("count"))
	if err != nil {
		t.Fatalf("call after timeout: %v", err)
	}
	assertJSONEqual(t, res.Body, `{"calls":1}`)
}

func TestUnboundedAllocationTrapsAtCap(t *testing.T) {
	rt := newTestRuntime(t)
	h := load(t, rt, Spec{MemoryLimitBytes: 16 << 20, Timeout: 5 * time.Second, MaxInstances: 1})
	_, err := h.Call(context.Background(), PhaseRequest, withMode("hog"))
	callErr(t, err, KindOOM)
	if s := h.Stats(); s.Instances != 0 {
		t.Errorf("OOM instance kept: %+v", s)
	}
	if _, err := h.Call(context.Background(), PhaseRequest, withMode("continue")); err != nil {
		t.Fatalf("call after OOM: %v", err)
	}
}

// TestPanicDiscardsInstance: a Go guest that panicked can answer the next
// call as if healthy; the host must not give it the chance.
func TestPanicDiscardsInstance(t *testing.T) {
	rt := newTestRuntime(t)
	h := load(t, rt, Spec{MaxInstances: 1})
	for i := 0; i < 3; i++ { // warm the only instance: calls = 3
		if _, err := h.Call(context.Background(), PhaseRequest, withMode("continue")); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.Call(context.Background(), PhaseRequest, withMode("panic"))
	ce := callErr(t, err, KindTrap)
	if !strings.Contains(ce.Error(), "wasm error") {
		t.Errorf("trap error does not say what happened: %v", ce)
	}
	res, err := h.Call(context.Background(), PhaseRequest, withMode("count"))
	if err != nil {
		t.Fatal(err)
	}
	// A fresh instance has counted only this call.
	assertJSONEqual(t, res.Body, `{"calls":1}`)
	if s := h.Stats(); s.ByKind[KindTrap] != 1 || s.Errors != 1 || s.Calls != 5 {
		t.Errorf("stats = %+v", s)
	}
}

func TestGuestFailures(t *testing.T) {
	rt := newTestRuntime(t)
	h := load(t, rt, Spec{MaxInstances: 1})
	for _, tc := range []struct {
		mode string
		kind ErrorKind
	}{{"error", KindGuestError}, {"badjson", KindBadOutput}} {
		_, err := h.Call(context.Background(), PhaseRequest, withMode(tc.mode))
		callErr(t, err, tc.kind)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := h.Call(ctx, PhaseRequest, withMode("continue"))
	callErr(t, err, KindCanceled)
}

func TestMetadataOnlyGuestGetsNoBody(t *testing.T) {
	rt := newTestRuntime(t)
	h := load(t, rt, Spec{Module: "meta", Phases: []Phase{PhaseRequest}})
	if h.NeedsBody(PhaseRequest) || h.Handles(PhaseResponse) {
		t.Fatalf("NeedsBody=%v Handles(response)=%v", h.NeedsBody(PhaseRequest), h.Handles(PhaseResponse))
	}
	res, err := h.Call(context.Background(), PhaseRequest, env("gemini", geminiBody))
	if err != nil {
		t.Fatal(err)
	}
	want := []Header{{"x-had-body", "false"}, {"x-meta", "v2"}}
	if len(res.SetHeaders) != 2 || res.SetHeaders[0] != want[0] || res.SetHeaders[1] != want[1] {
		t.Errorf("headers = %+v, want %+v", res.SetHeaders, want)
	}
	// A phase the hook does not run in is a free continue.
	if res, err := h.Call(context.Background(), PhaseResponse, env("gemini", geminiBody)); err != nil || res.Changed() {
		t.Errorf("unhandled phase: %+v, %v", res, err)
	}
}

func TestBadModules(t *testing.T) {
	rt := newTestRuntime(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.wasm")
	if err := os.WriteFile(garbage, []byte("\x00asm\x01\x00\x00\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc   string
		spec   Spec
		substr string
	}{
		{"missing file", Spec{Module: filepath.Join(dir, "nope.wasm")}, "no such file"},
		{"invalid wasm", Spec{Module: garbage}, "compile"},
		{"wrong ABI version", Spec{Module: guests["badabi"], Phases: []Phase{PhaseRequest}}, "ABI version 99"},
		{"missing exports", Spec{Module: guests["noexports"]}, "does not export hook_abi_version"},
		{"phase not handled", Spec{Module: guests["meta"], Phases: []Phase{PhaseResponse}}, "no handler for phase response"},
		{"bad config", Spec{Module: guests["actions"], Config: []byte("{nope")}, "config is not valid JSON"},
		{"bad fail policy", Spec{Module: guests["actions"], Fail: "sideways"}, "fail policy"},
		{"memory too small", Spec{Module: guests["actions"], MemoryLimitBytes: 1 << 20}, "too small"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			tc.spec.Name = "redact-" + strings.ReplaceAll(tc.desc, " ", "-")
			if len(tc.spec.Phases) == 0 {
				tc.spec.Phases = []Phase{PhaseRequest}
			}
			h, err := rt.Load(context.Background(), tc.spec)
			if err == nil {
				h.Close()
				t.Fatal("Load succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.spec.Name) || !strings.Contains(msg, tc.spec.Module) || !strings.Contains(msg, tc.substr) {
				t.Errorf("error %q should name the hook, the file and contain %q", msg, tc.substr)
			}
		})
	}
	if n := rt.LiveInstances(); n != 0 {
		t.Errorf("failed loads leaked %d instances", n)
	}
	if n := rt.CompiledModules(); n != 0 {
		t.Errorf("failed loads leaked %d compiled modules", n)
	}
}

func TestPoolIsBoundedAndReused(t *testing.T) {
	rt := newTestRuntime(t)
	h := load(t, rt, Spec{MaxInstances: 2, Config: []byte(`{"mode":"model","model":"m"}`)})
	var wg sync.WaitGroup
	var maxLive atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := h.Call(context.Background(), PhaseRequest, env("openai", openAIBody)); err != nil {
					t.Error(err)
					return
				}
				if n := int64(h.Stats().Instances); n > maxLive.Load() {
					maxLive.Store(n)
				}
			}
		}()
	}
	wg.Wait()
	if m := maxLive.Load(); m > 2 {
		t.Errorf("saw %d live instances, max_instances is 2", m)
	}
	if s := h.Stats(); s.Calls != 160 || s.Changed != 160 || s.Errors != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestRecycleAtMemoryMark(t *testing.T) {
	rt := newTestRuntime(t)
	// Any Go guest is above 1 MiB, so every call retires its instance.
	h := load(t, rt, Spec{MaxInstances: 1, RecycleAboveBytes: 1 << 20})
	for i := 0; i < 3; i++ {
		res, err := h.Call(context.Background(), PhaseRequest, withMode("count"))
		if err != nil {
			t.Fatal(err)
		}
		assertJSONEqual(t, res.Body, `{"calls":1}`)
	}
	if s := h.Stats(); s.Recycled != 3 || s.Errors != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestGuestLogIsCapped(t *testing.T) {
	var lines atomic.Int64
	rt := newTestRuntime(t)
	rt.logger = rt.logger.With() // keep the test handler, count via a wrapper below
	rt.logger = newCountingLogger(&lines)
	h := load(t, rt, Spec{Config: []byte(`{"mode":"log"}`)})
	for i := 0; i < 2; i++ {
		if _, err := h.Call(context.Background(), PhaseRequest, env("gemini", geminiBody)); err != nil {
			t.Fatal(err)
		}
	}
	if n := lines.Load(); n != 2*maxLogLinesPerCall {
		t.Errorf("logged %d lines for 2 calls of 100 logs each, want %d", n, 2*maxLogLinesPerCall)
	}
}

// TestReloadUnderLoad swaps between two modules `reloads` (200) times while calls run:
// no call may fail, every old pool must close once its calls end, and
// nothing may leak.
func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("reload loop")
	}
	rt := newTestRuntime(t)
	specs := [2]Spec{
		{Name: "r", Module: guests["actions"], Phases: []Phase{PhaseRequest}, MaxInstances: 2, Config: []byte(`{"mode":"headers"}`)},
		{Name: "r", Module: guests["meta"], Phases: []Phase{PhaseRequest}, MaxInstances: 2},
	}
	// Guest timeouts generous enough for -race on a busy 2-core machine:
	// this test is about reload, not about timeouts.
	specs[0].Timeout, specs[1].Timeout = 5*time.Second, 5*time.Second
	goroutinesBefore := runtime.NumGoroutine()
	// Pin both modules' compiled code, as an unchanged hook elsewhere in
	// the config would: alternating reloads then cost an instantiation
	// each, not a compile from the disk cache.
	pins := [2]*Hook{load(t, rt, specs[0]), load(t, rt, specs[1])}
	first, err := rt.Load(context.Background(), specs[0])
	if err != nil {
		t.Fatal(err)
	}
	var current atomic.Pointer[Hook]
	current.Store(first)
	// Callers hold a reference like the engine will: take the hook, call,
	// and tolerate only KindClosed races by retrying on the newest hook.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls, failures atomic.Int64
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// The engine's pattern: pin the hook for the whole request
				// (it may run in several phases); a hook that is already
				// closing means a newer one is current.
				h := current.Load()
				for !h.Retain() {
					h = current.Load()
				}
				for phase := 0; phase < 2; phase++ {
					res, err := h.Call(context.Background(), PhaseRequest, env("gemini", geminiBody))
					if err != nil || len(res.SetHeaders) == 0 {
						failures.Add(1)
						t.Errorf("call failed during reload: %+v %v", res, err)
					}
					calls.Add(1)
				}
				h.Release()
			}
		}()
	}
	var closes []<-chan struct{}
	for i := 1; i <= reloads; i++ {
		h, err := rt.Load(context.Background(), specs[i%2])
		if err != nil {
			t.Fatal(err)
		}
		old := current.Swap(h)
		closes = append(closes, old.CloseAsync())
	}
	close(stop)
	wg.Wait()
	for _, c := range closes {
		select {
		case <-c:
		case <-time.After(5 * time.Second):
			t.Fatal("an old hook never closed after its calls ended")
		}
	}
	if n := rt.CompiledModules(); n != 2 {
		t.Errorf("compiled modules = %d, want 2", n)
	}
	last := current.Load()
	if n := rt.LiveInstances(); n > 3*2 {
		t.Errorf("live instances = %d after 200 reloads, want ≤ 6 (the last pool and the pins)", n)
	}
	last.Close()
	pins[0].Close()
	pins[1].Close()
	if n := rt.LiveInstances(); n != 0 {
		t.Errorf("live instances = %d after closing everything", n)
	}
	if n := rt.CompiledModules(); n != 0 {
		t.Errorf("compiled modules = %d after closing everything", n)
	}
	if calls.Load() == 0 || failures.Load() != 0 {
		t.Errorf("calls = %d, failures = %d", calls.Load(), failures.Load())
	}
	// wazero's per-call watchdog goroutines exit with their call; allow
	// the scheduler a moment before counting.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > goroutinesBefore+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutinesBefore+2 {
		t.Errorf("goroutines: %d before, %d after", goroutinesBefore, n)
	}
}

// TestReloadSameModuleReusesCompiledCode: a config reload that keeps the
// .wasm must not compile again.
func TestReloadSameModuleReusesCompiledCode(t *testing.T) {
	rt := newTestRuntime(t)
	spec := Spec{Name: "same", Module: guests["actions"], Phases: []Phase{PhaseRequest}, MaxInstances: 1}
	h, err := rt.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	before := rt.compiles.Load()
	for i := 0; i < 20; i++ {
		spec.Config = []byte(`{"mode":"continue","generation":` + string(rune('0'+i%10)) + `}`)
		next, err := rt.Load(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		h.Close()
		h = next
	}
	h.Close()
	if n := rt.compiles.Load() - before; n != 0 {
		t.Errorf("%d compiles for 20 reloads of an unchanged module", n)
	}
}

func TestCloseWaitsForInflightCalls(t *testing.T) {
	rt := newTestRuntime(t)
	h, err := rt.Load(context.Background(), Spec{Name: "slow", Module: guests["actions"], Phases: []Phase{PhaseRequest},
		Timeout: 300 * time.Millisecond, MaxInstances: 1})
	if err != nil {
		t.Fatal(err)
	}
	callDone := make(chan error, 1)
	go func() {
		_, err := h.Call(context.Background(), PhaseRequest, withMode("spin"))
		callDone <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the call start spinning
	closed := h.CloseAsync()
	select {
	case <-closed:
		t.Fatal("closed while a call was in flight")
	default:
	}
	if h.Retain() {
		t.Error("Retain succeeded on a closing hook")
	}
	callErr(t, <-callDone, KindTimeout)
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("hook did not close after its last call")
	}
	if n := rt.LiveInstances(); n != 0 {
		t.Errorf("live instances = %d", n)
	}
	_, err = h.Call(context.Background(), PhaseRequest, withMode("continue"))
	callErr(t, err, KindClosed)
}

func TestParsers(t *testing.T) {
	for _, s := range []string{"request", "response", "chunk"} {
		if p, err := ParsePhase(s); err != nil || string(p) != s {
			t.Errorf("ParsePhase(%q) = %q, %v", s, p, err)
		}
	}
	if _, err := ParsePhase("before"); err == nil {
		t.Error("ParsePhase accepted an unknown phase")
	}
	for in, want := range map[string]FailPolicy{"": FailClosed, "closed": FailClosed, "open": FailOpen} {
		if got, err := ParseFailPolicy(in); err != nil || got != want {
			t.Errorf("ParseFailPolicy(%q) = %q, %v", in, got, err)
		}
	}
}

func TestLargeInputs(t *testing.T) {
	rt := newTestRuntime(t)
	h := load(t, rt, Spec{MemoryLimitBytes: 16 << 20, MaxInstances: 1, Config: []byte(`{"mode":"upper"}`)})
	// 1 MiB of text fits and is transformed; the input buffer grows.
	big := `{"contents":[{"parts":[{"text":"` + strings.Repeat("a", 1<<20) + `"}]}]}`
	res, err := h.Call(context.Background(), PhaseRequest, env("gemini", big))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Body) != len(big) || !strings.Contains(string(res.Body), "AAAA") {
		t.Errorf("1 MiB body: got %d bytes", len(res.Body))
	}
	// More than half the memory cap is refused before touching the guest.
	huge := `{"contents":[{"parts":[{"text":"` + strings.Repeat("a", 9<<20) + `"}]}]}`
	_, err = h.Call(context.Background(), PhaseRequest, env("gemini", huge))
	callErr(t, err, KindTooLarge)
	if s := h.Stats(); s.Instances != 1 {
		t.Errorf("a refused input discarded the healthy instance: %+v", s)
	}
}

// TestSameAsDetectsModuleAndConfigChanges: the engine's reload asks
// SameAs to keep unchanged hooks; a rebuilt .wasm or new config must not
// be mistaken for the old one.
func TestSameAsDetectsModuleAndConfigChanges(t *testing.T) {
	rt := newTestRuntime(t)
	path := filepath.Join(t.TempDir(), "hook.wasm")
	copyTestFile(t, guests["actions"], path)
	spec := Spec{Name: "s", Module: path, Phases: []Phase{PhaseRequest}, Timeout: time.Second, Config: []byte(`{"mode":"continue"}`)}
	h := load(t, rt, spec)
	if !h.SameAs(spec) {
		t.Error("identical spec not recognised")
	}
	changed := spec
	changed.Config = []byte(`{"mode":"reject"}`)
	if h.SameAs(changed) {
		t.Error("config change not noticed")
	}
	changed = spec
	changed.Fail = FailOpen
	if h.SameAs(changed) {
		t.Error("fail policy change not noticed")
	}
	copyTestFile(t, guests["meta"], path) // "rebuilt" module
	if h.SameAs(spec) {
		t.Error("module change not noticed")
	}
}

func copyTestFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStreamedChunks runs the chunk phase once per event of a stream, as
// the engine does for SSE, on one pooled instance.
func TestStreamedChunks(t *testing.T) {
	rt := newTestRuntime(t)
	h := load(t, rt, Spec{Module: "example-nothoughts", Phases: []Phase{PhaseChunk}, MaxInstances: 1})
	var answer strings.Builder
	for i := 0; i < 50; i++ {
		part := `{"text":"t` + string(rune('a'+i%26)) + `","thought":true}`
		if i%2 == 1 {
			part = `{"text":"` + string(rune('a'+i%26)) + `"}`
		}
		ev := `{"candidates":[{"content":{"role":"model","parts":[` + part + `]}}]}`
		res, err := h.Call(context.Background(), PhaseChunk, env("gemini", ev))
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		body := []byte(ev)
		if res.Body != nil {
			body = res.Body
		}
		var doc struct {
			Candidates []struct {
				Content struct {
					Parts []struct {
						Text    string
						Thought bool
					}
				}
			}
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		for _, p := range doc.Candidates[0].Content.Parts {
			if p.Thought {
				t.Fatalf("chunk %d kept a thought: %s", i, body)
			}
			answer.WriteString(p.Text)
		}
	}
	if got := answer.String(); got != "bdfhjlnprtvxzbdfhjlnprtvx" {
		t.Errorf("streamed answer = %q", got)
	}
	if s := h.Stats(); s.Calls != 50 || s.Changed != 25 || s.Instances != 1 {
		t.Errorf("stats = %+v", s)
	}
}
