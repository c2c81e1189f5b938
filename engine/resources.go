package engine

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/store"
)

// A file, cached content or batch lives in the Google project of the key
// that created it: no other key can use it. balance remembers who owns
// each one (ownership), pins every later request that names it to that
// key (pinResources, forward's pinned pick), and shows each token only its
// own. Records live in the store, so they survive restarts and every
// instance on one database routes alike; this process keeps the ones it
// has seen in memory, which is what a request's lookup costs.
//
// A fleet shares one store, so a peer may delete a record this process
// still holds. A lookup that finds a record in memory uses it, but at
// most once per resourceRecheck per name it reads the store again first
// (the first request after the interval does, the others keep using
// memory meanwhile): a record a peer deleted is forgotten and its name
// answers 404 within resourceRecheck, at the cost of one store read per
// name in use per interval. A hit costs one atomic load more than a map
// read. A miss already reads the store; an expired record is dropped at
// its expiry, everywhere, without a read.

// resourceStoreTimeout bounds a store read or write made for a request.
const resourceStoreTimeout = 3 * time.Second

// resourceRecheck bounds how long a record deleted by another instance
// can still route here (see above).
const resourceRecheck = 5 * time.Second

// ownership is the in-memory view of the resource records.
type ownership struct {
	mu     sync.RWMutex
	byName map[string]*heldResource
	totals resourceTotals
	// recheck is resourceRecheck; tests shorten it.
	recheck time.Duration
}

// heldResource is a record in memory and when the store last confirmed
// it (unix ns).
type heldResource struct {
	store.Resource
	checked atomic.Int64
}

// errStoreUnavailable says a record could not be read or written.
var errStoreUnavailable = errors.New("the resource records cannot be read right now")

// lookup finds name's record: memory first, then the store (a peer may
// have created it). ok is false when no live record exists.
func (s *Server) lookupResource(name string) (store.Resource, bool, error) {
	o := &s.owned
	o.mu.RLock()
	h := o.byName[name]
	o.mu.RUnlock()
	now := time.Now()
	st := s.store.Load()
	if h != nil && (h.Expires.IsZero() || now.Before(h.Expires)) {
		last := h.checked.Load()
		if st == nil || now.UnixNano()-last < int64(o.recheckEvery()) || !h.checked.CompareAndSwap(last, now.UnixNano()) {
			return h.Resource, true, nil
		}
		// This request re-reads the store for name (see above).
		r, ok, err := s.readResource(st, name)
		switch {
		case err != nil:
			// The record was right a moment ago: keep routing by it
			// rather than refuse every request while the store is down.
			return h.Resource, true, nil
		case !ok:
			s.forgetResourceLocal(name)
			return store.Resource{}, false, nil
		}
		s.rememberResource(r)
		return r, true, nil
	}
	if h != nil { // expired: Google has forgotten it too
		s.forgetResourceLocal(name)
	}
	if st == nil {
		return store.Resource{}, false, nil
	}
	r, ok, err := s.readResource(st, name)
	if err != nil {
		return store.Resource{}, false, errStoreUnavailable
	}
	if ok {
		s.rememberResource(r)
	}
	return r, ok, nil
}

// readResource reads name's live record from the store.
func (s *Server) readResource(st *store.Store, name string) (store.Resource, bool, error) {
	ctx, cancel := context.WithTimeout(s.bgCtx, resourceStoreTimeout)
	defer cancel()
	r, ok, err := st.LookupResource(ctx, name)
	if err != nil {
		s.log.Warn("resource lookup failed", "name", name, "err", err)
	}
	return r, ok, err
}

func (o *ownership) recheckEvery() time.Duration {
	if o.recheck > 0 {
		return o.recheck
	}
	return resourceRecheck
}

// rememberResource holds r in memory, as confirmed by the store now.
func (s *Server) rememberResource(r store.Resource) {
	s.owned.totals.stale()
	h := &heldResource{Resource: r}
	h.checked.Store(time.Now().UnixNano())
	o := &s.owned
	o.mu.Lock()
	if o.byName == nil {
		o.byName = map[string]*heldResource{}
	}
	o.byName[r.Name] = h
	o.mu.Unlock()
}

