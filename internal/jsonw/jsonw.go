// Package jsonw appends JSON string literals to byte slices without
// reflection or allocation. The proxy's hot paths, the OpenAI translator,
// the WASM hook host and guest SDK, and the mock upstream all write JSON
// by hand; they share this one escaper.
package jsonw

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string literal, quotes included.
// Quotes, backslashes and control characters are escaped, invalid UTF-8
// becomes U+FFFD, and U+2028/U+2029 are escaped so the output is also
// safe inside JavaScript.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendBody(b, s, false)
	return append(b, '"')
}

// AppendStringBody is AppendString without the quotes. Escaped bodies
// concatenate into a valid body, so text can be accumulated piecewise.
func AppendStringBody(b []byte, s string) []byte {
	return appendBody(b, s, false)
}

// AppendMarshal appends s exactly as encoding/json's Marshal encodes a Go
// string: AppendString plus HTML escaping of <, > and &, and the short
// forms \b and \f. Hand-written output then matches json.Marshal's bytes.
func AppendMarshal(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendBody(b, s, true)
	return append(b, '"')
}

func appendBody(b []byte, s string, marshal bool) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!marshal || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case marshal && c == '\b':
				b = append(b, '\\', 'b')
			case marshal && c == '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}
