package secret

import (
	"strings"
	"testing"
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
	clean := []byte(`{"ok":true}`)
	if out := r.Bytes(clean); &out[0] != &clean[0] {
		t.Fatal("a body without secrets must be returned as is, without copying")
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
}

func FuzzRedactor(f *testing.F) {
	f.Add("AIzaSyLeakedKey00000000000000000000x7Q2", "prefix AIzaSyLeakedKey00000000000000000000x7Q2 suffix")
	f.Fuzz(func(t *testing.T, secret, text string) {
		r := NewRedactor([]string{secret})
		out := r.String(text)
		if len(secret) >= 6 && strings.Contains(out, secret) && !strings.Contains(Fingerprint(secret), secret) {
			// A secret can reappear only if the fingerprints glued
			// together recreate it, which needs the secret to contain "…".
			if !strings.Contains(secret, "…") {
				t.Fatalf("secret %q survived in %q", secret, out)
			}
		}
	})
}
