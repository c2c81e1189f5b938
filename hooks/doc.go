// Package hooks runs user hooks, WebAssembly modules, on the requests and
// responses that pass through balance.
//
// The guest/host contract is a small, versioned ABI (README.md in this
// directory is its specification): the host writes a JSON envelope (route,
// protocol, token name and labels, pool, model, credential-free headers,
// the hook's config and the body) into guest memory, calls one export per
// phase (request, response, or per streamed chunk), and reads back a JSON
// result (continue, respond or reject, with header edits, a new body, or a
// new model or pool). A zero-length result means "continue unchanged" and
// costs no JSON work on either side.
//
// The host is built on wazero: one Runtime per process shares compiled
// modules (in memory and on disk, keyed by the module's sha256), and each
// Hook keeps a bounded pool of instances, because starting a Go guest
// costs about 5 ms. Every call has a timeout that really stops a runaway
// guest; each instance has a memory cap; any trap, timeout or
// out-of-memory discards the instance, since a Go guest that panicked can
// look healthy on its next call. What a failure does to the request is
// the hook's FailPolicy, applied by the engine.
//
// Guests are written in stock Go with the SDK in hooks/guest and built with
// BuildGuest or `go run ./cmd/buildhooks`; see examples/hooks.
package hooks
