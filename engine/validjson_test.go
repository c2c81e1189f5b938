package engine

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidStructure(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{"contents":[{"parts":[{"text":"hi \"there\" \u00e9\n"}]}]}`, true},
		{`[1, -2.5e+3, 0, true, false, null, {}, []]`, true},
		{` {"a": {"b": [ ]}} `, true},
		{`{"a":}`, false},
		{`{"a":1,}`, false},
		{`{"a" 1}`, false},
		{`[1 2]`, false},
		{`"unterminated`, false},
		{`{"a":"\x"}`, false},
		{`{"a":"\u12G4"}`, false},
		{"{\"a\":\"caf\xc3\xa9\"}", true},
		{"{\"a\":\"\xff\xfe\"}", false},
		{"{\"a\":\"\xc3\"}", false},
		{`01`, false},
		{`1.`, false},
		{`-`, false},
		{`{} {}`, false},
		{``, false},
		{`nul`, false},
		{strings.Repeat("[", 20000) + strings.Repeat("]", 20000), false},
	} {
		if got := validStructure([]byte(tc.in)); got != tc.want {
			t.Errorf("validStructure(%.40q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzValidStructure: the fast check agrees with encoding/json plus a
// UTF-8 check, except on raw control characters inside strings.
func FuzzValidStructure(f *testing.F) {
	f.Add([]byte(`{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]}]}`))
	f.Add([]byte(`[1,{"a":"\u0041"},null]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, slow := validStructure(b), json.Valid(b) && utf8.Valid(b)
		if fast == slow {
			return
		}
		if slow && !fast {
			t.Fatalf("valid JSON refused: %q", b)
		}
		if !bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 }) {
			t.Fatalf("invalid JSON accepted: %q", b)
		}
	})
}

func BenchmarkValidJSON6MB(b *testing.B) {
	body := []byte(`{"contents":[{"parts":[{"text":"describe"},{"inlineData":{"mimeType":"image/png","data":"` + strings.Repeat("QUJD", 6<<20/4) + `"}}]}]}`)
	b.Run("encoding/json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !json.Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("validJSON", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !validJSON(body) {
				b.Fatal("invalid")
			}
		}
	})
}

func BenchmarkValidJSONManyEscapes(b *testing.B) {
	body := []byte(`{"text":"` + strings.Repeat(`a\nb\"`, 200000) + `"}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if !validJSON(body) {
			b.Fatal("invalid")
		}
	}
}
