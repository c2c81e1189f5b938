package guest_test

import "github.com/balanceproxy/balance/hooks/guest"

// alias sends requests for the model "fast" to gemini-2.5-flash. Setting
// Result.Model re-targets the call in either protocol: the proxy rewrites
// the Gemini URL or the OpenAI body's "model" itself. Any other request
// continues unchanged, which costs no JSON work on either side.
func alias(in *guest.Envelope) (*guest.Result, error) {
	if in.Model() != "fast" {
		return guest.Continue(), nil
	}
	return &guest.Result{Model: "gemini-2.5-flash"}, nil
}

// A hook is a package main that registers its handlers from init (a
// c-shared module runs package initialisers, never main), with an empty
// main:
//
//	//go:build wasip1
//
//	package main
//
//	func init() {
//		guest.OnRequest(alias)
//	}
//
//	func main() {}
//
// Build it with the stock toolchain: GOOS=wasip1 GOARCH=wasm go build
// -buildmode=c-shared -o hook.wasm . (or go run ./cmd/buildhooks DIR).
func Example() {
	guest.OnRequest(alias)
}
