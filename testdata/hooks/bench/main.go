//go:build wasip1

// Command bench is the benchmark guest of package hooks. Its request
// handler returns Continue without reading anything: the pure fixed cost
// of a call. Its response handler is a realistic transform: model
// aliasing from config plus a system message put first.
package main

import "github.com/balanceproxy/balance/hooks/guest"

func init() {
	guest.OnRequest(func(in *guest.Envelope) (*guest.Result, error) {
		return guest.Continue(), nil
	})
	// The chunk handler echoes the body back: the cost of moving 2 KB in
	// and out through the ABI, without JSON work in the guest.
	guest.OnChunk(func(in *guest.Envelope) (*guest.Result, error) {
		return guest.ReplaceBody(in.Body()), nil
	})
	guest.OnResponse(func(in *guest.Envelope) (*guest.Result, error) {
		body := in.Body()
		alias := in.ConfigValue("aliases." + guest.Get(body, "model").String())
		if !alias.Exists() {
			return guest.Continue(), nil
		}
		out, err := guest.SetString(body, "model", alias.String())
		if err != nil {
			return nil, err
		}
		out, err = guest.Prepend(out, "messages", []byte(`{"role":"system","content":"Answer in English."}`))
		return guest.ReplaceBody(out), err
	})
}

func main() {}
