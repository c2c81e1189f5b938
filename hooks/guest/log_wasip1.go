//go:build wasip1

package guest

import "unsafe"

//go:wasmimport balance_hook log
func hostLogImport(level int32, ptr, n uint32)

func hostLog(level int32, msg string) {
	hostLogImport(level, uint32(uintptr(unsafe.Pointer(unsafe.StringData(msg)))), uint32(len(msg)))
}
