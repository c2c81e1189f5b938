package secret

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestFingerprint(t *testing.T) {
	tests := []struct{ in, want string }{
		{"AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrSx7Q2", "AIza…x7Q2"},
		{"sk-short-key", "…ey"},
		{"abcd", "…"},
		{"", "…"},
	}
	for _, tc := range tests {
		if got := Fingerprint(tc.in); got != tc.want {
			t.Errorf("Fingerprint(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if len(tc.in) > 4 && strings.Contains(Fingerprint(tc.in), tc.in) {
			t.Errorf("fingerprint of %q contains it", tc.in)
		}
	}
}

// TestKeyFingerprint: keys that share their first and last four characters
// get different names, of a fixed shape, and the scheme is pinned: a change
// would split every deployment's by_key stats history.
func TestKeyFingerprint(t *testing.T) {
	shape := regexp.MustCompile(`^AIza…x7Q2#[0-9a-f]{4}$`)
	tests := []struct{ key, want string }{
		{"AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrSx7Q2", "AIza…x7Q2#"},
		{"AIzaSyZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZx7Q2", "AIza…x7Q2#"},
		{"AIzaSy000000000000000000000000000000x7Q2", "AIza…x7Q2#"},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		fp := KeyFingerprint(tc.key)
		if !shape.MatchString(fp) || !strings.HasPrefix(fp, tc.want) {
			t.Errorf("KeyFingerprint(%q) = %q, want %s####", tc.key, fp, tc.want)
		}
		if other, dup := seen[fp]; dup {
			t.Errorf("%q and %q share the name %q", tc.key, other, fp)
		}
		seen[fp] = tc.key
		if KeyFingerprint(tc.key) != fp {
			t.Errorf("KeyFingerprint(%q) is not stable", tc.key)
		}
	}
	if got := KeyFingerprint("AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrSx7Q2"); got != "AIza…x7Q2#432a" {
		t.Errorf("scheme changed: got %q; a new scheme splits stored stats per key, so bump keyTagDomain's version deliberately", got)
	}
	if got := KeyFingerprint("short-key"); !regexp.MustCompile(`^…ey#[0-9a-f]{4}$`).MatchString(got) {
		t.Errorf("short key: %q", got)
	}
}

// TestKeyNamesUnique: two keys whose 16-bit tags collide as well still get
// distinct names; the same key always gets its name back.
func TestKeyNamesUnique(t *testing.T) {
	byFP := map[string]string{}
	var a, b string
	for i := 0; a == ""; i++ {
		k := fmt.Sprintf("AIzaSy%030dx7Q2", i)
		fp := KeyFingerprint(k)
		if other, ok := byFP[fp]; ok {
			a, b = other, k
		}
		byFP[fp] = k
	}
	n := NewKeyNames()
	na, nb := n.Name(a), n.Name(b)
	if na != KeyFingerprint(a) {
		t.Errorf("first key: %q, want the plain KeyFingerprint %q", na, KeyFingerprint(a))
	}
	if na == nb || !regexp.MustCompile(`^AIza…x7Q2#[0-9a-f]{8}$`).MatchString(nb) {
		t.Errorf("colliding keys named %q and %q", na, nb)
	}
	if n.Name(a) != na || n.Name(b) != nb {
		t.Error("names are not stable")
	}
	n.Forget(a)
	n.Forget(b)
	if got := n.Name(b); got != KeyFingerprint(b) {
		t.Errorf("after Forget, %q should get the short name, got %q", b, got)
	}
}

func TestRedactor(t *testing.T) {
	key := "AIzaSyLeakedKey00000000000000000000x7Q2"
	token := "sk-client-token-123"
	r := NewRedactor([]string{key, token, "", key})
	body := []byte(`{"error":{"message":"Your API key ` + key + ` was reported as leaked; token ` + token + `"}}`)
	got := string(r.Bytes(body))
	if strings.Contains(got, key) || strings.Contains(got, token) {
		t.Fatalf("secret survived: %s", got)
	}
	if !strings.Contains(got, "AIza…x7Q2") || !strings.Contains(got, "sk-c…-123") {
		t.Fatalf("fingerprints missing: %s", got)
	}
	clean := []byte(`{"ok":true,"text":"a\nb 100% sure"}`)
	if out := r.Bytes(clean); &out[0] != &clean[0] {
		t.Fatal("a body without secrets must be returned as is, without copying")
	}
	if n := testing.AllocsPerRun(100, func() { r.Bytes(clean) }); n != 0 && !raceEnabled {
		t.Errorf("Bytes allocates %v times on a clean body with escapes", n)
	}
	if r.String("x "+token) != "x sk-c…-123" {
		t.Fatal("String does not redact")
	}
	rep := NewRedactor([]string{"xxxxxx"})
	if out := rep.String("xxxxxxxxxxx"); strings.Contains(out, "xxxxxx") {
		t.Fatalf("a secret formed again after one pass: %q", out)
	}
	var nilR *Redactor
	if string(nilR.Bytes(clean)) != string(clean) {
		t.Fatal("nil redactor must pass through")
	}
	named := NewRedactorWith([]Known{{Value: key, Name: KeyFingerprint(key)}, {Value: token}})
	if got := named.String(key + " " + token); got != KeyFingerprint(key)+" sk-c…-123" {
		t.Fatalf("named redactor: %q", got)
	}
}

// escapeAll writes every byte of s with f.
func escapeAll(s string, f func(byte) string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		sb.WriteString(f(s[i]))
	}
	return sb.String()
}

