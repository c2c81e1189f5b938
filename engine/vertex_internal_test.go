package engine

import (
	"encoding/json"
	"testing"

	"github.com/tidwall/gjson"
)

// FuzzWithUserRoles: whatever the body, withUserRoles never panics; a
// valid JSON body stays valid, and afterwards every content object has a
// role, the ones that had one unchanged.
func FuzzWithUserRoles(f *testing.F) {
	for _, s := range []string{
		`{"contents":[{"parts":[{"text":"hi"}]}]}`,
		`{"contents":[{"role":"model","parts":[]},{"role":"","parts":[]},{"parts":[]}]}`,
		`{"contents":[1,"x",null,{"role":"user"}]}`,
		`{"contents":{}}`, `{}`, `[]`, `not json`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in := append([]byte(nil), body...)
		out, changed := withUserRoles(body)
		if string(body) != string(in) {
			t.Fatal("the input was modified")
		}
		if !changed {
			if string(out) != string(in) {
				t.Fatal("unchanged, yet another body")
			}
		}
		if !json.Valid(in) {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%s became invalid JSON: %s", in, out)
		}
		if !gjson.GetBytes(in, "contents").IsArray() {
			if changed {
				t.Fatalf("contents that are no list were changed: %s", out)
			}
			return
		}
		before := gjson.GetBytes(in, "contents").Array()
		after := gjson.GetBytes(out, "contents").Array()
		if len(after) != len(before) {
			t.Fatalf("%d contents became %d", len(before), len(after))
		}
		for i, c := range after {
			if !c.IsObject() {
				continue
			}
			role, was := c.Get("role").String(), before[i].Get("role").String()
			if role == "" || (was != "" && role != was) {
				t.Fatalf("content %d: role %q (was %q) in %s", i, role, was, out)
			}
		}
	})
}
