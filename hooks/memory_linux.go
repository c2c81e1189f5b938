package hooks

import "syscall"

const mapSupported = true

// mapGuestMemory reserves max bytes of zeroed memory. MAP_NORESERVE: the
// reservation is address space; only touched pages count, against RSS
// and the commit limit alike. It returns nil when the mapping fails.
func mapGuestMemory(max uint64) *mappedMemory {
	if max == 0 || max > 1<<32 {
		return nil
	}
	buf, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	return &mappedMemory{buf: buf}
}

func unmapGuestMemory(buf []byte) {
	if buf != nil {
		_ = syscall.Munmap(buf)
	}
}
