// Package keypool decides which API key serves each request and keeps
// every key's health: per-model cooldowns after 429s, quarantine after
// invalid-key and permission errors, background re-probing, and per-key
// request and token limits.
//
// Health lives in a Registry keyed by the key itself, outside any config
// snapshot, so a reload keeps the state of every key it still lists.
// Pools are cheap, immutable views built per snapshot that point into the
// registry.
package keypool

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// State is a key's health as shown in status.
type State string

// Key states.
const (
	Healthy     State = "healthy"
	Cooling     State = "cooling"
	Quarantined State = "quarantined"
)

// Key is one API key's live health. All methods are safe for concurrent
// use. The fast path (a healthy key with no limits) takes no lock.
type Key struct {
	value string
	// FP is the fingerprint shown wherever a key is named (status, stats
	// rows, logs, redacted bodies): secret.KeyFingerprint, unique among
	// the keys of its Registry.
	FP string
	// Hash is the sha256 of the key, used to share state through a store
	// without ever writing the key.
	Hash string

	quarantined atomic.Bool
	cooling     atomic.Int32 // number of live cooldown entries
	lastUsed    atomic.Int64 // unix nanos of the last pick
	inflight    atomic.Int64
	requests    atomic.Uint64
	failures    atomic.Uint64

	mu               sync.Mutex
	cooldowns        map[string]*cooldown // model ("" = every model) → cooldown
	quarantineReason string
	quarantineSince  time.Time
	nextProbe        time.Time
	probeBackoff     time.Duration
	lastError        string
	lastErrorAt      time.Time
	window           limitWindow
}

type cooldown struct {
	until   time.Time
	strikes int
	reason  string
}

// limitWindow counts requests and tokens in fixed minute and day windows.
type limitWindow struct {
	minute       int64 // unix minute of the window
	minuteReqs   int
	minuteTokens int
	day          int64 // unix day of the window
	dayReqs      int
}

// newKey makes a key record named fp (a Registry hands out unique names).
func newKey(value, fp string) *Key {
	sum := sha256.Sum256([]byte(value))
	return &Key{value: value, FP: fp, Hash: hex.EncodeToString(sum[:])}
}

// Value returns the secret key, for the one place that sends it upstream.
func (k *Key) Value() string { return k.value }

// IsQuarantined reports whether the key is out of service until a probe
// succeeds; it takes no lock.
func (k *Key) IsQuarantined() bool { return k.quarantined.Load() }

// Limits bound a key's use before Google has to say 429. Zero is no limit.
type Limits struct {
	RPM, RPD, TPM int
}

func (l Limits) any() bool { return l.RPM > 0 || l.RPD > 0 || l.TPM > 0 }

// available reports whether the key may serve model now, and if not, when
// it may (zero when only a probe can bring it back).
func (k *Key) available(model string, now time.Time, lim Limits) (bool, time.Time) {
	if k.quarantined.Load() {
		return false, time.Time{}
	}
	if k.cooling.Load() == 0 && !lim.any() {
		return true, time.Time{}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var until time.Time
	for _, m := range [2]string{"", model} {
		if c, ok := k.cooldowns[m]; ok && now.Before(c.until) && c.until.After(until) {
			until = c.until
		}
	}
	if !until.IsZero() {
		return false, until
	}
	if lim.any() {
		k.window.roll(now)
		if lim.RPM > 0 && k.window.minuteReqs >= lim.RPM || lim.TPM > 0 && k.window.minuteTokens >= lim.TPM {
			return false, time.Unix((k.window.minute+1)*60, 0)
		}
		if lim.RPD > 0 && k.window.dayReqs >= lim.RPD {
			return false, time.Unix((k.window.day+1)*86400, 0)
		}
	}
	return true, time.Time{}
}

func (w *limitWindow) roll(now time.Time) {
	m := now.Unix() / 60
	if m != w.minute {
		w.minute, w.minuteReqs, w.minuteTokens = m, 0, 0
	}
	d := now.Unix() / 86400
	if d != w.day {
		w.day, w.dayReqs = d, 0
	}
}

// begin records that the key was picked for a request.
func (k *Key) begin(now time.Time, lim Limits) {
	k.lastUsed.Store(now.UnixNano())
	k.inflight.Add(1)
	k.requests.Add(1)
	if lim.any() {
		k.mu.Lock()
		k.window.roll(now)
		k.window.minuteReqs++
		k.window.dayReqs++
		k.mu.Unlock()
	}
}

// End records the outcome of a request the key served. tokens feed the
// TPM limit; pass 0 when unknown.
func (k *Key) End(ok bool, tokens int) {
	k.inflight.Add(-1)
	if !ok {
		k.failures.Add(1)
	}
	if tokens > 0 {
		k.mu.Lock()
		k.window.minuteTokens += tokens
		k.mu.Unlock()
	}
}

// Succeeded clears the escalation of a model's cooldown history once the
// key serves that model again.
func (k *Key) Succeeded(model string) {
	if k.cooling.Load() == 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if c, ok := k.cooldowns[model]; ok && time.Now().After(c.until) {
		delete(k.cooldowns, model)
		k.cooling.Add(-1)
	}
}

// CooldownPolicy says how long a rate-limited key rests.
type CooldownPolicy struct {
	Base       time.Duration // when Google gives no retry delay
	Max        time.Duration
	Multiplier float64
	Daily      time.Duration // for per-day quotas; 0 = until midnight Pacific
}

// RateLimited cools the key for model (Gemini's quotas are per key per
// model). retryAfter is Google's RetryInfo delay when it sent one. A key
// that is rate-limited again within a cooldown of coming back is an
// escalating offender: each strike multiplies the delay, up to Max.
// It returns when the key will be free again.
func (k *Key) RateLimited(model string, retryAfter time.Duration, daily bool, p CooldownPolicy, now time.Time, reason string) time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cooldowns == nil {
		k.cooldowns = map[string]*cooldown{}
	}
	c, ok := k.cooldowns[model]
	if !ok {
		c = &cooldown{}
		k.cooldowns[model] = c
		k.cooling.Add(1)
	}
	delay := retryAfter
	if delay <= 0 {
		delay = p.Base
	}
	// A strike counts as a repeat when it comes soon after the last one
	// ended; otherwise the history is forgiven.
	if c.strikes > 0 && now.Sub(c.until) < max(p.Base, delay)*2 {
		c.strikes++
	} else {
		c.strikes = 1
	}
	mult := p.Multiplier
	if mult < 1 {
		mult = 1
	}
	delay = time.Duration(float64(delay) * math.Pow(mult, float64(c.strikes-1)))
	if p.Max > 0 && delay > p.Max {
		delay = p.Max
	}
	if daily {
		if p.Daily > 0 {
			delay = max(delay, p.Daily)
		} else {
			delay = max(delay, untilPacificMidnight(now))
		}
	}
	c.until = now.Add(delay)
	c.reason = reason
	k.lastError, k.lastErrorAt = reason, now
	return c.until
}

