package verdict

import "testing"

func TestKeyFault(t *testing.T) {
	for c, want := range map[Class]bool{RateLimited: true, InvalidKey: true, PermissionDenied: true, ServerError: false, Timeout: false, Connection: false, ClientError: false, OK: false} {
		if c.KeyFault() != want {
			t.Errorf("%s.KeyFault() = %v", c, !want)
		}
	}
}

func TestParseRoundTrip(t *testing.T) {
	for i := 0; i < NumClasses; i++ {
		c := Class(i)
		got, err := Parse(c.String())
		if err != nil || got != c {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.String(), got, err, c)
		}
	}
}

func TestParseRefusesUnknownNames(t *testing.T) {
	for _, name := range []string{"", "OK", "rate-limited", "quota", "server_errors"} {
		if c, err := Parse(name); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", name, c)
		}
	}
}

func TestSet(t *testing.T) {
	s := NewSet(DefaultBlame)
	for _, c := range []Class{RateLimited, InvalidKey, PermissionDenied} {
		if !s.Has(c) {
			t.Errorf("set lacks %s", c)
		}
	}
	if s.Has(ServerError) || s.Has(Class(200)) {
		t.Error("set holds a class it was not given")
	}
}
