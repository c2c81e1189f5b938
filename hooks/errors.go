package hooks

import (
	"errors"
	"fmt"
)

// ErrorKind classifies a failed hook call for stats and logs.
type ErrorKind string

// Kinds of call failures. Every kind except KindCanceled and KindBusy
// means the guest (or its module) misbehaved, and the instance involved
// was discarded.
const (
	// KindTimeout: the call ran past the hook's timeout and was stopped.
	KindTimeout ErrorKind = "timeout"
	// KindTrap: the guest trapped (panic, unreachable, bad memory access).
	KindTrap ErrorKind = "trap"
	// KindOOM: the guest ran out of memory at the hook's memory cap.
	KindOOM ErrorKind = "oom"
	// KindBadOutput: the output was not a valid ABI result document.
	KindBadOutput ErrorKind = "bad_output"
	// KindGuestError: the guest returned {"error": ...} (a handler error).
	KindGuestError ErrorKind = "guest_error"
	// KindInstantiate: a new instance could not be created.
	KindInstantiate ErrorKind = "instantiate"
	// KindTooLarge: the input envelope exceeds what the guest can hold.
	KindTooLarge ErrorKind = "too_large"
	// KindBusy: no instance became free before the caller's context ended.
	KindBusy ErrorKind = "busy"
	// KindCanceled: the caller's context ended before or during the call.
	KindCanceled ErrorKind = "canceled"
	// KindClosed: the hook was closed (replaced by a reload, or shut down).
	KindClosed ErrorKind = "closed"
)

var allKinds = [...]ErrorKind{KindTimeout, KindTrap, KindOOM, KindBadOutput, KindGuestError,
	KindInstantiate, KindTooLarge, KindBusy, KindCanceled, KindClosed}

func (k ErrorKind) ordinal() int {
	for i, v := range allKinds {
		if v == k {
			return i
		}
	}
	return 0
}

// ErrClosed is wrapped by calls made on a closed hook.
var ErrClosed = errors.New("hook closed")

// CallError is the error of a failed Hook.Call. The engine applies the
// hook's FailPolicy to it: fail "open" continues without the hook, fail
// "closed" refuses the request.
type CallError struct {
	Hook   string
	Module string
	Phase  Phase
	Kind   ErrorKind
	Err    error
	// Output is what the guest wrote to stdout/stderr during the call
	// (the first 2 KiB), e.g. a Go panic's message and stack. It is not
	// part of Error(): the hook package logs it, throttled, and it may
	// quote request data, so it stays out of answers and stored errors.
	// (An instance that fails to start is different: its error, kind
	// instantiate, quotes the output, as Load's error does.)
	Output string
}

func (e *CallError) Error() string {
	return fmt.Sprintf("hook %q (%s) %s phase: %s: %v", e.Hook, e.Module, e.Phase, e.Kind, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// FailPolicy decides what a broken hook does to the request.
type FailPolicy string

// The fail policies of the hook block.
const (
	// FailClosed refuses the request when the hook fails (the default:
	// a redaction hook that silently stops working must not leak data).
	FailClosed FailPolicy = "closed"
	// FailOpen continues as if the hook had said "continue, no change".
	FailOpen FailPolicy = "open"
)

// ParseFailPolicy validates a `fail` value from config; "" means closed.
func ParseFailPolicy(s string) (FailPolicy, error) {
	switch s {
	case "", string(FailClosed):
		return FailClosed, nil
	case string(FailOpen):
		return FailOpen, nil
	}
	return "", fmt.Errorf("unknown hook fail policy %q (want \"open\" or \"closed\")", s)
}
