package hooks

import "strings"

// sensitiveHeaders are never shown to a guest and never editable by one:
// they carry client tokens or upstream API keys.
var sensitiveHeaders = map[string]bool{
	"authorization":       true,
	"proxy-authorization": true,
	"x-goog-api-key":      true,
	"x-api-key":           true,
	"api-key":             true,
	"cookie":              true,
	"set-cookie":          true,
}

func isSensitiveHeader(name string) bool {
	if len(name) > 19 || len(name) < 6 {
		return false
	}
	var buf [19]byte
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return sensitiveHeaders[string(buf[:len(name)])]
}

// HeaderList builds Envelope.Headers from a header source such as
// fasthttp's VisitAll, copying names and values (so no request buffer is
// retained) and dropping credentials.
type HeaderList []Header

// Add appends one header unless it carries credentials. A "key" query
// parameter inside a value (e.g. a Referer quoting a Gemini URL) is
// replaced by "key=REDACTED".
func (l *HeaderList) Add(name, value []byte) {
	n := string(name)
	if isSensitiveHeader(n) {
		return
	}
	*l = append(*l, Header{Name: lowerASCII(n), Value: redactKeyParam(string(value))})
}

// EnvelopeHeaders returns a filtered copy of headers fit for an Envelope.
func EnvelopeHeaders(headers []Header) []Header {
	out := make(HeaderList, 0, len(headers))
	for _, h := range headers {
		if !isSensitiveHeader(h.Name) {
			out = append(out, Header{Name: lowerASCII(h.Name), Value: redactKeyParam(h.Value)})
		}
	}
	return out
}

// redactKeyParam replaces the value of every "key=" query parameter in v.
// Gemini accepts the API key as ?key=, so any URL a header quotes may hold
// one.
func redactKeyParam(v string) string {
	if !strings.Contains(v, "key=") {
		return v
	}
	var b strings.Builder
	rest := v
	for {
		i := strings.Index(rest, "key=")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		// Only a parameter boundary counts: start, '?', '&' or ';'.
		boundary := i == 0 && len(rest) == len(v) || i > 0 && (rest[i-1] == '?' || rest[i-1] == '&' || rest[i-1] == ';')
		b.WriteString(rest[:i+4])
		rest = rest[i+4:]
		if !boundary {
			continue
		}
		end := strings.IndexAny(rest, "&#; ")
		if end < 0 {
			end = len(rest)
		}
		if end > 0 {
			b.WriteString("REDACTED")
		}
		rest = rest[end:]
	}
	return b.String()
}
