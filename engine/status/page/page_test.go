package page

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// The page must be self-contained: no URL to another origin, no external
// script, style, font or image.
func TestNoExternalAssets(t *testing.T) {
	page := string(HTML)
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<script[^>]*\ssrc=`),
		regexp.MustCompile(`(?i)<link[^>]*\shref=`),
		regexp.MustCompile(`(?i)<img[^>]*\ssrc=`),
		regexp.MustCompile(`(?i)@import`),
		regexp.MustCompile(`(?i)url\(`),
		regexp.MustCompile(`(?i)https?://(?:[^w]|w[^w]|ww[^w]|www[^.]|www\.[^w])`), // only the SVG namespace URI is allowed
	} {
		if loc := re.FindStringIndex(page); loc != nil {
			t.Errorf("external reference %q at byte %d", page[loc[0]:min(loc[1]+30, len(page))], loc[0])
		}
	}
	if n := strings.Count(page, "http://www.w3.org/2000/svg"); n != 1 {
		t.Errorf("%d SVG namespace URIs, want exactly the one createElementNS uses", n)
	}
}

// Strings from the server go into the DOM as text only.
func TestNoHTMLSinks(t *testing.T) {
	page := string(HTML)
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setTimeout('", "setInterval('"} {
		if strings.Contains(page, sink) {
			t.Errorf("page uses %s", sink)
		}
	}
}

func TestCSPPinsInlineBlocks(t *testing.T) {
	for _, want := range []string{"default-src 'none'", "script-src 'sha256-", "style-src 'sha256-", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(CSP, want) {
			t.Errorf("CSP %q lacks %q", CSP, want)
		}
	}
	if strings.Contains(CSP, "unsafe-inline") || strings.Contains(CSP, "unsafe-eval") {
		t.Errorf("CSP allows unsafe sources: %s", CSP)
	}
	script, err := inline(HTML, "script")
	if err != nil || !strings.Contains(CSP, hashSource(script)) {
		t.Fatalf("script hash not in CSP (%v)", err)
	}
	if bytes.Contains(script, []byte("</script")) {
		t.Fatal("script block contains a closing tag")
	}
}

func TestInlineRejectsMalformedPages(t *testing.T) {
	for _, tc := range []struct{ name, page string }{
		{"missing", "<html></html>"},
		{"two", "<script>a</script><script>b</script>"},
		{"unclosed", "<script>a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := inline([]byte(tc.page), "script"); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("mustCSP accepted a page without a style block")
			}
		}()
		mustCSP([]byte("<script>x</script>"))
	}()
}