// CoolUntil sets a cooldown learned from elsewhere (a persisted or shared
// state) without counting a strike.
func (k *Key) CoolUntil(model string, until time.Time, reason string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cooldowns == nil {
		k.cooldowns = map[string]*cooldown{}
	}
	c, ok := k.cooldowns[model]
	if !ok {
		c = &cooldown{}
		k.cooldowns[model] = c
		k.cooling.Add(1)
	}
	if until.After(c.until) {
		c.until, c.reason = until, reason
	}
}

// Quarantine takes the key out of rotation until a probe finds it working.
func (k *Key) Quarantine(reason string, firstProbe time.Duration, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.quarantined.Load() {
		k.quarantineSince = now
		k.probeBackoff = firstProbe
		k.nextProbe = now.Add(firstProbe)
	}
	k.quarantineReason = reason
	k.lastError, k.lastErrorAt = reason, now
	k.quarantined.Store(true)
}

// Restore returns a quarantined key to rotation.
func (k *Key) Restore() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.quarantined.Store(false)
	k.quarantineReason = ""
	k.quarantineSince = time.Time{}
	k.nextProbe = time.Time{}
}

// NoteError records the last error seen on the key without changing its
// state (server errors, timeouts).
func (k *Key) NoteError(reason string, now time.Time) {
	k.mu.Lock()
	k.lastError, k.lastErrorAt = reason, now
	k.mu.Unlock()
}

// probeDue reports whether a quarantined key should be probed now.
func (k *Key) probeDue(now time.Time) bool {
	if !k.quarantined.Load() {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.nextProbe.IsZero() && !now.Before(k.nextProbe)
}

// probeFailed doubles the wait before the next probe, up to maxWait.
func (k *Key) probeFailed(now time.Time, maxWait time.Duration, reason string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.probeBackoff *= 2
	if k.probeBackoff > maxWait {
		k.probeBackoff = maxWait
	}
	if k.probeBackoff <= 0 {
		k.probeBackoff = time.Minute
	}
	k.nextProbe = now.Add(k.probeBackoff)
	k.lastError, k.lastErrorAt = reason, now
}

// Status is a key's state at one instant. It carries no secret. Times are
// zero when they do not apply (not cooling, not quarantined, no error).
type Status struct {
	Fingerprint      string
	State            State
	CoolingUntil     map[string]time.Time // model ("*" = all) → end of its cooldown
	QuarantinedSince time.Time
	QuarantineReason string
	NextProbe        time.Time
	LastError        string
	LastErrorAt      time.Time
	Requests         uint64
	Failures         uint64
	InFlight         int64
}

// Status reports the key's state at now.
func (k *Key) Status(now time.Time) Status {
	st := Status{Fingerprint: k.FP, State: Healthy, Requests: k.requests.Load(), Failures: k.failures.Load(), InFlight: k.inflight.Load()}
	k.mu.Lock()
	defer k.mu.Unlock()
	for m, c := range k.cooldowns {
		if now.Before(c.until) {
			if st.CoolingUntil == nil {
				st.CoolingUntil = map[string]time.Time{}
			}
			name := m
			if name == "" {
				name = "*"
			}
			st.CoolingUntil[name] = c.until
			st.State = Cooling
		}
	}
	if k.quarantined.Load() {
		st.State = Quarantined
		st.QuarantinedSince = k.quarantineSince
		st.QuarantineReason = k.quarantineReason
		st.NextProbe = k.nextProbe
	}
	st.LastError, st.LastErrorAt = k.lastError, k.lastErrorAt
	return st
}

var pacific = func() *time.Location {
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		return time.FixedZone("PST", -8*3600)
	}
	return loc
}()

// untilPacificMidnight is when Google resets per-day quotas.
func untilPacificMidnight(now time.Time) time.Duration {
	t := now.In(pacific)
	next := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, pacific)
	return next.Sub(now)
}
