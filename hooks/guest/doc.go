// Package guest is the Go SDK for writing balance hooks. It hides the
// balance hook ABI (see hooks/README.md) behind plain Go handlers: a hook
// is a package main that registers a Handler per phase from init
// (OnRequest, OnResponse, OnChunk) and has an empty main. The package
// example shows a handler and how a hook registers it; it is compiled
// with the package's tests, so it stays correct.
//
// Build with the stock toolchain (no TinyGo):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hook.wasm .
//
// Handlers must be registered from init(): a c-shared module runs package
// initialisers in _initialize, but never calls main.
//
// Performance: with the per-call timeout on, every loop in the guest costs a
// termination check, so guest instructions are several times dearer than
// native ones. The SDK therefore never decodes the request body for you:
// Envelope.Body is the raw JSON, and the helpers here (Get, SetString,
// EachText, ...) touch only the paths you ask for. Returning Continue() (a nil
// Result) writes nothing at all, which the host treats as "no change" without
// any JSON work.
//
// The ABI exports and the host log import exist only when building for
// GOOS=wasip1; on other platforms the package compiles without them, so
// its logic (and a guest's handlers) can be unit-tested natively.
package guest
