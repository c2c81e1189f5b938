package secret

import (
	"github.com/valyala/fasthttp"
)

// ResponseHeader redacts, in place, every known secret in the values of h
// (Set-Cookie, Location, Warning, any custom header) and in its status
// message, in the same forms Bytes finds. It reports whether anything
// changed. A header name with a redacted value keeps all of its values, in
// order, but moves after the other headers. Header names and trailers are
// left as they are.
//
// It is meant for an upstream answer's headers before they are passed
// back, logged or stored; it allocates nothing when no secret occurs.
func (r *Redactor) ResponseHeader(h *fasthttp.ResponseHeader) bool {
	if r == nil || len(r.secrets) == 0 || h == nil {
		return false
	}
	changed := false
	if msg := h.StatusMessage(); len(msg) > 0 {
		if red := r.Bytes(msg); !same(red, msg) {
			h.SetStatusMessage(append([]byte(nil), red...))
			changed = true
		}
	}
	var dirty map[string]bool
	for k, v := range h.All() {
		if red := r.Bytes(v); !same(red, v) {
			if dirty == nil {
				dirty = map[string]bool{}
			}
			dirty[string(k)] = true
		}
	}
	if dirty == nil {
		return changed
	}
	type field struct{ name, value string }
	var fields []field
	for k, v := range h.All() {
		if dirty[string(k)] {
			fields = append(fields, field{string(k), string(r.Bytes(v))})
		}
	}
	for name := range dirty {
		h.Del(name)
	}
	for _, f := range fields {
		h.Add(f.name, f.value)
	}
	return true
}
