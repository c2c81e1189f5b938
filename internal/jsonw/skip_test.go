package jsonw

import "testing"

func TestSkipValue(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{`"a\"b",x`, 6},
		{`{"a":[1,{"b":"}"}]} tail`, 19},
		{`[1,2]`, 5},
		{`123,`, 3},
		{`true}`, 4},
		{`"open`, -1},
		{`{"a":1`, -1},
		{``, -1},
		{`,`, -1},
	}
	for _, tc := range tests {
		if got := SkipValue([]byte(tc.in), 0); got != tc.want {
			t.Errorf("SkipValue(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func FuzzSkipValue(f *testing.F) {
	f.Add([]byte(`{"a":[1,"x\"y",{"b":null}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if end := SkipValue(b, 0); end > len(b) || end < -1 || end == 0 {
			t.Fatalf("SkipValue out of range: %d for %q", end, b)
		}
	})
}
