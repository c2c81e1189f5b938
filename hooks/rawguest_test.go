package hooks

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// rawGuest hand-assembles a minimal ABI v1 guest, with no WASI imports,
// no _initialize and no hook_features: the shape a guest written in any
// language (or by hand) has. Its hook_request answers the static output
// document placed at offset 2048 by a data segment.
func rawGuest(output string) []byte {
	uleb := func(v uint64) []byte {
		var b []byte
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if v != 0 {
				c |= 0x80
			}
			b = append(b, c)
			if v == 0 {
				return b
			}
		}
	}
	sleb := func(v int64) []byte {
		var b []byte
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
				return append(b, c)
			}
			b = append(b, c|0x80)
		}
	}
	vec := func(items ...[]byte) []byte {
		out := uleb(uint64(len(items)))
		for _, it := range items {
			out = append(out, it...)
		}
		return out
	}
	section := func(id byte, content []byte) []byte {
		return append(append([]byte{id}, uleb(uint64(len(content)))...), content...)
	}
	name := func(s string) []byte { return append(uleb(uint64(len(s))), s...) }
	export := func(n string, kind, idx byte) []byte { return append(name(n), kind, idx) }
	body := func(code ...byte) []byte {
		b := append([]byte{0x00}, code...) // no locals
		return append(uleb(uint64(len(b))), b...)
	}
	const i32, i64 = 0x7f, 0x7e
	packed := int64(2048)<<32 | int64(len(output))
	m := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	m = append(m, section(1, vec(
		[]byte{0x60, 0x00, 0x01, i32},      // () -> i32
		[]byte{0x60, 0x01, i32, 0x01, i32}, // (i32) -> i32
		[]byte{0x60, 0x01, i32, 0x01, i64}, // (i32) -> i64
	))...)
	m = append(m, section(3, vec([]byte{0}, []byte{1}, []byte{2}))...)
	m = append(m, section(5, vec([]byte{0x00, 0x01}))...) // memory min 1 page
	m = append(m, section(7, vec(
		export("memory", 0x02, 0),
		export("hook_abi_version", 0x00, 0),
		export("hook_alloc", 0x00, 1),
		export("hook_request", 0x00, 2),
	))...)
	m = append(m, section(10, vec(
		body(append(append([]byte{0x41}, sleb(1)...), 0x0b)...),      // i32.const 1
		body(append(append([]byte{0x41}, sleb(1024)...), 0x0b)...),   // i32.const 1024
		body(append(append([]byte{0x42}, sleb(packed)...), 0x0b)...), // i64.const packed
	))...)
	seg := append([]byte{0x00, 0x41}, sleb(2048)...)
	seg = append(seg, 0x0b)
	seg = append(seg, name(output)...)
	m = append(m, section(11, vec(seg))...)
	return m
}

// TestHandWrittenGuest shows the ABI needs nothing Go-specific: a guest
// without WASI, _initialize or hook_features loads, is pooled and answers.
func TestHandWrittenGuest(t *testing.T) {
	rt := newTestRuntime(t)
	path := filepath.Join(t.TempDir(), "raw.wasm")
	if err := os.WriteFile(path, rawGuest(`{"action":"reject","status":451,"body":{"error":"nope"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := rt.Load(context.Background(), Spec{Name: "raw", Module: path, Phases: []Phase{PhaseRequest}, MemoryLimitBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for i := 0; i < 3; i++ {
		res, err := h.Call(context.Background(), PhaseRequest, env("openai", openAIBody))
		if err != nil {
			t.Fatal(err)
		}
		if res.Action != ActionReject || res.Status != 451 || string(res.Body) != `{"error":"nope"}` {
			t.Fatalf("result = %+v (%s)", res, res.Body)
		}
	}
	if s := h.Stats(); s.Instances != 1 || s.Calls != 3 {
		t.Errorf("stats = %+v", s)
	}
	// Without hook_features, an unexported phase is a load error.
	_, err = rt.Load(context.Background(), Spec{Name: "raw2", Module: path, Phases: []Phase{PhaseChunk}, MemoryLimitBytes: 1 << 20})
	if err == nil {
		t.Error("loaded a phase the module does not export")
	}
}
