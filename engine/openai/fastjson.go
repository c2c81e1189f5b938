package openai

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// Helpers that reproduce encoding/json's exact bytes, so hand-written output
// on the fast paths is byte-identical to what json.Marshal produced for the
// same values (the golden files and the differential fuzz test hold both
// paths to that).

// plainJSONString reports whether the body of a JSON string literal (between
// the quotes) decodes to itself and re-encodes to itself under json.Marshal:
// printable ASCII without escapes or HTML-sensitive characters. Most chat
// text and every model name is like this, and is then copied as is.
func plainJSONString(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '\\' || c == '"' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// unquoteJSON decodes the body of a valid JSON string literal exactly as
// encoding/json's Unmarshal does: invalid UTF-8 and unpaired surrogate
// escapes become U+FFFD. The result aliases raw when nothing changes.
func unquoteJSON(raw string) string {
	i := 0
	for i < len(raw) {
		c := raw[i]
		if c == '\\' {
			break
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(raw[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	if i == len(raw) {
		return raw
	}
	b := make([]byte, 0, len(raw)+8)
	b = append(b, raw[:i]...)
	for i < len(raw) {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw):
			switch e := raw[i+1]; e {
			case '"', '\\', '/', '\'':
				b = append(b, e)
				i += 2
			case 'b':
				b = append(b, '\b')
				i += 2
			case 'f':
				b = append(b, '\f')
				i += 2
			case 'n':
				b = append(b, '\n')
				i += 2
			case 'r':
				b = append(b, '\r')
				i += 2
			case 't':
				b = append(b, '\t')
				i += 2
			case 'u':
				rr := getu4(raw[i:])
				if rr < 0 { // not reachable for validated JSON
					return string(b)
				}
				i += 6
				if utf16.IsSurrogate(rr) {
					rr1 := getu4(raw[i:])
					if dec := utf16.DecodeRune(rr, rr1); dec != utf8.RuneError {
						i += 6
						b = utf8.AppendRune(b, dec)
						break
					}
					rr = utf8.RuneError
				}
				b = utf8.AppendRune(b, rr)
			default: // not reachable for validated JSON
				return string(b)
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(raw[i:])
			i += size
			b = utf8.AppendRune(b, r) // RuneError for invalid bytes, as Unmarshal
		}
	}
	return string(b)
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s string) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range []byte(s[2:6]) {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// appendReencoded appends the JSON string literal whose body is raw (from
// validated JSON) as json.Marshal(json.Unmarshal(raw)) would write it.
func appendReencoded(b []byte, raw string) []byte {
	if plainJSONString(raw) {
		b = append(b, '"')
		b = append(b, raw...)
		return append(b, '"')
	}
	return jsonw.AppendMarshal(b, unquoteJSON(raw))
}

// appendMarshalFloat appends f as json.Marshal encodes a float64.
func appendMarshalFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// foldsToAny reports whether key would be matched by encoding/json
// (case-insensitively) to one of names without being one of them exactly.
func foldsToAny(key string, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}
