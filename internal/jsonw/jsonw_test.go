package jsonw

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppend(t *testing.T) {
	tests := []struct{ in, plain, marshal string }{
		{"hello", `"hello"`, `"hello"`},
		{`a "quote" \ back`, `"a \"quote\" \\ back"`, `"a \"quote\" \\ back"`},
		{"line\nbreak\ttab\r", `"line\nbreak\ttab\r"`, `"line\nbreak\ttab\r"`},
		{"\b\f\x01", `"\u0008\u000c\u0001"`, `"\b\f\u0001"`},
		{"<b>&", `"<b>&"`, `"\u003cb\u003e\u0026"`},
		{"bad \xff utf8", `"bad \ufffd utf8"`, `"bad \ufffd utf8"`},
		{"sep\u2028\u2029", `"sep\u2028\u2029"`, `"sep\u2028\u2029"`},
		{"héllo 世界", `"héllo 世界"`, `"héllo 世界"`},
	}
	for _, tc := range tests {
		if got := string(AppendString(nil, tc.in)); got != tc.plain {
			t.Errorf("AppendString(%q) = %s, want %s", tc.in, got, tc.plain)
		}
		if got := string(AppendMarshal(nil, tc.in)); got != tc.marshal {
			t.Errorf("AppendMarshal(%q) = %s, want %s", tc.in, got, tc.marshal)
		}
	}
}

// FuzzAppend: AppendMarshal is byte-identical to encoding/json, and
// AppendString always decodes back to the (UTF-8-corrected) input.
func FuzzAppend(f *testing.F) {
	f.Add("plain text")
	f.Add("<script>\"x\"\\\n\x00\xff\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendMarshal(nil, s); string(got) != string(want) {
			t.Fatalf("AppendMarshal(%q) = %s, json.Marshal = %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal(AppendString(nil, s), &back); err != nil {
			t.Fatalf("AppendString(%q) is not JSON: %v", s, err)
		}
		if back != strings.ToValidUTF8(s, "\uFFFD") && utf8.ValidString(s) {
			t.Fatalf("round trip %q → %q", s, back)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	s := strings.Repeat("Explain how AI works in a few words. ", 20)
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}
