package secret

import (
	"slices"
	"strings"
)

// ScrubCredentials fingerprints every value in text that looks like a
// credential, known or not: a query parameter whose name ends in "key" or
// "token" (key=, api_key=, access_token=, also with %3D for "="), and the
// value of an Authorization, Proxy-Authorization, x-goog-api-key,
// x-api-key, api-key, Cookie or Set-Cookie header line, with or without
// its colon ("Bearer" and other scheme words are kept). It is meant for text balance did not write
// itself, such as fasthttp's error messages, which quote request lines and
// header blocks verbatim or Go-quoted; run a Redactor first so known
// secrets get their proper names, which ScrubCredentials leaves alone.
func ScrubCredentials(text string) string {
	lower := asciiLower(text)
	var spans []scrubSpan
	// Query parameters: name=value and name%3Dvalue.
	for i := 0; i < len(lower); i++ {
		sep := 0
		switch {
		case lower[i] == '=':
			sep = 1
		case lower[i] == '%' && strings.HasPrefix(lower[i:], "%3d"):
			sep = 3
		default:
			continue
		}
		n := i
		for n > 0 && isNameByte(lower[n-1]) {
			n--
		}
		name := lower[n:i]
		if !strings.HasSuffix(name, "key") && !strings.HasSuffix(name, "token") {
			continue
		}
		from := i + sep
		to := valueEnd(text, from, true)
		spans = appendSpan(spans, text, from, to, false)
		i = max(i, to-1)
	}
	// Header lines: name[ ]:[ ]value.
	for _, h := range credentialHeaders {
		for off := 0; ; {
			j := strings.Index(lower[off:], h)
			if j < 0 {
				break
			}
			k := off + j + len(h)
			off = k
			if k < len(text) && isNameByte(text[k]) {
				continue // a longer name ("api-keys")
			}
			// "name: value", "name=value", and "name value" (a header
			// line missing its colon, which fasthttp quotes as is).
			spaced := k
			for k < len(text) && (text[k] == ' ' || text[k] == '\t') {
				k++
			}
			switch {
			case k < len(text) && (text[k] == ':' || text[k] == '='):
				k++
				for k < len(text) && (text[k] == ' ' || text[k] == '\t') {
					k++
				}
			case k == spaced:
				continue
			}
			to := valueEnd(text, k, false)
			spans = appendSpan(spans, text, k, to, h == "authorization")
			off = max(off, to)
		}
	}
	if len(spans) == 0 {
		return text
	}
	slices.SortFunc(spans, func(a, b scrubSpan) int { return a.from - b.from })
	var sb strings.Builder
	sb.Grow(len(text))
	pos := 0
	for _, sp := range spans {
		if sp.from < pos {
			continue // overlaps a span already replaced
		}
		sb.WriteString(text[pos:sp.from])
		sb.WriteString(Fingerprint(text[sp.from:sp.to]))
		pos = sp.to
	}
	sb.WriteString(text[pos:])
	return sb.String()
}

// credentialHeaders are lower-case suffixes of header names whose values
// are credentials: "api-key" covers x-goog-api-key, x-api-key and
// api-key; "authorization" covers Proxy-Authorization; "cookie" covers
// Set-Cookie.
var credentialHeaders = []string{"api-key", "api_key", "authorization", "cookie"}

type scrubSpan struct{ from, to int }

// appendSpan records text[from:to] for replacement unless it is empty or
// already a fingerprint. With scheme, a leading "Bearer " (any word of
// letters followed by a space) is kept.
func appendSpan(spans []scrubSpan, text string, from, to int, scheme bool) []scrubSpan {
	if scheme {
		w := from
		for w < to && isLetter(text[w]) {
			w++
		}
		if w > from && w < to && text[w] == ' ' {
			from = w + 1
			for from < to && text[from] == ' ' {
				from++
			}
		}
	}
	if from >= to || looksLikeFingerprint(trimEscapes(text[from:to])) {
		return spans
	}
	return append(spans, scrubSpan{from, to})
}

// valueEnd returns where a value starting at i ends: at a line break, raw
// or escaped (\r, \n), at an unescaped or escaped double quote, and for a
// query value also at whitespace, '&', ';' or '#'. Other escapes (\x00,
// \\, \u0000) are part of the value.
func valueEnd(text string, i int, query bool) int {
	for ; i < len(text); i++ {
		switch c := text[i]; c {
		case '\r', '\n', '"':
			return i
		case '\\':
			if i+1 < len(text) {
				switch text[i+1] {
				case 'r', 'n', '"':
					return i
				case 't':
					if query {
						return i
					}
				}
				i++ // skip the escaped byte
			}
		case ' ', '\t', '&', ';', '#', '\'', '<', '>':
			if query {
				return i
			}
		}
	}
	return len(text)
}

// trimEscapes drops the Go escapes (\x00) that end a quoted value, which
// fasthttp quotes along with the name a Redactor put there.
func trimEscapes(v string) string {
	for len(v) >= 4 && v[len(v)-4] == '\\' && v[len(v)-3] == 'x' && isHex(v[len(v)-2]) && isHex(v[len(v)-1]) {
		v = v[:len(v)-4]
	}
	return v
}

// looksLikeFingerprint reports whether v has the shape Fingerprint or
// KeyFingerprint produce, so a value already redacted keeps its name.
func looksLikeFingerprint(v string) bool {
	i := strings.Index(v, "…")
	if i < 0 || i > 4 || strings.Contains(v[:i], "…") {
		return false
	}
	rest := v[i+len("…"):]
	if strings.Contains(rest, "…") {
		return false
	}
	for _, tail := range [...]int{0, 2, 4} {
		if len(rest) < tail {
			break
		}
		if len(rest) == tail {
			return true
		}
		if rest[tail] == '#' && isLowerHex(rest[tail+1:]) {
			return true
		}
	}
	return false
}

func isLowerHex(s string) bool {
	if len(s) < KeyTagDigits || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return isLetter(c) || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// asciiLower lowers ASCII letters only, so indexes into the result are
// indexes into s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
