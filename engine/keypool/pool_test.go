package keypool

import (
	"strings"
	"testing"
	"time"

	"github.com/balanceproxy/balance/internal/secret"
)

func newTestPool(t *testing.T, reg *Registry, strategy Strategy, lim Limits, weights ...int) *Pool {
	t.Helper()
	var members []Member
	for i, w := range weights {
		members = append(members, Member{Key: reg.Get(string(rune('a'+i)) + "-test-key-000000"), Weight: w})
	}
	return NewPool("p", members, strategy, lim)
}

func TestRoundRobinSkipsCoolingKeysForThatModelOnly(t *testing.T) {
	reg := NewRegistry()
	p := newTestPool(t, reg, RoundRobin, Limits{}, 1, 1, 1)
	now := time.Now()
	a := p.Members()[0].Key
	a.RateLimited("gemini-2.5-pro", 10*time.Second, false, CooldownPolicy{Base: time.Minute, Max: time.Hour, Multiplier: 2}, now, "429")

	for range 6 {
		m, _ := p.Pick("gemini-2.5-pro", nil, now)
		if m == nil || m.Key == a {
			t.Fatalf("picked %v for the cooled model", m)
		}
		m.Key.End(true, 0)
	}
	seenA := false
	for range 3 {
		m, _ := p.Pick("gemini-2.5-flash", nil, now)
		seenA = seenA || m.Key == a
		m.Key.End(true, 0)
	}
	if !seenA {
		t.Fatal("a key cooling for one model must still serve other models")
	}
	// After the cooldown passes the key is back for the model.
	later := now.Add(11 * time.Second)
	seenA = false
	for range 3 {
		m, _ := p.Pick("gemini-2.5-pro", nil, later)
		seenA = seenA || m.Key == a
		m.Key.End(true, 0)
	}
	if !seenA {
		t.Fatal("cooldown did not expire")
	}
}

func TestPickReportsEarliestFreeTime(t *testing.T) {
	reg := NewRegistry()
	p := newTestPool(t, reg, RoundRobin, Limits{}, 1, 1)
	now := time.Now()
	pol := CooldownPolicy{Base: time.Minute, Max: time.Hour, Multiplier: 2}
	p.Members()[0].Key.RateLimited("m", 30*time.Second, false, pol, now, "429")
	p.Members()[1].Key.RateLimited("m", 10*time.Second, false, pol, now, "429")
	m, until := p.Pick("m", nil, now)
	if m != nil {
		t.Fatal("no key should be available")
	}
	if got := until.Sub(now); got != 10*time.Second {
		t.Fatalf("earliest free = %v, want 10s", got)
	}
	p.Members()[0].Key.Quarantine("invalid", time.Minute, now)
	p.Members()[1].Key.Quarantine("invalid", time.Minute, now)
	if _, until := p.Pick("other", nil, now); !until.IsZero() {
		t.Fatalf("quarantined keys have no free time, got %v", until)
	}
}

