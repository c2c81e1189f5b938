// Package page holds the read-only HTML status page, embedded in the
// binary: one file with inline CSS and JavaScript, no external assets and
// no framework, so it works on an air-gapped host and cannot pull in code
// from anywhere. The page reads the status JSON API relative to its own
// URL ({status path}/ui → {status path}, {status path}/api/...).
//
// Because the page is static, its Content-Security-Policy can pin the
// exact inline script and style by hash instead of allowing
// 'unsafe-inline': even if some string slipped into the DOM as markup, the
// browser would refuse to run any script but this one.
package page

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
)

// HTML is the page.
//
//go:embed index.html
var HTML []byte

// CSP is the Content-Security-Policy to send with HTML: nothing may load
// from anywhere, scripts and styles only as the hashed inline blocks, and
// fetch only to the same origin.
var CSP = mustCSP(HTML)

// mustCSP builds the policy from the page's inline <script> and <style>
// blocks. A page without them is a build mistake, caught by the tests and
// at start.
func mustCSP(page []byte) string {
	script, err := inline(page, "script")
	if err != nil {
		panic(err)
	}
	style, err := inline(page, "style")
	if err != nil {
		panic(err)
	}
	return "default-src 'none'; script-src " + hashSource(script) + "; style-src " + hashSource(style) +
		"; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// inline returns the content of the one <tag>…</tag> block in page.
func inline(page []byte, tag string) ([]byte, error) {
	open, end := []byte("<"+tag+">"), []byte("</"+tag+">")
	i := bytes.Index(page, open)
	if i < 0 || bytes.Count(page, open) != 1 {
		return nil, fmt.Errorf("status page: want exactly one <%s> block", tag)
	}
	rest := page[i+len(open):]
	j := bytes.Index(rest, end)
	if j < 0 {
		return nil, fmt.Errorf("status page: <%s> is not closed", tag)
	}
	return rest[:j], nil
}

func hashSource(b []byte) string {
	sum := sha256.Sum256(b)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
