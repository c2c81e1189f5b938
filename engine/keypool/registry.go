package keypool

import (
	"sort"
	"sync"
	"time"

	"github.com/balanceproxy/balance/internal/secret"
)

// Registry owns the health of every key the process knows, across config
// reloads. It is keyed by the key value itself, and names every key it
// holds uniquely (secret.KeyNames), so two keys never share a status row
// or a stats row.
type Registry struct {
	mu    sync.Mutex
	keys  map[string]*Key
	names *secret.KeyNames
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{keys: map[string]*Key{}, names: secret.NewKeyNames()}
}

// Get returns the health record of a key, creating a healthy one for a key
// seen for the first time.
func (r *Registry) Get(value string) *Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.keys[value]
	if !ok {
		k = newKey(value, r.names.Name(value))
		r.keys[value] = k
	}
	return k
}

// Retain drops every key not in keep and returns the fingerprints of the
// dropped ones. A reload calls it after the new snapshot is live, so state
// of removed keys does not linger.
func (r *Registry) Retain(keep map[string]bool) (dropped []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for v, k := range r.keys {
		if !keep[v] {
			dropped = append(dropped, k.FP)
			delete(r.keys, v)
			r.names.Forget(v)
		}
	}
	sort.Strings(dropped)
	return dropped
}

// ByHash finds a key by the sha256 hash a store shares, or nil.
func (r *Registry) ByHash(hash string) *Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.keys {
		if k.Hash == hash {
			return k
		}
	}
	return nil
}

// Len is the number of keys tracked.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

// probeCandidates returns the quarantined keys whose probe is due.
func (r *Registry) probeCandidates(now time.Time) []*Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Key
	for _, k := range r.keys {
		if k.probeDue(now) {
			out = append(out, k)
		}
	}
	return out
}
