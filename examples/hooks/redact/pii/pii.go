// Package pii finds and masks e-mail addresses, phone numbers and payment
// card numbers in free text. It is plain Go with no build constraints, so
// it is unit-tested natively and compiled into the redact hook for wasip1.
//
// It is a hand-written single pass rather than regular expressions: inside
// a WASM guest with the per-call timeout on, every branch costs a check on
// the host, and Go's regexp takes many more branches per byte.
package pii

import "strings"

// Options selects what to mask and how.
type Options struct {
	Email, Phone, Card bool
	// Mask formats the replacement for a kind ("EMAIL", "PHONE", "CARD");
	// nil gives "[EMAIL]" and so on.
	Mask func(kind string) string
}

// All masks every kind with the default placeholders.
var All = Options{Email: true, Phone: true, Card: true}

type span struct {
	start, end int
	kind       string
}

// Redact returns s with every match masked, and whether anything was.
func Redact(s string, o Options) (string, bool) {
	var spans []span
	if o.Email {
		spans = emails(s, spans)
	}
	if o.Phone || o.Card {
		spans = numbers(s, spans, o)
	}
	if len(spans) == 0 {
		return s, false
	}
	sortSpans(spans)
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, sp := range spans {
		if sp.start < last { // overlaps an earlier match
			continue
		}
		b.WriteString(s[last:sp.start])
		if o.Mask != nil {
			b.WriteString(o.Mask(sp.kind))
		} else {
			b.WriteString("[" + sp.kind + "]")
		}
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String(), true
}

func sortSpans(s []span) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].start < s[j-1].start; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func isLocal(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-'
}

// emails finds local@domain.tld around each '@'.
func emails(s string, out []span) []span {
	from := 0
	for {
		at := strings.IndexByte(s[from:], '@')
		if at < 0 {
			return out
		}
		at += from
		from = at + 1
		start := at
		for start > 0 && isLocal(s[start-1]) {
			start--
		}
		end := at + 1
		for end < len(s) && isDomain(s[end]) {
			end++
		}
		for end > at+1 && (s[end-1] == '.' || s[end-1] == '-') { // sentence dot
			end--
		}
		domain := s[at+1 : end]
		dot := strings.LastIndexByte(domain, '.')
		if start == at || dot <= 0 || len(domain)-dot-1 < 2 {
			continue
		}
		out = append(out, span{start, end, "EMAIL"})
		from = end
	}
}

// numbers finds runs of digits joined by single separators (space, '-',
// '.', parentheses) and classifies them: 13–19 digits passing the Luhn
// check are cards; 10–15 digits, or 7–9 written with a leading '+' or
// with separators, are phone numbers.
func numbers(s string, out []span, o Options) []span {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || (c == '+' || c == '(') && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9') {
			continue
		}
		if i > 0 && isLetterOrDigit(s[i-1]) || i > 1 && isJoiner(s[i-1]) && isLetterOrDigit(s[i-2]) {
			// inside a word such as "abc123" or a longer number we
			// already rejected: skip to its end
			for i < len(s) && (isLetterOrDigit(s[i]) || isJoiner(s[i])) {
				i++
			}
			continue
		}
		start, digits, seps, firstGroup := i, 0, 0, 0
		plus := c == '+'
		var d [19]byte
		j := i
		if plus || c == '(' {
			j++
		}
		lastDigit := j
		for j < len(s) {
			c := s[j]
			if c >= '0' && c <= '9' {
				if digits < len(d) {
					d[digits] = c - '0'
				}
				digits++
				if seps == 0 {
					firstGroup = digits
				}
				lastDigit = j + 1
				j++
				continue
			}
			if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') && j+1 < len(s) &&
				(s[j+1] >= '0' && s[j+1] <= '9' || c == ')' && s[j+1] == ' ') {
				seps++
				j++
				continue
			}
			break
		}
		end := lastDigit
		if end < len(s) && isLetter(s[end]) { // "12345abc": not a number
			i = end
			continue
		}
		switch {
		case o.Card && digits >= 13 && digits <= 19 && luhn(d[:digits]):
			out = append(out, span{start, end, "CARD"})
		case digits == 8 && firstGroup == 4 && seps == 2:
			// a date such as 2024-08-06, not a phone number
		case o.Phone && (digits >= 10 && digits <= 15 || digits >= 7 && digits <= 9 && (plus || seps > 0)):
			out = append(out, span{start, end, "PHONE"})
		}
		i = end
	}
	return out
}

// isJoiner reports characters that glue a number to a preceding word, as
// in "gpt-4o-2024-08-06" or "v1.2.3".
func isJoiner(c byte) bool { return c == '-' || c == '.' || c == '_' || c == '/' }

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isLetterOrDigit(c byte) bool { return isLetter(c) || c >= '0' && c <= '9' }

func luhn(d []byte) bool {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i])
		if (len(d)-1-i)%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}
