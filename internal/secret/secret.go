// Package secret keeps API keys and client tokens out of logs, stats and
// responses. Everything that leaves the process names a key by its
// fingerprint, never by its value.
package secret

import (
	"bytes"
	"strings"
)

// Fingerprint returns a short, human-recognisable stand-in for a secret:
// the first four and last four characters joined by an ellipsis
// ("AIza…x7Q2"). Secrets of twelve characters or fewer keep only their
// last two characters, so short test keys are never echoed whole.
func Fingerprint(s string) string {
	if len(s) > 12 {
		return s[:4] + "…" + s[len(s)-4:]
	}
	if len(s) > 4 {
		return "…" + s[len(s)-2:]
	}
	return "…"
}

// Redactor replaces every occurrence of a known set of secrets in a text
// with their fingerprints. Google's own error messages can quote the full
// key (leaked-key and suspension 403s do), so upstream bodies pass through
// a Redactor before they are logged, stored or returned.
//
// A Redactor is immutable once built and safe for concurrent use.
type Redactor struct {
	secrets []string
	fps     []string
	// firstBytes holds the distinct first bytes of all secrets, so a body
	// that contains none of them is returned without a full scan per key.
	firstBytes []byte
}

// NewRedactor builds a Redactor for the given secrets. Empty strings and
// duplicates are ignored; longer secrets are matched first so a secret that
// contains another is replaced whole.
func NewRedactor(secrets []string) *Redactor {
	seen := make(map[string]bool, len(secrets))
	r := &Redactor{}
	for _, s := range secrets {
		if len(s) < 6 || seen[s] {
			continue
		}
		seen[s] = true
		r.secrets = append(r.secrets, s)
	}
	// Longest first: insertion sort is fine for config-sized lists and
	// keeps this file free of a sort import for one call.
	for i := 1; i < len(r.secrets); i++ {
		for j := i; j > 0 && len(r.secrets[j]) > len(r.secrets[j-1]); j-- {
			r.secrets[j], r.secrets[j-1] = r.secrets[j-1], r.secrets[j]
		}
	}
	var firsts [256]bool
	for _, s := range r.secrets {
		r.fps = append(r.fps, Fingerprint(s))
		if !firsts[s[0]] {
			firsts[s[0]] = true
			r.firstBytes = append(r.firstBytes, s[0])
		}
	}
	return r
}

// Bytes returns b with every known secret replaced by its fingerprint. When
// no secret occurs, b itself is returned and nothing is allocated.
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil || len(r.secrets) == 0 || bytes.IndexAny(b, string(r.firstBytes)) < 0 {
		return b
	}
	out := b
	copied := false
	for i, s := range r.secrets {
		// Repeat: a fingerprint next to leftover characters can form the
		// secret again ("xxxxxxx…" style secrets).
		for n := 0; n < 8 && bytes.Contains(out, []byte(s)); n++ {
			out, copied = bytes.ReplaceAll(out, []byte(s), []byte(r.fps[i])), true
		}
	}
	if !copied {
		return b
	}
	return out
}

// String is Bytes for strings.
func (r *Redactor) String(s string) string {
	if r == nil || len(r.secrets) == 0 {
		return s
	}
	for i, sec := range r.secrets {
		for n := 0; n < 8 && strings.Contains(s, sec); n++ {
			s = strings.ReplaceAll(s, sec, r.fps[i])
		}
	}
	return s
}
