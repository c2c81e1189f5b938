package openai

import (
	"strconv"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// The response side builds JSON by appending to reused buffers instead of
// marshalling structs: it runs once per streamed chunk, and encoding/json's
// reflection and map/interface allocations dominated that path.

func appendStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return jsonw.AppendString(b, s)
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }
