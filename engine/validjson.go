package engine

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// validJSON reports whether b is one JSON value. Small bodies go through
// encoding/json; large ones (inline images and PDFs, megabytes of base64)
// through a structural check that skips string contents with a fast
// search for the next quote or backslash: json.Valid spends 12 ms on a
// 6 MB body, this about a tenth of that. Both refuse invalid UTF-8, which
// Google would refuse with its own 400 (json.Valid alone lets it through).
// The only thing the fast check lets through that encoding/json would not
// is a raw control character inside a string, which Google rejects at no
// cost to any key.
func validJSON(b []byte) bool {
	if len(b) < 64<<10 {
		// json.Valid lets invalid UTF-8 through; Google would refuse it.
		return json.Valid(b) && utf8.Valid(b)
	}
	return validStructure(b)
}

// validStructure is the fast check used for large bodies.
func validStructure(b []byte) bool {
	v := validator{b: b}
	v.space()
	if !v.value(0) {
		return false
	}
	v.space()
	return v.i == len(v.b)
}

type validator struct {
	b []byte
	i int
}

const maxDepth = 10000

func (v *validator) space() {
	for v.i < len(v.b) {
		switch v.b[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
		default:
			return
		}
	}
}

func (v *validator) value(depth int) bool {
	if v.i >= len(v.b) || depth > maxDepth {
		return false
	}
	switch c := v.b[v.i]; {
	case c == '{':
		return v.object(depth)
	case c == '[':
		return v.array(depth)
	case c == '"':
		return v.str()
	case c == 't':
		return v.lit("true")
	case c == 'f':
		return v.lit("false")
	case c == 'n':
		return v.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		return v.number()
	}
	return false
}

func (v *validator) lit(s string) bool {
	if !bytes.HasPrefix(v.b[v.i:], []byte(s)) {
		return false
	}
	v.i += len(s)
	return true
}

func (v *validator) object(depth int) bool {
	v.i++ // {
	v.space()
	if v.i < len(v.b) && v.b[v.i] == '}' {
		v.i++
		return true
	}
	for {
		v.space()
		if v.i >= len(v.b) || v.b[v.i] != '"' || !v.str() {
			return false
		}
		v.space()
		if v.i >= len(v.b) || v.b[v.i] != ':' {
			return false
		}
		v.i++
		v.space()
		if !v.value(depth + 1) {
			return false
		}
		v.space()
		if v.i >= len(v.b) {
			return false
		}
		switch v.b[v.i] {
		case ',':
			v.i++
		case '}':
			v.i++
			return true
		default:
			return false
		}
	}
}

func (v *validator) array(depth int) bool {
	v.i++ // [
	v.space()
	if v.i < len(v.b) && v.b[v.i] == ']' {
		v.i++
		return true
	}
	for {
		v.space()
		if !v.value(depth + 1) {
			return false
		}
		v.space()
		if v.i >= len(v.b) {
			return false
		}
		switch v.b[v.i] {
		case ',':
			v.i++
		case ']':
			v.i++
			return true
		default:
			return false
		}
	}
}

// str scans a string, jumping between quotes and backslashes with
// vectorised single-byte searches. The position of the next quote is
// remembered across escapes, so a string with many escapes stays linear.
func (v *validator) str() bool {
	v.i++ // opening quote
	start := v.i
	quote := -1 // absolute index of the next '"' at or after v.i, if known
	for {
		if quote < v.i {
			j := bytes.IndexByte(v.b[v.i:], '"')
			if j < 0 {
				return false
			}
			quote = v.i + j
		}
		if k := bytes.IndexByte(v.b[v.i:quote], '\\'); k >= 0 {
			v.i += k
		} else {
			v.i = quote + 1
			// Escapes are ASCII, so the raw contents must be UTF-8.
			return utf8.Valid(v.b[start:quote])
		}
		// An escape: \" \\ \/ \b \f \n \r \t or \uXXXX.
		if v.i+1 >= len(v.b) {
			return false
		}
		switch v.b[v.i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			v.i += 2
		case 'u':
			if v.i+6 > len(v.b) {
				return false
			}
			for _, h := range v.b[v.i+2 : v.i+6] {
				if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
					return false
				}
			}
			v.i += 6
		default:
			return false
		}
	}
}

func (v *validator) number() bool {
	start := v.i
	if v.b[v.i] == '-' {
		v.i++
	}
	digits := func() int {
		n := 0
		for v.i < len(v.b) && v.b[v.i] >= '0' && v.b[v.i] <= '9' {
			v.i++
			n++
		}
		return n
	}
	if v.i < len(v.b) && v.b[v.i] == '0' {
		v.i++
	} else if digits() == 0 {
		return false
	}
	if v.i < len(v.b) && v.b[v.i] == '.' {
		v.i++
		if digits() == 0 {
			return false
		}
	}
	if v.i < len(v.b) && (v.b[v.i] == 'e' || v.b[v.i] == 'E') {
		v.i++
		if v.i < len(v.b) && (v.b[v.i] == '+' || v.b[v.i] == '-') {
			v.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return v.i > start
}
