//go:build wasip1

// Command blocklist is a request hook that refuses prompts containing a
// blocked phrase, answering 403 in the caller's protocol: Google's error
// shape for Gemini routes, OpenAI's for OpenAI routes, so client SDKs
// raise their usual error type.
package main

import (
	"strings"

	"github.com/balanceproxy/balance/hooks/guest"
)

var (
	loadedFor string // raw config the phrases were loaded from
	phrases   []string
)

func init() {
	guest.OnRequest(check)
}

func check(in *guest.Envelope) (*guest.Result, error) {
	if cfg := string(in.Config()); cfg != loadedFor {
		// The config is the same on every call of one hook; parse it
		// once per instance, not per request.
		loadedFor = cfg
		phrases = phrases[:0]
		for _, p := range in.ConfigValue("phrases").Array() {
			if s := strings.ToLower(strings.TrimSpace(p.String())); s != "" {
				phrases = append(phrases, s)
			}
		}
	}
	var hit string
	guest.EachText(in.Protocol(), in.Body(), func(t guest.Text) bool {
		lower := strings.ToLower(t.Value)
		for _, p := range phrases {
			if strings.Contains(lower, p) {
				hit = p
				return false
			}
		}
		return true
	})
	if hit == "" {
		return guest.Continue(), nil
	}
	msg := in.ConfigValue("message").String()
	if msg == "" {
		msg = "The request was refused by policy."
	}
	guest.Log(guest.LevelInfo, "blocked phrase matched: "+hit)
	return guest.Reject(403, guest.ErrorBody(in.Protocol(), 403, msg)), nil
}

func main() {}