// TestRedactorEscaped: a key quoted with escapes, in any mix and nested, is
// redacted like a plain one, and the whole escaped run is replaced.
func TestRedactorEscaped(t *testing.T) {
	key := "AIzaSy-Leaked_Key/0000000000000000000x7Q2"
	name := KeyFingerprint(key)
	r := NewRedactorWith([]Known{{Value: key, Name: name}})
	u := func(c byte) string { return fmt.Sprintf(`\u%04x`, c) }
	dash := strings.NewReplacer("-", `\u002d`, "/", `\/`).Replace(key)
	tests := []struct{ name, pre, enc, post string }{
		{"dash as \\u002d, slash as \\/", `{"message":"key `, dash, ` leaked"}`},
		{"upper-case hex", `"`, strings.ReplaceAll(key, "-", `\u002D`), `"`},
		{"every character \\u-escaped", `"`, escapeAll(key, u), `"`},
		{"every character \\x-escaped", "", escapeAll(key, func(c byte) string { return fmt.Sprintf(`\x%02x`, c) }), ""},
		{"percent-encoded", "Location: /x?key=", escapeAll(key, func(c byte) string { return fmt.Sprintf("%%%02X", c) }), "&a=1"},
		{"first and last character only", "", u(key[0]) + key[1:len(key)-1] + u(key[len(key)-1]), ""},
		{"nested JSON string", `{"inner":"{\"message\":\"`, strings.ReplaceAll(dash, `\`, `\\`), `\"}"}`},
		{"percent inside JSON", `"`, strings.ReplaceAll(key, "-", `%2d`), `"`},
		{"surrounded by escapes", `\n\"`, dash, `\"\u0041`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := r.String(tc.pre + tc.enc + tc.post)
			if want := tc.pre + name + tc.post; got != want {
				t.Fatalf("\n got  %q\n want %q", got, want)
			}
		})
	}
	mixed := dash + " and " + key + " and " + escapeAll(key, u)
	if got, want := r.String(mixed), name+" and "+name+" and "+name; got != want {
		t.Fatalf("mixed: got %q, want %q", got, want)
	}
}

// TestResponseHeader: a key in any header value or in the status message
// is redacted in place; other headers and repeated values survive.
func TestResponseHeader(t *testing.T) {
	key := "AIzaSyHeaderKey0000000000000000000000x7Q2"
	name := KeyFingerprint(key)
	r := NewRedactorWith([]Known{{Value: key, Name: name}})
	var h fasthttp.ResponseHeader
	h.SetStatusCode(403)
	h.SetStatusMessage([]byte("Forbidden for " + key))
	h.SetContentType("application/json")
	h.Set("Location", "https://example.com/x?key="+key)
	h.Add("Warning", `199 - "first"`)
	h.Add("Warning", `199 - "key `+strings.ReplaceAll(key, "-", `\u002d`)+`"`)
	h.Add("X-Debug", strings.ReplaceAll(key, "0", "%30"))
	h.Add("Set-Cookie", "k="+key+"; Path=/")
	h.Add("X-Other", "plain")
	if !r.ResponseHeader(&h) {
		t.Fatal("want a change")
	}
	out := h.String()
	if strings.Contains(out, key) || strings.Contains(out, "%30%30") {
		t.Fatalf("key survived:\n%s", out)
	}
	if n := strings.Count(out, name); n != 5 {
		t.Errorf("want the name 5 times (status line, Location, Warning, X-Debug, Set-Cookie), got %d:\n%s", n, out)
	}
	for _, want := range []string{`Warning: 199 - "first"`, "X-Other: plain", "Content-Type: application/json", "HTTP/1.1 403 Forbidden for " + name} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if got := len(h.PeekAll("Warning")); got != 2 {
		t.Errorf("Warning values: %d, want 2", got)
	}
	var clean fasthttp.ResponseHeader
	clean.Set("X-A", "nothing 100% secret")
	if r.ResponseHeader(&clean) {
		t.Error("a clean header reported a change")
	}
	if n := testing.AllocsPerRun(100, func() { r.ResponseHeader(&clean) }); n != 0 && !raceEnabled {
		t.Errorf("ResponseHeader allocates %v times on a clean header", n)
	}
	var nilR *Redactor
	if nilR.ResponseHeader(&h) {
		t.Error("nil redactor changed a header")
	}
}