func (s *Server) forgetResourceLocal(name string) {
	s.owned.totals.stale()
	o := &s.owned
	o.mu.Lock()
	delete(o.byName, name)
	o.mu.Unlock()
}

// saveResource records r before its name reaches the client, so no
// instance can see the name before it can route it.
func (s *Server) saveResource(r store.Resource) error {
	s.rememberResource(r)
	st := s.store.Load()
	if st == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.bgCtx, resourceStoreTimeout)
	defer cancel()
	return st.PutResource(ctx, r)
}

// forgetResource drops name's record everywhere (deleted, or gone at Google).
func (s *Server) forgetResource(name string) {
	s.forgetResourceLocal(name)
	if st := s.store.Load(); st != nil {
		ctx, cancel := context.WithTimeout(s.bgCtx, resourceStoreTimeout)
		defer cancel()
		if err := st.DeleteResource(ctx, name); err != nil {
			s.log.Warn("resource record not deleted", "name", name, "err", err)
		}
	}
}

// listResources returns a page of token's records of kind, in name order
// after the name after.
func (s *Server) listResources(token, kind, after string, limit int) ([]store.Resource, error) {
	if st := s.store.Load(); st != nil {
		ctx, cancel := context.WithTimeout(s.bgCtx, resourceStoreTimeout)
		defer cancel()
		return st.ListResources(ctx, token, kind, after, limit)
	}
	now := time.Now()
	var out []store.Resource
	o := &s.owned
	o.mu.RLock()
	for _, h := range o.byName {
		if r := h.Resource; r.Token == token && r.Kind == kind && r.Name > after && (r.Expires.IsZero() || now.Before(r.Expires)) {
			out = append(out, r)
		}
	}
	o.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out[:min(len(out), limit)], nil
}

// ownedBy returns name's record when the exchange's token owns it. Any
// other token gets the same 404 as for a name that does not exist, so
// existence does not leak.
func (s *Server) ownedBy(ex *exchange, name, what string) (store.Resource, *Failure) {
	r, ok, err := s.lookupResource(name)
	if err != nil {
		return r, &Failure{Status: fasthttp.StatusServiceUnavailable, RetryAfter: 5 * time.Second, Message: "Cannot route " + name + ": " + err.Error() + "; retry shortly."}
	}
	if !ok || r.Token != ex.token.cfg.Name {
		return r, &Failure{Status: fasthttp.StatusNotFound, Reason: "unknown_resource",
			Message: what + " " + name + " was not found: it was not created through balance with this token, was deleted, or has expired."}
	}
	return r, nil
}

// pinTo sends the exchange to the key that owns r, and only to it. The
// key may sit in another of the token's pools than the model's; a key
// that left the config, or is quarantined, cannot serve r at all.
func (s *Server) pinTo(ex *exchange, r store.Resource) *Failure {
	if ex.pin != nil {
		if ex.pin.Hash == r.KeyHash {
			return nil
		}
		return &Failure{Status: fasthttp.StatusBadRequest, Reason: "resources_of_two_keys",
			Message: "This request names " + ex.pinName + " and " + r.Name + ", which belong to different API keys (" + ex.pin.FP + ", " + r.KeyFP + "): no key can use both. Upload them again in one session, or split the request."}
	}
	m := ownerIn(ex.pool, r.KeyHash)
	for _, tp := range ex.token.pools {
		if m != nil {
			break
		}
		// Another pool of the token serves the key only if it sends to
		// the same upstream: the path was built for ex.pool's.
		if o := ownerIn(tp, r.KeyHash); o != nil && tp.target == ex.pool.target {
			m, ex.pool = o, tp
		}
	}
	if m != nil {
		if m.Key.IsQuarantined() {
			return &Failure{Status: fasthttp.StatusFailedDependency, Reason: "owner_quarantined",
				Message: r.Name + " belongs to key " + r.KeyFP + ", which is quarantined; only that key can use it. Retry after the key recovers, or upload the file again."}
		}
		ex.pin, ex.pinName = m.Key, r.Name
		return nil
	}
	return &Failure{Status: fasthttp.StatusFailedDependency, Reason: "owner_gone",
		Message: r.Name + " belongs to key " + r.KeyFP + ", which is no longer in this token's pools; only that key can use it. Upload the file again."}
}

