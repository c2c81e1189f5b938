package mockgemini

import (
	"strconv"
	"unicode/utf8"
)

// The mock builds every response body as compact JSON with plain appends
// (no reflection, pooled buffers) and then re-renders it in one of the two
// layouts Google actually sends: the 2-space pretty form of unary bodies and
// the single-line `": "`-spaced form of SSE events. Keeping one builder and
// two cheap linear re-renderers means the shapes cannot drift apart.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string literal. Like Google's JSON
// (and encoding/json) it escapes <, > and & as \u003c, \u003e, \u0026, and it
// replaces invalid UTF-8 with U+FFFD so the output is always valid JSON.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendKey appends `"k":` for a key that needs no escaping.
func appendKey(dst []byte, k string) []byte {
	dst = append(dst, '"')
	dst = append(dst, k...)
	return append(dst, '"', ':')
}

func appendInt(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }

// scanString copies the JSON string literal that starts at src[i] (a '"')
// to dst and returns the index just past it.
func scanString(dst, src []byte, i int) ([]byte, int) {
	j := i + 1
	for j < len(src) {
		switch src[j] {
		case '\\':
			j += 2
			continue
		case '"':
			j++
			return append(dst, src[i:j]...), j
		}
		j++
	}
	return append(dst, src[i:]...), len(src)
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// appendPretty re-renders JSON src in Google's unary layout: 2-space
// indent, `"key": value`, one element per line, `{}`/`[]` for empties
// (byte-identical to encoding/json's MarshalIndent(v, "", "  ")).
// Insignificant whitespace in src is dropped, so raw client JSON can be
// embedded in the compact form first.
func appendPretty(dst, src []byte) []byte {
	depth := 0
	newline := func(d []byte) []byte {
		d = append(d, '\n')
		for k := 0; k < depth; k++ {
			d = append(d, ' ', ' ')
		}
		return d
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"':
			dst, i = scanString(dst, src, i)
			continue
		case isSpace(c):
		case c == '{' || c == '[':
			j := i + 1
			for j < len(src) && isSpace(src[j]) {
				j++
			}
			if j < len(src) && (src[j] == '}' || src[j] == ']') {
				dst = append(dst, c, src[j])
				i = j + 1
				continue
			}
			dst = append(dst, c)
			depth++
			dst = newline(dst)
		case c == '}' || c == ']':
			depth--
			dst = newline(dst)
			dst = append(dst, c)
		case c == ',':
			dst = append(dst, ',')
			dst = newline(dst)
		case c == ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
		i++
	}
	return dst
}

// appendSpaced re-renders JSON src on one line the way Gemini's SSE events
// are written: a space after every key colon, none after commas
// (`{"candidates": [{"content": {...},"index": 0}]}`).
func appendSpaced(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"':
			dst, i = scanString(dst, src, i)
			continue
		case isSpace(c):
		case c == ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
		i++
	}
	return dst
}

// appendCompact copies JSON src without insignificant whitespace.
func appendCompact(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		if c == '"' {
			dst, i = scanString(dst, src, i)
			continue
		}
		if !isSpace(c) {
			dst = append(dst, c)
		}
		i++
	}
	return dst
}
