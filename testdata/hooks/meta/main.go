//go:build wasip1

// Command meta is a metadata-only test guest: it declares that its request
// handler needs no body, and reports whether it got one anyway.
package main

import "github.com/balanceproxy/balance/hooks/guest"

func init() {
	guest.WithoutBody(guest.PhaseRequest)
	guest.OnRequest(func(in *guest.Envelope) (*guest.Result, error) {
		has := "false"
		if in.Body() != nil {
			has = "true"
		}
		return &guest.Result{SetHeaders: map[string]string{"x-meta": "v2", "x-had-body": has}}, nil
	})
}

func main() {}
