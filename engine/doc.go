// Package engine is the proxy: the fasthttp server, the request pipeline
// from client token to upstream key and back, and live reloads.
//
// # The request pipeline
//
// Every request runs through one driver, serve in pipeline.go, in one
// order for every protocol:
//
//	stage             where                what it decides
//	route             router.go, adapter   the front door; method and path
//	authenticate      admit.go             the client token, from headers only
//	parse             adapter              the model (and stream flag) asked for
//	authorize         admit.go             model rules, the token's models and pool
//	token limits      admit.go, limits.go  concurrency, requests/min, tokens/day
//	check the body    pipeline.go          one JSON value
//	request hooks     hooks.go             WASM edits; a changed model is authorized again
//	translate         adapter              the upstream request (OpenAI → Gemini)
//	forward           forward.go           pick a key, call, classify, retry elsewhere;
//	                  fallback.go          then the pool's fallback pools
//	reply or relay    adapter, relay.go    the answer, whole or event by event
//	response hooks    hooks.go             WASM edits of a whole answer
//	record            pipeline.go          key and token accounting, stats, metrics
//
// Each front door is an adapter (adapter_native.go for the Gemini REST API,
// adapter_chat.go, adapter_responses.go, adapter_embeddings.go,
// adapter_images.go, adapter_speech.go and adapter_models.go for the
// OpenAI API, adapter_compat.go for Google's own OpenAI-compatible
// endpoint). An adapter only reads its protocol and
// translates; the driver owns the order of the stages, the recorded status
// and every error answer. A stage that stops a request returns a *Failure
// (failure.go), which the driver renders in the caller's protocol. Streams
// go through one relay (relay.go) whose per-event sink is the adapter's
// translation behind the chunk hooks; a keep-alive stream is the same relay
// fed by a unary call.
//
// The Live API (adapter_live.go) is a WebSocket session: the same stages
// run, split by the upgrade (route and authenticate before it; parse,
// authorize and request hooks on the first message), and
// live_session.go relays the session's frames both ways.
//
// A client that hangs up while its request waits on upstream takes the
// upstream call down with it: clientwatch.go polls the waiting requests'
// sockets and abandons each gone client's upstream.Call, which closes
// the connection its attempt runs on. The request is recorded as 499.
//
// # State
//
// Every config generation is an immutable Runtime (runtime.go) swapped in
// atomically by Apply; a request runs start to end on the Runtime it began
// with. Key health (keypool) and token usage (limits.go) live beside it,
// keyed by the key and token themselves, so a reload keeps them.
package engine
