//go:build wasip1

package guest

import "unsafe"

// The exports below are the whole ABI; hooks/README.md is the spec.

var (
	inBuf  []byte // the host writes the envelope here (hook_alloc)
	outBuf []byte // the last output, read by the host after the call
)

//go:wasmexport hook_abi_version
func hookABIVersion() int32 { return ABIVersion }

//go:wasmexport hook_features
func hookFeatures() int32 { return features }

// hookAlloc returns a buffer of at least size bytes, valid until the next
// hook_alloc call. It keeps the old buffer when it is large enough, so the
// host may skip calling it for inputs no larger than the last request.
//
//go:wasmexport hook_alloc
func hookAlloc(size int32) int32 {
	if size < 0 {
		return 0
	}
	if int(size) > cap(inBuf) {
		inBuf = make([]byte, size)
	}
	inBuf = inBuf[:cap(inBuf)]
	if len(inBuf) == 0 {
		inBuf = make([]byte, 64)
	}
	return int32(uintptr(unsafe.Pointer(&inBuf[0])))
}

//go:wasmexport hook_request
func hookRequest(n int32) int64 { return dispatch(0, n) }

//go:wasmexport hook_response
func hookResponse(n int32) int64 { return dispatch(1, n) }

//go:wasmexport hook_chunk
func hookChunk(n int32) int64 { return dispatch(2, n) }

// dispatch runs one phase on the input in inBuf and returns ptr<<32|len of
// the output, or 0 for "continue unchanged".
func dispatch(phase int, n int32) int64 {
	if n < 0 || int(n) > len(inBuf) {
		return 0
	}
	outBuf = handle(phase, inBuf[:n], outBuf[:0])
	if len(outBuf) == 0 {
		return 0
	}
	ptr := uint32(uintptr(unsafe.Pointer(&outBuf[0])))
	return int64(uint64(ptr)<<32 | uint64(uint32(len(outBuf))))
}
