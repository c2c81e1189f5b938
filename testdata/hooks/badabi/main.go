//go:build wasip1

// Command badabi exports the hook functions by hand but claims ABI
// version 99, which the host must refuse.
package main

var buf [1024]byte

//go:wasmexport hook_abi_version
func version() int32 { return 99 }

//go:wasmexport hook_alloc
func alloc(n int32) int32 { return 0 }

//go:wasmexport hook_request
func request(n int32) int64 { return 0 }

func main() {}
