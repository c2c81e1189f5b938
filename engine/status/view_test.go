package status

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine/keypool"
)

// Key times reach the wire as whole seconds in UTC, and a time that does
// not apply is left out, as the page and scripts have always read them.
func TestKeyViewWire(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 0, 20, 750_000_000, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		name string
		key  Key
		want string
	}{
		{"healthy", Key{Status: keypool.Status{Fingerprint: "AIza…AAA1", State: keypool.Healthy, Requests: 3}, Weight: 1},
			`{"fingerprint":"AIza…AAA1","state":"healthy","requests":3,"failures":0,"in_flight":0,"weight":1}`},
		{"cooling", Key{Status: keypool.Status{Fingerprint: "AIza…AAA1", State: keypool.Cooling,
			CoolingUntil: map[string]time.Time{"*": at, "gemini-2.5-flash": at.Add(time.Minute)}, LastError: "429", LastErrorAt: at}, Weight: 2, Proxy: "http://proxy:3128"},
			`{"fingerprint":"AIza…AAA1","state":"cooling","cooling_until":{"*":"2025-03-01T09:00:20Z","gemini-2.5-flash":"2025-03-01T09:01:20Z"},` +
				`"last_error":"429","last_error_at":"2025-03-01T09:00:20Z","requests":0,"failures":0,"in_flight":0,"weight":2,"proxy":"http://proxy:3128"}`},
		{"quarantined, probe due", Key{Status: keypool.Status{Fingerprint: "AIza…AAA1", State: keypool.Quarantined,
			QuarantinedSince: at, QuarantineReason: "API_KEY_INVALID", NextProbe: at.Add(time.Hour)}, Weight: 1},
			`{"fingerprint":"AIza…AAA1","state":"quarantined","quarantined_since":"2025-03-01T09:00:20Z","quarantine_reason":"API_KEY_INVALID",` +
				`"next_probe":"2025-03-01T10:00:20Z","requests":0,"failures":0,"in_flight":0,"weight":1}`},
		{"quarantined, no probe set", Key{Status: keypool.Status{Fingerprint: "AIza…AAA1", State: keypool.Quarantined, QuarantinedSince: at}, Weight: 1},
			`{"fingerprint":"AIza…AAA1","state":"quarantined","quarantined_since":"2025-03-01T09:00:20Z","requests":0,"failures":0,"in_flight":0,"weight":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(keyView(&tc.key))
			if err != nil || string(got) != tc.want {
				t.Fatalf("got  %s (%v)\nwant %s", got, err, tc.want)
			}
		})
	}
}

func TestLastReloadError(t *testing.T) {
	applied := func(gen uint64) Reload { return Reload{Generation: gen, Hash: "h"} }
	rejected := func(gen uint64) Reload { return Reload{Generation: gen, Error: "bad config"} }
	for _, tc := range []struct {
		name       string
		reloads    []Reload
		generation uint64
		want       bool
	}{
		{"only the initial load", []Reload{applied(1)}, 1, false},
		{"rejected after the live config", []Reload{applied(1), rejected(1)}, 1, true},
		{"rejected, then applied", []Reload{applied(1), rejected(1), applied(2)}, 2, false},
		{"rejected on an older generation", []Reload{applied(1), rejected(1)}, 2, false},
		{"no history", nil, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := lastReloadError(tc.reloads, tc.generation)
			if (got != nil) != tc.want || got != nil && got.Error == "" {
				t.Fatalf("got %+v, want an error: %v", got, tc.want)
			}
		})
	}
}

// Without a running store, the store is OK only if none was asked for.
func TestStoreViewWithoutStore(t *testing.T) {
	for _, tc := range []struct {
		configured, wantOK bool
	}{{false, true}, {true, false}} {
		v := storeView(nil, tc.configured)
		if v.Driver != "none" || v.Enabled || v.OK != tc.wantOK {
			t.Errorf("configured=%v: %+v", tc.configured, v)
		}
	}
}