// ownerIn returns p's member holding the key with hash keyHash, or nil.
func ownerIn(p *poolRuntime, keyHash string) *keypool.Member {
	members := p.pool.Members()
	for i := range members {
		if members[i].Key.Hash == keyHash {
			return &members[i]
		}
	}
	return nil
}

// pinResources pins a request whose body names files or a cached content
// to their owning key. Bodies that cannot name one are not parsed.
func (s *Server) pinResources(ex *exchange, body []byte) *Failure {
	if !mayNameResource(body) {
		return nil
	}
	var refs resourceRefs
	scanResourceRefs(body, &refs)
	if f := s.pinFiles(ex, refs.files); f != nil {
		return f
	}
	if refs.cache != "" {
		if !strings.HasPrefix(refs.cache, "cachedContents/") || !validResourceID(refs.cache[len("cachedContents/"):]) {
			return fail(fasthttp.StatusBadRequest, "cachedContent must be cachedContents/{id}.")
		}
		r, f := s.ownedBy(ex, refs.cache, "Cached content")
		if f != nil {
			return f
		}
		if f := s.pinTo(ex, r); f != nil {
			return f
		}
	}
	return nil
}

// pinFiles pins the exchange to the key that owns every file of names.
func (s *Server) pinFiles(ex *exchange, names []string) *Failure {
	for _, name := range names {
		r, f := s.ownedBy(ex, name, "File")
		if f != nil {
			return f
		}
		if f := s.pinTo(ex, r); f != nil {
			return f
		}
	}
	return nil
}

// resourceTotalsTTL is how long status reuses the per-key totals: the
// page polls, and the totals change only when resources come and go.
const resourceTotalsTTL = 5 * time.Second

// resourceTotals caches the resources each key holds, for status.
type resourceTotals struct {
	mu   sync.Mutex
	at   time.Time
	rows []store.KeyResources
}

// stale makes the next read recount.
func (c *resourceTotals) stale() {
	c.mu.Lock()
	c.at = time.Time{}
	c.mu.Unlock()
}

// resourceTotals sums the live resources per owning key: from the store,
// which counts every instance's, or from memory without one.
func (s *Server) resourceTotals(now time.Time) []store.KeyResources {
	c := &s.owned.totals
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.at) < resourceTotalsTTL {
		return c.rows
	}
	if st := s.store.Load(); st != nil {
		ctx, cancel := context.WithTimeout(s.bgCtx, time.Second)
		rows, err := st.ResourceTotals(ctx)
		cancel()
		if err != nil {
			s.log.Warn("resource totals unavailable", "err", err)
			return c.rows
		}
		c.rows, c.at = rows, now
		return rows
	}
	byKey := map[string]*store.KeyResources{}
	s.owned.mu.RLock()
	for _, h := range s.owned.byName {
		r := &h.Resource
		if !r.Expires.IsZero() && !now.Before(r.Expires) {
			continue
		}
		t := byKey[r.KeyHash]
		if t == nil {
			t = &store.KeyResources{KeyHash: r.KeyHash, KeyFP: r.KeyFP}
			byKey[r.KeyHash] = t
		}
		switch r.Kind {
		case store.KindFile:
			t.Files++
			t.Bytes += r.Size
		case store.KindCache:
			t.Caches++
		case store.KindBatch:
			t.Batches++
		case store.KindOperation:
			t.Operations++
		}
	}
	s.owned.mu.RUnlock()
	rows := make([]store.KeyResources, 0, len(byKey)) // callers keep the old slice
	for _, t := range byKey {
		rows = append(rows, *t)
	}
	c.rows = rows
	sort.Slice(c.rows, func(i, j int) bool { return c.rows[i].KeyHash < c.rows[j].KeyHash })
	c.at = now
	return c.rows
}

// hasKeyHash reports whether a key of this generation has sha256 hash h.
func (rt *Runtime) hasKeyHash(h string) bool {
	for _, p := range rt.poolList {
		if ownerIn(p, h) != nil {
			return true
		}
	}
	return false
}