func TestScrubCredentials(t *testing.T) {
	tok := "sk-unknown-token-0123456789"
	fp := Fingerprint(tok)
	tests := []struct{ name, in, want string }{
		{"query key", "GET /v1beta/models?key=" + tok + " HTTP/1.1", "GET /v1beta/models?key=" + fp + " HTTP/1.1"},
		{"query key then another param", "/x?alt=sse&key=" + tok + "&y=1", "/x?alt=sse&key=" + fp + "&y=1"},
		{"upper-case name, api_key", "/x?API_KEY=" + tok, "/x?API_KEY=" + fp},
		{"access_token", "/x?access_token=" + tok + "#frag", "/x?access_token=" + fp + "#frag"},
		{"encoded =", "/chat%3Fkey%3D" + tok, "/chat%3Fkey%3D" + fp},
		{"Go-quoted request line with NUL", `invalid request uri "/x?key=` + tok + `\x00" in "GET`, `invalid request uri "/x?key=` + Fingerprint(tok+`\x00`) + `" in "GET`},
		{"x-goog-api-key header, raw", "x-goog-api-key: " + tok + "\r\nHost: a", "x-goog-api-key: " + fp + "\r\nHost: a"},
		{"x-goog-api-key header, quoted", `"Host: a\r\nX-Goog-Api-Key: ` + tok + `\x00\r\n\r\n"`, `"Host: a\r\nX-Goog-Api-Key: ` + Fingerprint(tok+`\x00`) + `\r\n\r\n"`},
		{"authorization keeps the scheme", `Authorization: Bearer ` + tok + `"`, `Authorization: Bearer ` + fp + `"`},
		{"x-api-key", "X-Api-Key:" + tok, "X-Api-Key:" + fp},
		{"api-key", "api-key : " + tok, "api-key : " + fp},
		{"cookie", "Cookie: session=" + tok, "Cookie: " + Fingerprint("session="+tok)},
		{"header line missing its colon", `malformed mime header: missing colon: "x-goog-api-key ` + tok + `"`, `malformed mime header: missing colon: "x-goog-api-key ` + fp + `"`},
		{"longer name is not a credential header", "api-keys: 3", "api-keys: 3"},
		{"a fingerprint before a quoted control byte", `invalid request uri "/x?key=sk-t…oken\x01\x7f"`, `invalid request uri "/x?key=sk-t…oken\x01\x7f"`},
		{"already a fingerprint", "key=AIza…x7Q2#3fa1 x-goog-api-key: sk-c…-123", "key=AIza…x7Q2#3fa1 x-goog-api-key: sk-c…-123"},
		{"nothing", "error when reading request headers: EOF", "error when reading request headers: EOF"},
		{"empty value", "key=&x=1", "key=&x=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ScrubCredentials(tc.in)
			if got != tc.want {
				t.Errorf("\n got  %q\n want %q", got, tc.want)
			}
			if strings.Contains(got, tok) {
				t.Errorf("token survived: %q", got)
			}
		})
	}
}

// decodings returns s and its escape decodings, as the Redactor sees them.
func decodings(s string) []string {
	out := []string{s}
	v := identityView([]byte(s))
	for range maxEscapeDepth {
		next, ok := v.unescape()
		if !ok {
			break
		}
		v = next
		out = append(out, string(v.text))
	}
	return out
}

