//go:build !linux

package hooks

const mapSupported = false

func mapGuestMemory(uint64) *mappedMemory { return nil }

func unmapGuestMemory([]byte) {}
