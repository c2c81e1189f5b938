// Package verdict is balance's one vocabulary of failure classes: what an
// upstream answer (or the lack of one) means for the key that met it.
// The engine classifies into it, the config names it (a pool's retry_on
// and blame lists), and the stats record it by name. Adding a class here
// is the only way to add one anywhere.
package verdict

import (
	"fmt"
	"strings"
	"time"
)

// Class is what an upstream answer means for the key that met it.
type Class uint8

// The classes, in the order their names are listed.
const (
	// OK is a 2xx answer.
	OK Class = iota
	// RateLimited is 429 RESOURCE_EXHAUSTED: cool the key down for the model.
	RateLimited
	// InvalidKey is 400 API_KEY_INVALID: quarantine the key.
	InvalidKey
	// PermissionDenied is 403: the key is suspended, leaked or lacks the API.
	PermissionDenied
	// ServerError is 500/502/503/504: not the key's fault; retry elsewhere.
	ServerError
	// Timeout is an upstream that did not answer in time.
	Timeout
	// Connection is a failed dial or a dropped connection.
	Connection
	// ClientError is any other 4xx, or a request the proxy refused: the
	// request's own fault; pass it back.
	ClientError

	// NumClasses sizes arrays indexed by Class.
	NumClasses = int(ClientError) + 1
)

var names = [NumClasses]string{"ok", "rate_limited", "invalid_key", "permission_denied", "server_error", "timeout", "connection", "client_error"}

func (c Class) String() string {
	if int(c) < len(names) {
		return names[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// MarshalText writes the class's name, so config dumps and JSON show it.
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Parse returns the class named name. An unknown name is an error, never
// a silent OK.
func Parse(name string) (Class, error) {
	for i, n := range names {
		if n == name {
			return Class(i), nil
		}
	}
	return 0, fmt.Errorf("unknown error class %q (known: %s)", name, strings.Join(names[:], ", "))
}

// KeyFault reports whether the class is evidence against the key itself.
func (c Class) KeyFault() bool {
	return c == RateLimited || c == InvalidKey || c == PermissionDenied
}

// Blamable are the classes a pool's blame list may name: those that can
// change a key's state. DefaultBlame is the list when the config sets none.
var (
	Blamable     = []Class{RateLimited, InvalidKey, PermissionDenied, ServerError, Timeout, Connection}
	DefaultBlame = []Class{RateLimited, InvalidKey, PermissionDenied}
)

// Retryable are the classes a pool's retry_on list may name: failures
// that may go away on another key without being the key's fault. They are
// also the default retry_on.
var Retryable = []Class{ServerError, Timeout, Connection}

// Set is a set of classes, indexed by Class: a fixed array, so a lookup on
// the request path costs no hashing.
type Set [NumClasses]bool

// NewSet returns the set holding list.
func NewSet(list []Class) Set {
	var s Set
	for _, c := range list {
		s[c] = true
	}
	return s
}

// Has reports whether c is in the set.
func (s *Set) Has(c Class) bool { return int(c) < len(s) && s[c] }

// Verdict is the classification of one upstream answer.
type Verdict struct {
	Class Class
	// RetryAfter is Google's RetryInfo.retryDelay, when it sent one.
	RetryAfter time.Duration
	// Daily is set when the exhausted quota is a per-day one.
	Daily bool
	// Reason is a short machine-readable reason (ErrorInfo.reason, the
	// status name, or the transport error).
	Reason string
	// Message is Google's error message (not redacted: redact before use).
	Message string
}
