package secret

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// maxEscapeDepth is how many levels of escaping the Redactor looks
// through: a JSON string inside a JSON string inside a URL is three.
const maxEscapeDepth = 3

func hasEscape(b []byte) bool {
	return bytes.IndexByte(b, '\\') >= 0 || bytes.IndexByte(b, '%') >= 0
}

// step decodes the unit at src[i]: an escape (JSON \uXXXX with surrogate
// pairs, \" \\ \/ \' \b \f \n \r \t, Go \xHH, URL %HH) or one plain byte.
// It writes the decoded bytes to buf and returns how many, how many source
// bytes it consumed, and whether it was an escape.
func step(src []byte, i int, buf *[utf8.UTFMax]byte) (n, used int, esc bool) {
	c := src[i]
	switch {
	case c == '%' && i+2 < len(src) && isHex(src[i+1]) && isHex(src[i+2]):
		buf[0] = unhex(src[i+1])<<4 | unhex(src[i+2])
		return 1, 3, true
	case c != '\\' || i+1 >= len(src):
		buf[0] = c
		return 1, 1, false
	}
	switch e := src[i+1]; e {
	case '"', '\\', '/', '\'':
		buf[0] = e
		return 1, 2, true
	case 'b', 'f', 'n', 'r', 't':
		buf[0] = shortEscapes[e]
		return 1, 2, true
	case 'x':
		if i+3 < len(src) && isHex(src[i+2]) && isHex(src[i+3]) {
			buf[0] = unhex(src[i+2])<<4 | unhex(src[i+3])
			return 1, 4, true
		}
	case 'u':
		if r, ok := hex4(src, i+2); ok {
			used := 6
			if utf16.IsSurrogate(r) {
				if r2, ok2 := hex4(src, i+8); ok2 && src[i+6] == '\\' && src[i+7] == 'u' {
					if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
						r, used = pair, 12
					}
				}
			}
			return utf8.EncodeRune(buf[:], r), used, true
		}
	}
	buf[0] = c
	return 1, 1, false
}

// unescapeText appends one level of decoding of src to dst. It reports
// false when src holds no escape.
func unescapeText(dst, src []byte) ([]byte, bool) {
	var buf [utf8.UTFMax]byte
	found := false
	for i := 0; i < len(src); {
		n, used, esc := step(src, i, &buf)
		dst = append(dst, buf[:n]...)
		i += used
		found = found || esc
	}
	return dst, found
}

// view is a decoded text plus, for each of its bytes, the run of the
// original text it came from: text[i] came from original[start[i]:end[i]].
type view struct {
	text       []byte
	start, end []int
}

func identityView(b []byte) view {
	v := view{text: b, start: make([]int, len(b)), end: make([]int, len(b))}
	for i := range b {
		v.start[i], v.end[i] = i, i+1
	}
	return v
}

// unescape decodes one level of escapes in v, keeping track of where each
// decoded byte came from. It reports false when v holds no escape.
func (v view) unescape() (view, bool) {
	src := v.text
	out := view{text: make([]byte, 0, len(src)), start: make([]int, 0, len(src)), end: make([]int, 0, len(src))}
	var buf [utf8.UTFMax]byte
	found := false
	for i := 0; i < len(src); {
		n, used, esc := step(src, i, &buf)
		for range n {
			out.start = append(out.start, v.start[i])
			out.end = append(out.end, v.end[i+used-1])
		}
		out.text = append(out.text, buf[:n]...)
		i += used
		found = found || esc
	}
	return out, found
}

var shortEscapes = [256]byte{'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		if !isHex(c) {
			return 0, false
		}
		r = r<<4 | rune(unhex(c))
	}
	return r, true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
