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
		if got := validStructure([]byte(tc.in), true); got != tc.want {
			t.Errorf("validStructure(%.40q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzValidStructure: the strict scanner agrees with encoding/json plus a
// UTF-8 check; the lenient one differs only on raw control characters
// inside strings.
func FuzzValidStructure(f *testing.F) {
	f.Add([]byte(`{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]}]}`))
	f.Add([]byte(`[1,{"a":"\u0041"},null]`))
	f.Add([]byte("{\"a\":\"x\ty\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		want := json.Valid(b) && utf8.Valid(b)
		if got := validStructure(b, true); got != want {
			t.Fatalf("strict: %v, encoding/json: %v for %q", got, want, b)
		}
		if lenient := validStructure(b, false); lenient != want && (!lenient || !bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 })) {
			t.Fatalf("lenient: %v, encoding/json: %v for %q", lenient, want, b)
		}
	})
}

// BenchmarkValidJSONSmall: a typical small request, the scanner against
// encoding/json plus utf8.Valid in the same run.
func BenchmarkValidJSONSmall(b *testing.B) {
	body := []byte(`{"contents":[{"role":"user","parts":[{"text":"Write a haiku about load balancers and the keys they spend."}]}],"generationConfig":{"temperature":0.7}}`)
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if !json.Valid(body) || !utf8.Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("validJSON", func(b *testing.B) {
		for b.Loop() {
			if !validJSON(body) {
				b.Fatal("invalid")
			}
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
