package hooks

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeResult checks the fast output decoder against encoding/json:
// whenever the fast path accepts a document, it must agree with the
// standard decoder, and decodeResult never panics on guest output.
func FuzzDecodeResult(f *testing.F) {
	for _, s := range []string{
		`{"action":"continue"}`,
		`{"action":"reject","status":403,"body":{"error":{"code":403}}}`,
		`{"action":"respond","headers":{"set":{"x":"1"},"remove":["y"]},"body":[1,"a\"]"]}`,
		`{"model":"m","pool":"p","body":null}`,
		`{"error":"boom"}`,
		`{}`, ` { "action" : "continue" , "status" : 200 } `, `{"body":{"a":}`, `[]`, `{"action":"x"}`,
		`{"status":"nope"}`, `{"unknown":{"deep":[{}]},"body":"s"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		res, err := decodeResult(out)
		fast, ok := decodeFast(out)
		if !ok {
			return
		}
		var std wireResult
		if jerr := json.Unmarshal(out, &std); jerr != nil {
			t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", jerr, out)
		}
		if len(std.Body) > 0 || len(fast.Body) > 0 {
			if !jsonEqual(std.Body, fast.Body) {
				t.Fatalf("body differs: std %q fast %q", std.Body, fast.Body)
			}
		}
		std.Body, fast.Body = nil, nil
		if !reflect.DeepEqual(std, fast) {
			t.Fatalf("decoders differ on %q:\nstd  %+v\nfast %+v", out, std, fast)
		}
		if err == nil && res.Body != nil && !json.Valid(res.Body) {
			t.Fatalf("invalid body accepted: %q", res.Body)
		}
	})
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}

// FuzzEnvelope checks that any engine input encodes to valid JSON whose
// index points at the right values, and that credentials never leak.
func FuzzEnvelope(f *testing.F) {
	f.Add("/v1beta", "gemini", "alice", "team", "x", "main", "gemini-2.5-flash", "User-Agent", "sdk", `{"a":1}`)
	f.Add("r\x00\"\\", "openai", "\xff", "", "\u2028", "", "", "X-Goog-Api-Key", "secret", ``)
	f.Add("", "", "", "k", "v", "", "", "Referer", "https://h/?key=SECRETVALUE&x=1", `[1,2]`)
	f.Fuzz(func(t *testing.T, route, proto, tok, lk, lv, pool, model, hn, hv, body string) {
		if !json.Valid([]byte(body)) {
			body = ""
		}
		in := &Envelope{Route: route, Protocol: proto, Token: Token{Name: tok, Labels: map[string]string{lk: lv}},
			Pool: pool, Model: model, Headers: []Header{{hn, hv}}, Body: []byte(body)}
		b := appendEnvelope(nil, PhaseRequest, in, []byte(`{"c":true}`), true)
		if !json.Valid(b) {
			t.Fatalf("invalid envelope: %q", b)
		}
		if !strings.HasPrefix(string(b), envelopePrefix) {
			t.Fatalf("missing prefix: %q", b)
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		names := [idxCount]string{"route", "protocol", "token", "pool", "model", "headers", "config", "body"}
		for k, name := range names {
			at := len(envelopePrefix) + 16*k
			off, n := hexVal(b[at:at+8]), hexVal(b[at+8:at+16])
			if off+n > len(b) || !jsonEqual(b[off:off+n], doc[name]) {
				t.Fatalf("index for %s points at %q, want %q", name, b[off:min(off+n, len(b))], doc[name])
			}
		}
		if isSensitiveHeader(hn) && len(hv) > 0 && strings.Contains(string(doc["headers"]), strings.ToLower(hn)) {
			t.Fatalf("credential header %q reached the envelope: %s", hn, doc["headers"])
		}
	})
}

func hexVal(b []byte) int {
	v := 0
	for _, c := range b {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= int(c - '0')
		default:
			v |= int(c-'a') + 10
		}
	}
	return v
}

// FuzzRedactKeyParam: whatever the header value, a key= parameter's value
// is gone afterwards.
func FuzzRedactKeyParam(f *testing.F) {
	f.Add("https://h/p?alt=sse&key=AIzaSECRET&x=1")
	f.Add("key=AIzaSECRET")
	f.Add("monkey=banana&key=AIzaSECRET#frag")
	f.Fuzz(func(t *testing.T, v string) {
		out := redactKeyParam(v)
		if !strings.Contains(v, "key=") && out != v {
			t.Fatalf("changed a value without key=: %q -> %q", v, out)
		}
		const secret = "AIzaSECRETTOKEN"
		for _, sep := range []string{"?", "&", ";"} {
			in := v + sep + "key=" + secret
			if strings.Contains(redactKeyParam(in), secret) {
				t.Fatalf("secret survived in %q -> %q", in, redactKeyParam(in))
			}
		}
	})
}
