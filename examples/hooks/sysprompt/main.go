//go:build wasip1

// Command sysprompt is a request hook that injects a system prompt: for
// Gemini it prepends a part to systemInstruction (creating it if absent),
// for OpenAI it inserts a system message before the others.
package main

import (
	"github.com/balanceproxy/balance/hooks/guest"
)

func init() {
	guest.OnRequest(inject)
}

func inject(in *guest.Envelope) (*guest.Result, error) {
	prompt := in.ConfigValue("prompt").String()
	body := in.Body()
	if prompt == "" || body == nil {
		return guest.Continue(), nil
	}
	var out []byte
	var err error
	if in.Protocol() == "openai" {
		msg := guest.AppendString([]byte(`{"role":"system","content":`), prompt)
		msg = append(msg, '}')
		out, err = guest.Prepend(body, "messages", msg)
	} else {
		part := guest.AppendString([]byte(`{"text":`), prompt)
		part = append(part, '}')
		key := "systemInstruction"
		if guest.Get(body, "system_instruction").Exists() {
			key = "system_instruction"
		}
		if guest.Get(body, key+".parts").IsArray() {
			out, err = guest.Prepend(body, key+".parts", part)
		} else {
			out, err = guest.SetRaw(body, key, append(append([]byte(`{"parts":[`), part...), "]}"...))
		}
	}
	if err != nil {
		return nil, err
	}
	return guest.ReplaceBody(out), nil
}

func main() {}
