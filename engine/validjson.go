package engine

import (
	"bytes"
	"unicode/utf8"
)

// validJSON reports whether b is one JSON value, in UTF-8, as Google would
// accept it: what it refuses costs no upstream call. One scanner serves
// every size: it skips string contents with a fast search for the next
// quote or backslash (json.Valid spends 12 ms on a 6 MB body, this about a
// tenth of that, and 1 µs on a small request, this a third). Small bodies
// are checked strictly; in a large one (inline images and PDFs, megabytes
// of base64) a raw control character inside a string is let through,
// which Google rejects with its own 400 at no cost to any key.
func validJSON(b []byte) bool {
	return validStructure(b, len(b) < 64<<10)
}

// validStructure is the scanner; strict also refuses raw control
// characters inside strings, as encoding/json does.
func validStructure(b []byte, strict bool) bool {
	v := validator{b: b, strict: strict}
	v.space()
	if !v.value(0) {
		return false
	}
	v.space()
	return v.i == len(v.b)
}

type validator struct {
	b      []byte
	i      int
	strict bool
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
			raw := v.b[start:quote]
			return utf8.Valid(raw) && !(v.strict && hasControl(raw))
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

// hasControl reports whether b holds a byte below 0x20, which JSON allows
// in a string only escaped.
func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}
