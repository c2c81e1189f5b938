//go:build wasip1

// Command route is a request hook for model aliasing and routing by prompt
// size: callers ask for "fast" or "smart" and get a real model, and
// prompts above a size go to a long-context model (and optionally pool).
package main

import (
	"github.com/balanceproxy/balance/hooks/guest"
)

func init() {
	guest.OnRequest(route)
}

func route(in *guest.Envelope) (*guest.Result, error) {
	model := in.Model()
	res := &guest.Result{}
	if alias := in.ConfigValue("aliases." + escape(model)); alias.Exists() {
		res.Model = alias.String()
	}
	if limit := in.ConfigValue("large.above_chars").Int(); limit > 0 {
		var chars int64
		guest.EachText(in.Protocol(), in.Body(), func(t guest.Text) bool {
			chars += int64(len(t.Value))
			return chars <= limit // stop walking once over the limit
		})
		if chars > limit {
			if m := in.ConfigValue("large.model").String(); m != "" {
				res.Model = m
			}
			res.Pool = in.ConfigValue("large.pool").String()
		}
	}
	if res.Model == model {
		res.Model = ""
	}
	if res.Model == "" && res.Pool == "" {
		return guest.Continue(), nil
	}
	return res, nil
}

// escape quotes gjson path metacharacters in a model name ("gemini-2.5"
// has a dot).
func escape(s string) string {
	out := make([]byte, 0, len(s)+4)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.', '*', '?', '|', '#', '@', '\\':
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func main() {}
