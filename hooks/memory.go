package hooks

import (
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// Guest linear memory lives outside the Go heap.
//
// wazero's default keeps a guest's memory in a Go slice that grows by
// append: every memory.grow past the capacity allocates a larger slice
// and leaves the old one to the garbage collector, and a discarded
// instance's memory waits for the next GC cycle, which the Go pacer puts
// off until the heap has doubled (guest memory counts as heap). Six
// callers of a guest that fills its 32 MiB cap through max_instances = 2
// took the process 3.5× past the 64 MiB the caps allow.
//
// mmapAllocator instead reserves each instance's maximum as one anonymous
// mapping that the kernel backs page by page as the guest touches it:
// growing is free (the address never changes, nothing is copied), and
// closing an instance unmaps it, giving its pages back at once. Guest
// memory in RSS is then what the live instances touched, at most
// max_instances × memory per hook. Go's garbage collector never sees it,
// so neither GOGC nor GOMEMLIMIT has to account for guests.
//
// Each instance gets its own allocator (newInstance), passed to
// InstantiateModule through the context (experimental.WithMemoryAllocator),
// so the host holds the instance's memory and frees it itself when it
// discards the instance: wazero frees it on Close too, but not when a
// timeout closed the module first. Where anonymous mappings are not
// implemented (non-Linux, mapSupported false), wazero's default is kept.

// instanceMemory records the memory wazero allocates for one instance.
type instanceMemory struct {
	mem experimental.LinearMemory
}

// Allocate implements experimental.MemoryAllocator.
func (im *instanceMemory) Allocate(_, max uint64) experimental.LinearMemory {
	if m := mapGuestMemory(max); m != nil {
		im.mem = m
	} else {
		im.mem = &sliceMemory{max: max}
	}
	return im.mem
}

// free releases the memory; safe to repeat, and after wazero's own Free.
func (im *instanceMemory) free() {
	if im.mem != nil {
		im.mem.Free()
	}
}

// sliceMemory is the fallback when a mapping fails: a Go slice of the
// maximum size, allocated once on first use, so growing copies nothing.
type sliceMemory struct {
	max uint64
	buf []byte
}

func (m *sliceMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if m.buf == nil {
		m.buf = make([]byte, m.max)
	}
	return m.buf[:size]
}

func (m *sliceMemory) Free() { m.buf = nil }

// mappedMemory is one instance's memory as an anonymous mapping of its
// maximum size.
type mappedMemory struct {
	once sync.Once
	buf  []byte // the whole mapping
}

func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil
	}
	return m.buf[:size]
}

// Free unmaps the memory. wazero calls it once, when the instance is
// closed; the host never closes an instance while guest code runs in it
// (Runtime.Close waits for running calls; a timed-out guest has returned
// before its instance is discarded), so nothing touches the pages after.
func (m *mappedMemory) Free() {
	m.once.Do(func() {
		unmapGuestMemory(m.buf)
		m.buf = nil
	})
}