func TestEscalatingCooldown(t *testing.T) {
	k := newKey("escalate-test-key-0000", "…00")
	pol := CooldownPolicy{Base: 10 * time.Second, Max: 35 * time.Second, Multiplier: 2}
	now := time.Now()
	tests := []struct {
		at   time.Duration
		want time.Duration
	}{
		{0, 10 * time.Second},                // first strike: base
		{11 * time.Second, 20 * time.Second}, // right after it ended: doubled
		{32 * time.Second, 35 * time.Second}, // capped at max
		{10 * time.Minute, 10 * time.Second}, // long after: forgiven
	}
	for _, tc := range tests {
		at := now.Add(tc.at)
		until := k.RateLimited("m", 0, false, pol, at, "429")
		if got := until.Sub(at); got != tc.want {
			t.Fatalf("at +%v: cooldown %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestRetryInfoHonoured(t *testing.T) {
	k := newKey("retryinfo-test-key-000", "…00")
	now := time.Now()
	until := k.RateLimited("m", 7*time.Second, false, CooldownPolicy{Base: time.Minute, Multiplier: 2}, now, "429")
	if got := until.Sub(now); got != 7*time.Second {
		t.Fatalf("cooldown %v, want Google's 7s", got)
	}
	until = k.RateLimited("m2", 7*time.Second, true, CooldownPolicy{Base: time.Minute, Daily: 3 * time.Hour}, now, "429")
	if got := until.Sub(now); got != 3*time.Hour {
		t.Fatalf("daily quota cooldown %v, want 3h", got)
	}
}

func TestWeightsSpreadEvenly(t *testing.T) {
	reg := NewRegistry()
	p := newTestPool(t, reg, RoundRobin, Limits{}, 3, 1)
	counts := map[*Key]int{}
	now := time.Now()
	for range 400 {
		m, _ := p.Pick("m", nil, now)
		counts[m.Key]++
		m.Key.End(true, 0)
	}
	if got := counts[p.Members()[0].Key]; got != 300 {
		t.Fatalf("weight-3 key got %d of 400, want 300", got)
	}
	// Smooth: the heavy key never runs more than 3 times in a row, and
	// the ring interleaves.
	if r := p.ring; len(r) != 4 || r[0] == r[1] && r[1] == r[2] && r[2] == r[3] {
		t.Fatalf("ring not interleaved: %v", r)
	}
}

func TestLeastRecentlyUsedAndRandomCoverAllKeys(t *testing.T) {
	for _, s := range []Strategy{LeastRecentlyUsed, Random} {
		reg := NewRegistry()
		p := newTestPool(t, reg, s, Limits{}, 1, 1, 1, 1)
		seen := map[*Key]bool{}
		now := time.Now()
		for i := range 200 {
			m, _ := p.Pick("m", nil, now.Add(time.Duration(i)*time.Millisecond))
			seen[m.Key] = true
			m.Key.End(true, 0)
		}
		if len(seen) != 4 {
			t.Fatalf("strategy %d used %d of 4 keys", s, len(seen))
		}
	}
	// LRU picks strictly in least-recent order.
	reg := NewRegistry()
	p := newTestPool(t, reg, LeastRecentlyUsed, Limits{}, 1, 1, 1)
	now := time.Now()
	var order []*Key
	for i := range 6 {
		m, _ := p.Pick("m", nil, now.Add(time.Duration(i)*time.Second))
		order = append(order, m.Key)
		m.Key.End(true, 0)
	}
	if order[0] != order[3] || order[1] != order[4] || order[2] != order[5] || order[0] == order[1] {
		t.Fatal("least-recently-used must cycle through keys in order")
	}
}

func TestTriedKeysAreExcluded(t *testing.T) {
	reg := NewRegistry()
	p := newTestPool(t, reg, RoundRobin, Limits{}, 1, 1)
	now := time.Now()
	a, _ := p.Pick("m", nil, now)
	b, _ := p.Pick("m", []*Key{a.Key}, now)
	if b == nil || b.Key == a.Key {
		t.Fatal("a retry must not reuse the key it just tried")
	}
	if c, _ := p.Pick("m", []*Key{a.Key, b.Key}, now); c != nil {
		t.Fatal("all keys tried: no pick expected")
	}
}

func TestPerKeyLimits(t *testing.T) {
	reg := NewRegistry()
	p := newTestPool(t, reg, RoundRobin, Limits{RPM: 2}, 1, 1)
	now := time.Unix(1_800_000_000, 0)
	for i := range 4 {
		m, _ := p.Pick("m", nil, now)
		if m == nil {
			t.Fatalf("pick %d: two keys at 2 rpm should serve 4 requests", i)
		}
		m.Key.End(true, 0)
	}
	m, until := p.Pick("m", nil, now)
	if m != nil {
		t.Fatal("rpm limit not enforced")
	}
	if until.Unix()%60 != 0 || !until.After(now) {
		t.Fatalf("limit should free at the next minute, got %v", until)
	}
	if m, _ := p.Pick("m", nil, now.Add(time.Minute)); m == nil {
		t.Fatal("limit window did not roll over")
	}
}

func TestRegistryKeepsStateAcrossPools(t *testing.T) {
	reg := NewRegistry()
	k := reg.Get("shared-test-key-00000")
	k.Quarantine("API_KEY_INVALID", time.Minute, time.Now())
	if reg.Get("shared-test-key-00000").Status(time.Now()).State != Quarantined {
		t.Fatal("state lost on second lookup")
	}
	dropped := reg.Retain(map[string]bool{})
	if len(dropped) != 1 || dropped[0] != k.FP {
		t.Fatalf("dropped %v", dropped)
	}
	if reg.Get("shared-test-key-00000").Status(time.Now()).State != Healthy {
		t.Fatal("a key removed and re-added starts healthy")
	}
}

// TestRegistryNamesKeysUniquely: keys that share their first and last four
// characters (the old fingerprint) get distinct names, the same name on
// every lookup, and the name secret.KeyFingerprint gives.
func TestRegistryNamesKeysUniquely(t *testing.T) {
	keys := []string{
		"AIzaSyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAx7Q2",
		"AIzaSyBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBx7Q2",
		"AIzaSyCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCx7Q2",
	}
	reg := NewRegistry()
	seen := map[string]string{}
	for _, v := range keys {
		k := reg.Get(v)
		if other, dup := seen[k.FP]; dup {
			t.Fatalf("%q and %q share the name %q", v, other, k.FP)
		}
		seen[k.FP] = v
		if k.FP != secret.KeyFingerprint(v) || reg.Get(v).FP != k.FP || k.Status(time.Now()).Fingerprint != k.FP {
			t.Errorf("key %q named %q, want %q everywhere", v, k.FP, secret.KeyFingerprint(v))
		}
		if strings.Contains(k.FP, v[4:len(v)-4]) {
			t.Errorf("name %q shows the key's middle", k.FP)
		}
	}
}

func BenchmarkPickHealthy(b *testing.B) {
	reg := NewRegistry()
	var members []Member
	for i := range 100 {
		members = append(members, Member{Key: reg.Get(string(rune(i)) + "-bench-key-0000000"), Weight: 1})
	}
	p := NewPool("bench", members, RoundRobin, Limits{})
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m, _ := p.Pick("gemini-2.5-flash", nil, now)
			m.Key.End(true, 0)
		}
	})
}