func FuzzRedactor(f *testing.F) {
	key := "AIzaSyLeakedKey-000000000000000000/x7Q2"
	f.Add(key, "prefix "+key+" suffix")
	f.Add(key, `{"m":"`+strings.ReplaceAll(key, "-", `\u002d`)+`"}`)
	f.Add(key, strings.ReplaceAll(key, "/", `\/`)+"%41")
	f.Add("sk-token", `\\u0073k-token \uD83D\uDE00 %zz \x`)
	f.Fuzz(func(t *testing.T, secret, text string) {
		r := NewRedactorWith([]Known{{Value: secret, Name: KeyFingerprint(secret)}})
		out := r.String(text)
		if string(r.Bytes([]byte(text))) != out {
			t.Fatal("Bytes and String disagree")
		}
		if len(secret) < 6 || strings.ContainsAny(secret, `…#\%`) {
			// A name glued to leftovers, or escapes in the secret itself,
			// can spell it again; real keys and tokens have neither.
			return
		}
		for depth, d := range decodings(out) {
			if strings.Contains(d, secret) {
				t.Fatalf("secret %q visible after %d decodings of %q (input %q)", secret, depth, out, text)
			}
		}
	})
}

func FuzzScrubCredentials(f *testing.F) {
	f.Add("sk-unknown-token-0123456789", "GET /x?key=%s HTTP/1.1")
	f.Add("sk-unknown-token-0123456789", "\"x-goog-api-key: %s\\x00\\r\\n\"")
	f.Add("AIzaSy0000", "Authorization: Bearer %s")
	f.Fuzz(func(t *testing.T, tok, format string) {
		if !strings.Contains(format, "%s") {
			return
		}
		text := strings.Replace(format, "%s", tok, 1)
		out := ScrubCredentials(text)
		if ScrubCredentials(out) != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", text, out, ScrubCredentials(out))
		}
		// A token of credential characters after key= or a credential
		// header must not survive whole.
		if len(tok) <= 12 || strings.Trim(tok, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return
		}
		pre := strings.ToLower(format[:strings.Index(format, "%s")])
		if strings.HasSuffix(pre, "?key=") || strings.HasSuffix(pre, "x-goog-api-key: ") {
			if strings.Contains(out, tok) {
				t.Fatalf("token survived: %q -> %q", text, out)
			}
		}
	})
}

// encode writes s with one escape form per byte, chosen by modes.
func encode(s string, modes []byte) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c, m := s[i], byte(0)
		if len(modes) > 0 {
			m = modes[i%len(modes)] % 7
		}
		switch m {
		case 1:
			fmt.Fprintf(&sb, `\u%04x`, c)
		case 2:
			fmt.Fprintf(&sb, `\u%04X`, c)
		case 3:
			fmt.Fprintf(&sb, `\x%02x`, c)
		case 4:
			fmt.Fprintf(&sb, "%%%02X", c)
		case 5:
			if c == '/' || c == '"' || c == '\\' {
				sb.WriteByte('\\')
			}
			sb.WriteByte(c)
		case 6:
			fmt.Fprintf(&sb, `\\u%04x`, c) // one level deeper
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// FuzzRedactorEncoded: a secret written with any mix of escapes, between
// any text, is never readable in the output at any decoding depth.
func FuzzRedactorEncoded(f *testing.F) {
	f.Add("AIzaSyLeaked-Key/000000000000000000000x7Q2", "{\"m\":\"", "\"}", []byte{0, 1, 2, 3, 4, 5, 6})
	f.Add("sk-client-token-123", `\`, `%`, []byte{1})
	f.Fuzz(func(t *testing.T, secret, pre, post string, modes []byte) {
		if len(secret) < 6 || strings.ContainsAny(secret, `…#\%`) {
			return
		}
		r := NewRedactorWith([]Known{{Value: secret, Name: KeyFingerprint(secret)}, {Value: "AIzaSyOtherKey00000000000000000000000001"}})
		out := r.String(pre + encode(secret, modes) + post)
		for depth, d := range decodings(out) {
			if strings.Contains(d, secret) {
				t.Fatalf("secret %q visible after %d decodings of %q", secret, depth, out)
			}
		}
	})
}

// BenchmarkRedactor: the cost of a clean upstream answer (the common
// case) against 1,000 keys, for a header block and an error body.
func BenchmarkRedactor(b *testing.B) {
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("AIzaSy%029dabcd", i)
	}
	r := NewRedactor(keys)
	var h fasthttp.ResponseHeader
	h.SetContentType("application/json; charset=UTF-8")
	h.Set("Vary", "Origin, X-Origin, Referer")
	h.Set("Server", "scaffolding on HTTPServer2")
	h.Set("X-Xss-Protection", "0")
	h.Set("Server-Timing", "gfet4t7; dur=1234")
	h.Set("Alt-Svc", `h3=":443"; ma=2592000,h3-29=":443"; ma=2592000`)
	body := []byte(`{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17s"}]}}`)
	b.Run("header", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.ResponseHeader(&h)
		}
	})
	b.Run("body", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Bytes(body)
		}
	})
}
