package status

import (
	"context"
	"time"

	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/hooks"
	"github.com/balanceproxy/balance/store"
)

// Source is everything the status endpoint shows, read on every request.
// The proxy implements it; this package only formats and serves.
type Source interface {
	// Snapshot is the in-memory state with key states as of now. It is
	// read from one config generation, so pools, tokens and hooks agree.
	Snapshot(now time.Time) Snapshot
	// Stats is the stats database, or nil when none runs (the config
	// says driver = "none", or the store could not be opened).
	Stats() Stats
}

// Stats is the read side of the stats database; *store.Store implements
// it. Its queries are bounded by ctx.
type Stats interface {
	Health() store.Health
	Summary(ctx context.Context, period time.Duration) (store.Summary, error)
	Series(ctx context.Context, period, step time.Duration, f store.SeriesFilter) ([]store.Point, error)
	RecentErrors(ctx context.Context, q store.ErrorQuery) ([]store.ErrorRecord, error)
}

// Snapshot is the proxy's live state at one instant.
type Snapshot struct {
	Generation uint64
	ConfigHash string
	ConfigPath string
	Started    time.Time
	// StoreConfigured says the config names a store driver; with Stats
	// nil it means the store failed to open.
	StoreConfigured bool
	// Notes are conditions worth an operator's attention.
	Notes   []string
	Reloads []Reload // oldest first
	Pools   []Pool
	Tokens  []Token
	Hooks   []hooks.HookStats // in declared order
	// Orphaned are the resources of keys no longer in the config: no
	// request can reach them until the key comes back.
	Orphaned []store.KeyResources
}

// Reload is one entry of the reload history, shown as it is.
type Reload struct {
	Time         time.Time `json:"time"`
	Generation   uint64    `json:"generation"`
	Hash         string    `json:"hash,omitempty"`
	Summary      string    `json:"summary,omitempty"`
	Error        string    `json:"error,omitempty"` // set when the config was rejected
	NeedsRestart []string  `json:"needs_restart,omitempty"`
}

// Pool is one pool of the live generation.
type Pool struct {
	Name     string
	Upstream string
	Strategy string
	Keys     []Key
}

// Key is one pool member.
type Key struct {
	keypool.Status
	Weight int    // effective weight, at least 1
	Proxy  string // egress proxy with its credentials redacted; "" for none
	// LiveSessions is the Live API sessions open on the key.
	LiveSessions int64

	// Files, FileBytes and Caches are the uploaded files and cached
	// contents the key's project holds through balance.
	Files, FileBytes, Caches int64
}

// Token is one client token, shown as it is: it names the token, never
// holds its secret.
type Token struct {
	Name     string            `json:"name"`
	Pools    []string          `json:"pools"`
	InFlight int64             `json:"in_flight"`
	Labels   map[string]string `json:"labels,omitempty"`
}
