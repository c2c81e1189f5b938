//go:build wasip1

package guest

import (
	"sort"
	"strconv"
	"unsafe"
)

// The exports below are the whole ABI; hooks/README.md is the spec.

var phases = [3]Phase{PhaseRequest, PhaseResponse, PhaseChunk}

var (
	inBuf  []byte // the host writes the envelope here (hook_alloc)
	outBuf []byte // the last output, read by the host after the call
	env    Envelope
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

// dispatch runs the handler for one phase and returns ptr<<32|len of the
// output, or 0 for "continue unchanged".
func dispatch(phase int, n int32) int64 {
	h := handlers[phase]
	if h == nil || n < 0 || int(n) > len(inBuf) {
		return 0
	}
	env = Envelope{raw: inBuf[:n], phase: phases[phase]}
	res, err := h(&env)
	env = Envelope{} // drop views into inBuf
	if err != nil {
		outBuf = appendError(outBuf[:0], err.Error())
		return packOut()
	}
	if res == nil || (res.Action == "" || res.Action == ActionContinue) && res.Body == nil &&
		len(res.SetHeaders) == 0 && len(res.RemoveHeaders) == 0 && res.Model == "" && res.Pool == "" {
		return 0
	}
	outBuf = appendResult(outBuf[:0], res)
	return packOut()
}

func packOut() int64 {
	if len(outBuf) == 0 {
		return 0
	}
	ptr := uint32(uintptr(unsafe.Pointer(&outBuf[0])))
	return int64(uint64(ptr)<<32 | uint64(uint32(len(outBuf))))
}

func appendError(b []byte, msg string) []byte {
	b = append(b, `{"error":`...)
	b = AppendString(b, msg)
	return append(b, '}')
}

func appendResult(b []byte, r *Result) []byte {
	action := r.Action
	if action == "" {
		action = ActionContinue
	}
	b = append(b, `{"action":`...)
	b = AppendString(b, string(action))
	if r.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(r.Status), 10)
	}
	if r.Model != "" {
		b = append(b, `,"model":`...)
		b = AppendString(b, r.Model)
	}
	if r.Pool != "" {
		b = append(b, `,"pool":`...)
		b = AppendString(b, r.Pool)
	}
	if len(r.SetHeaders) > 0 || len(r.RemoveHeaders) > 0 {
		b = append(b, `,"headers":{"set":{`...)
		keys := make([]string, 0, len(r.SetHeaders))
		for k := range r.SetHeaders {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, k)
			b = append(b, ':')
			b = AppendString(b, r.SetHeaders[k])
		}
		b = append(b, `},"remove":[`...)
		for i, k := range r.RemoveHeaders {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, k)
		}
		b = append(b, "]}"...)
	}
	if r.Body != nil { // last, so readers can take the rest unscanned
		b = append(b, `,"body":`...)
		b = append(b, r.Body...)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string literal (quoted and escaped).
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
