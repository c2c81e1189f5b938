package engine

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRedactFasthttp: without a runtime, credential-looking values are
// still scrubbed, a quoted header value is fingerprinted whatever it is,
// and a long message is clipped on a character boundary.
func TestRedactFasthttp(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"quoted header value", `invalid header value "opaque-credential-123\x00"`, `invalid header value "opaq…123\x00"`},
		{"empty quoted value", `invalid header value ""`, `invalid header value ""`},
		{"query key", `invalid request uri "/x?key=opaque-credential-123\x01"`, `invalid request uri "/x?key=opaq…\x01"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := redactFasthttp(nil, tc.in); got != tc.want {
				t.Errorf("\n got  %q\n want %q", got, tc.want)
			}
		})
	}
	long := strings.Repeat("é", 3000)
	got := redactFasthttp(nil, long)
	if len(got) > maxFasthttpLog+len("…(clipped)") || !utf8.ValidString(got) || !strings.HasSuffix(got, "…(clipped)") {
		t.Fatalf("clipped to %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
}
