package openai

import (
	"crypto/rand"
	"strings"
)

const idAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomID returns n characters from [a-zA-Z0-9] read from crypto/rand.
func randomID(b []byte, n int) []byte {
	var buf [32]byte
	for n > 0 {
		k := min(n, len(buf))
		_, _ = rand.Read(buf[:k]) // crypto/rand.Read never fails (Go 1.24+)
		for _, c := range buf[:k] {
			b = append(b, idAlphabet[int(c)%len(idAlphabet)])
		}
		n -= k
	}
	return b
}

// NewCompletionID returns a fresh "chatcmpl-…" id. Call it once per
// completion and use it for every chunk of a stream.
func NewCompletionID() string {
	b := make([]byte, 0, 9+24)
	b = append(b, "chatcmpl-"...)
	return string(randomID(b, 24))
}

// Tool call ids carry what OpenAI clients cannot otherwise hand back:
//
//	call_<random>                 Gemini gave no id
//	call_g_<gemini id>            Gemini's functionCall.id, echoed in history
//	…__ts_<base64url signature>   the part's thoughtSignature
//
// Clients treat ids as opaque and return them on the assistant message and
// the tool message, so multi-turn tool use on thinking models keeps working
// even through clients that drop unknown fields such as extra_content.
const (
	callPrefix    = "call_"
	geminiIDMark  = "call_g_"
	signatureMark = "__ts_"
)

func appendToolCallID(b []byte, gid, sig string) []byte {
	if gid != "" && !strings.Contains(gid, signatureMark) {
		b = append(b, geminiIDMark...)
		b = append(b, gid...)
	} else {
		b = append(b, callPrefix...)
		b = randomID(b, 24)
	}
	if sig != "" {
		b = append(b, signatureMark...)
		for i := 0; i < len(sig); i++ { // base64 → base64url, unpadded
			switch c := sig[i]; c {
			case '+':
				b = append(b, '-')
			case '/':
				b = append(b, '_')
			case '=':
			default:
				b = append(b, c)
			}
		}
	}
	return b
}

// parseToolCallID recovers the Gemini call id and thought signature from a
// tool call id built by appendToolCallID. Foreign ids yield empty strings.
func parseToolCallID(id string) (gid, sig string) {
	if i := strings.Index(id, signatureMark); i >= 0 {
		s := id[i+len(signatureMark):]
		id = id[:i]
		var b strings.Builder
		b.Grow(len(s) + 3)
		for j := 0; j < len(s); j++ {
			switch c := s[j]; c {
			case '-':
				b.WriteByte('+')
			case '_':
				b.WriteByte('/')
			default:
				b.WriteByte(c)
			}
		}
		// Restore the padding stripped by appendToolCallID (a length of
		// 1 mod 4 is not base64 and is left alone for Gemini to judge).
		if r := len(s) % 4; r >= 2 {
			b.WriteString("=="[:4-r])
		}
		sig = b.String()
	}
	if strings.HasPrefix(id, geminiIDMark) {
		gid = id[len(geminiIDMark):]
	}
	return gid, sig
}
