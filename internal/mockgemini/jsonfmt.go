package mockgemini

import (
	"strconv"
)

// The mock builds every response body as compact JSON with plain appends
// (no reflection, pooled buffers) and then re-renders it in one of the two
// layouts Google actually sends: the 2-space pretty form of unary bodies and
// the single-line `": "`-spaced form of SSE events. Keeping one builder and
// two cheap linear re-renderers means the shapes cannot drift apart.

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
