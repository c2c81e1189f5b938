package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"
)

func keyHash(k string) string {
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:])
}

// waitKeyState waits until the row (hash, model) has the given state.
func waitKeyState(t *testing.T, s *Store, hash, model, state string) {
	t.Helper()
	waitFor(t, "key state "+state, 10*time.Second, func() bool {
		var got string
		err := s.rdb.QueryRow("SELECT state FROM key_state WHERE key_hash = ? AND model = ?", hash, model).Scan(&got)
		return err == nil && got == state
	})
}

func TestKeyStateSharedBetweenInstances(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		cfg := engineCfg(t, engine)
		ca, cb := cfg, cfg
		ca.InstanceID, cb.InstanceID = "inst-a", "inst-b"
		a, b := mustOpen(t, ca), mustOpen(t, cb)

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got := make(chan KeyState, 16)
		b.WatchKeyStates(ctx, 20*time.Millisecond, func(ks []KeyState) {
			for _, k := range ks {
				got <- k
			}
		})

		dead := keyHash("AIzaDEADKEY000000000000000")
		a.SaveKeyState(KeyState{KeyHash: dead, Fingerprint: "AIza…0000", Pool: "main", State: StateQuarantined, Reason: "API_KEY_INVALID"})
		select {
		case k := <-got:
			if k.KeyHash != dead || k.State != StateQuarantined || k.Instance != "inst-a" || k.Pool != "main" || k.Model != "" {
				t.Fatalf("watched %+v", k)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("instance b never saw instance a's quarantine")
		}

		// b's own changes are not echoed back to b.
		own := keyHash("own-key-000000000000")
		b.SaveKeyState(KeyState{KeyHash: own, Model: "gemini-2.5-pro", State: StateCooling, Until: time.Now().Add(time.Minute)})
		waitKeyState(t, b, own, "gemini-2.5-pro", StateCooling)
		time.Sleep(100 * time.Millisecond) // several polls
		select {
		case k := <-got:
			t.Fatalf("b was told about its own change: %+v", k)
		default:
		}

		// Newer UpdatedAt wins, whichever instance writes last.
		now := time.Now()
		a.SaveKeyState(KeyState{KeyHash: own, Model: "gemini-2.5-pro", State: StateHealthy, UpdatedAt: now.Add(-time.Hour)})
		a.SaveKeyState(KeyState{KeyHash: dead, Model: "", State: StateHealthy, UpdatedAt: now.Add(-time.Hour)})
		marker := keyHash("marker")
		a.SaveKeyState(KeyState{KeyHash: marker, State: StateHealthy})
		waitKeyState(t, a, marker, "", StateHealthy)
		waitKeyState(t, a, own, "gemini-2.5-pro", StateCooling)
		waitKeyState(t, a, dead, "", StateQuarantined)

		// A recovery is delivered too.
		for len(got) > 0 {
			<-got
		}
		a.SaveKeyState(KeyState{KeyHash: dead, State: StateHealthy, Reason: "probe ok"})
		deadline := time.After(10 * time.Second)
		for recovered := false; !recovered; {
			select {
			case k := <-got:
				recovered = k.KeyHash == dead && k.State == StateHealthy
			case <-deadline:
				t.Fatal("b never saw the recovery")
			}
		}

		// A fresh instance loads what is still cooling or quarantined.
		expired := keyHash("expired")
		a.SaveKeyState(KeyState{KeyHash: expired, State: StateCooling, Until: now.Add(-time.Second)})
		q := keyHash("quarantined")
		a.SaveKeyState(KeyState{KeyHash: q, Model: "m", State: StateQuarantined, Reason: "suspended"})
		waitKeyState(t, a, q, "m", StateQuarantined)
		waitKeyState(t, a, expired, "", StateCooling)
		cc := cfg
		cc.InstanceID = "inst-c"
		c := mustOpen(t, cc)
		states, err := c.LoadKeyStates(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]KeyState{}
		for _, k := range states {
			found[k.KeyHash+"/"+k.Model] = k
		}
		if len(found) != 2 {
			t.Fatalf("loaded %d states, want 2 (own cooling + quarantined): %+v", len(found), states)
		}
		if k := found[q+"/m"]; k.State != StateQuarantined || k.Reason != "suspended" || k.Instance != "inst-a" || !k.Until.IsZero() {
			t.Errorf("quarantined state loaded as %+v", k)
		}
		if k := found[own+"/gemini-2.5-pro"]; k.State != StateCooling || k.Until.Before(now) {
			t.Errorf("cooling state loaded as %+v", k)
		}
	})
}

func TestWatcherSkewAndDedup(t *testing.T) {
	s := mustOpen(t, engineCfg(t, "sqlite"))
	w := &keyStateWatcher{s: s, seen: map[[2]string]int64{}, mark: time.Now().UnixMilli()}
	now := time.Now()
	put := func(hash string, updated time.Time) {
		if _, err := s.wdb.Exec("INSERT INTO key_state (key_hash, model, state, updated_ms, instance) VALUES (?, '', 'cooling', ?, 'peer')"+
			s.d.upsertNewer([]string{"key_hash", "model"}, []string{"state", "instance", "updated_ms"}), hash, updated.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	put("slow-clock", now.Add(-10*time.Second)) // peer's clock lags ours by 10s
	put("fast-clock", now.Add(time.Hour))       // peer's clock runs an hour ahead
	ctx := context.Background()
	got, err := w.poll(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("first poll: %d, %v", len(got), err)
	}
	if w.mark > time.Now().UnixMilli() {
		t.Fatalf("a fast peer clock pushed the mark into the future")
	}
	got, err = w.poll(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("second poll repeated %d changes (%v)", len(got), err)
	}
	put("slow-clock", now.Add(-5*time.Second))
	got, err = w.poll(ctx)
	if err != nil || len(got) != 1 || got[0].KeyHash != "slow-clock" {
		t.Fatalf("update by a lagging peer not seen: %+v %v", got, err)
	}
}
