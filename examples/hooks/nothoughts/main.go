//go:build wasip1

// Command nothoughts is a response hook that strips thinking parts
// ("thought": true) from Gemini responses, whole or streamed, so callers
// that asked for includeThoughts still never see them. It also drops
// thoughtsTokenCount from usageMetadata when config.hide_usage is true.
package main

import (
	"strconv"

	"github.com/balanceproxy/balance/hooks/guest"
)

func init() {
	guest.OnResponse(strip)
	guest.OnChunk(strip) // same shape: each SSE event is a GenerateContentResponse
}

func strip(in *guest.Envelope) (*guest.Result, error) {
	if in.Protocol() != "gemini" {
		return guest.Continue(), nil
	}
	body := in.Body()
	if body == nil {
		return guest.Continue(), nil
	}
	// Collect paths first, delete from the last so indexes stay valid.
	var paths []string
	for ci, cand := range guest.Get(body, "candidates").Array() {
		for pi, part := range cand.Get("content.parts").Array() {
			if part.Get("thought").Bool() {
				paths = append(paths, "candidates."+strconv.Itoa(ci)+".content.parts."+strconv.Itoa(pi))
			}
		}
	}
	if in.ConfigValue("hide_usage").Bool() && guest.Get(body, "usageMetadata.thoughtsTokenCount").Exists() {
		paths = append([]string{"usageMetadata.thoughtsTokenCount"}, paths...)
	}
	if len(paths) == 0 {
		return guest.Continue(), nil
	}
	var err error
	for i := len(paths) - 1; i >= 0; i-- {
		if body, err = guest.Delete(body, paths[i]); err != nil {
			return nil, err
		}
	}
	return guest.ReplaceBody(body), nil
}

func main() {}
