package pii

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mail me at dana.smith@example.com.", "mail me at [EMAIL]."},
		{"two: a@b.co, x.y+z@mail.example.org", "two: [EMAIL], [EMAIL]"},
		{"not an email: @handle or a@b", "not an email: @handle or a@b"},
		{"call +1 415 555 0134 today", "call [PHONE] today"},
		{"call (415) 555-0134", "call [PHONE]"},
		{"office 555-0134", "office [PHONE]"},
		{"card 4111 1111 1111 1111 ok", "card [CARD] ok"},
		{"card 4111-1111-1111-1111", "card [CARD]"},
		{"not luhn 4111 1111 1111 1112", "not luhn 4111 1111 1111 1112"},
		{"on 2024-08-06 at noon", "on 2024-08-06 at noon"},
		{"id abc-555-0134", "id abc-555-0134"},
		{"order 88123 shipped in 2024", "order 88123 shipped in 2024"},
		{"model gpt4o-2024-08-06 v12345678901", "model gpt4o-2024-08-06 v12345678901"},
		{"pi is 3.14159", "pi is 3.14159"},
		{"", ""},
	}
	for _, tc := range tests {
		got, changed := Redact(tc.in, All)
		if got != tc.want || changed != (tc.in != tc.want) {
			t.Errorf("Redact(%q) = %q, %v; want %q", tc.in, got, changed, tc.want)
		}
	}
}

func TestOptions(t *testing.T) {
	in := "a@b.co 4111 1111 1111 1111 +1 415 555 0134"
	got, _ := Redact(in, Options{Card: true, Mask: func(k string) string { return "<" + strings.ToLower(k) + ">" }})
	if want := "a@b.co <card> +1 415 555 0134"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("dana@example.com +1 415 555 0134 4111 1111 1111 1111")
	f.Add("(((((1")
	f.Add("@@@.@.")
	f.Fuzz(func(t *testing.T, s string) {
		got, changed := Redact(s, All)
		if !changed && got != s {
			t.Fatalf("unchanged but different: %q -> %q", s, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("redaction broke UTF-8: %q -> %q", s, got)
		}
		again, _ := Redact(got, All)
		if again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, got, again)
		}
	})
}
