//go:build wasip1

// Command redact is a request hook that masks e-mail addresses, phone
// numbers and payment card numbers in every message text of a Gemini or
// OpenAI request before it leaves the proxy.
package main

import (
	"github.com/balanceproxy/balance/examples/hooks/redact/pii"
	"github.com/balanceproxy/balance/hooks/guest"
)

func init() {
	guest.OnRequest(redact)
}

func redact(in *guest.Envelope) (*guest.Result, error) {
	opts := pii.All
	// config = { email = false } etc. turns a kind off; mask = "***"
	// replaces the "[EMAIL]"-style placeholders with one fixed string.
	for _, k := range []struct {
		key string
		on  *bool
	}{{"email", &opts.Email}, {"phone", &opts.Phone}, {"card", &opts.Card}} {
		if v := in.ConfigValue(k.key); v.Exists() {
			*k.on = v.Bool()
		}
	}
	if m := in.ConfigValue("mask"); m.Exists() {
		mask := m.String()
		opts.Mask = func(string) string { return mask }
	}
	body, err := guest.ReplaceTexts(in.Protocol(), in.Body(), func(s string) string {
		out, _ := pii.Redact(s, opts)
		return out
	})
	if err != nil {
		return nil, err
	}
	return guest.ReplaceBody(body), nil // nil body: nothing found, no change
}

func main() {}
