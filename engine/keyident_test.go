package engine_test

import (
	"strings"
	"testing"

	"github.com/balanceproxy/balance/internal/mockgemini"
	"github.com/balanceproxy/balance/internal/secret"
)

// Two keys whose first and last four characters match: the old
// fingerprint ("AIza…x7Q2") named both the same.
const (
	twinA = "AIzaSyTwinAAAAAAAAAAAAAAAAAAAAAAAAAAx7Q2"
	twinB = "AIzaSyTwinBBBBBBBBBBBBBBBBBBBBBBBBBBx7Q2"
)

// TestKeysSharingEndsStayApart: such keys get one status row and one
// by_key stats row each, under the name a redacted upstream error and the
// error log use for them too.
func TestKeysSharingEndsStayApart(t *testing.T) {
	if secret.Fingerprint(twinA) != secret.Fingerprint(twinB) {
		t.Fatal("the twins must share the plain fingerprint for this test to mean anything")
	}
	mock := mockgemini.Start(t, mockgemini.Options{})
	srv, u := startProxy(t, mock, t.TempDir(), storeConfig([]string{twinA, twinB}, statusBlocks))
	h := &harness{t: t, mock: mock, srv: srv, url: u, keys: []string{twinA, twinB}, token: testToken}
	names := map[string]string{secret.KeyFingerprint(twinA): twinA, secret.KeyFingerprint(twinB): twinB}
	if len(names) != 2 {
		t.Fatal("KeyFingerprint names the twins alike")
	}

	const n = 6
	for range n {
		if status, _, body := h.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	v := h.waitWritten(n)
	if len(v.Pools) != 1 || len(v.Pools[0].Keys) != 2 {
		t.Fatalf("pools %+v", v.Pools)
	}
	rows := map[string]bool{}
	for _, k := range v.Pools[0].Keys {
		if names[k.Fingerprint] == "" {
			t.Fatalf("status names a key %q, want one of %v", k.Fingerprint, names)
		}
		rows[k.Fingerprint] = true
	}
	if len(rows) != 2 {
		t.Fatalf("the twins share a status row: %+v", v.Pools[0].Keys)
	}
	st := v.Stats["1h"]
	if st == nil || len(st.ByKey) != 2 {
		t.Fatalf("by_key: want a row per key, got %+v", st)
	}
	var total int64
	for _, r := range st.ByKey {
		if names[r.Name] == "" || r.Requests == 0 {
			t.Fatalf("by_key row %+v", r)
		}
		total += r.Requests
	}
	if total != n {
		t.Fatalf("by_key sums to %d, want %d", total, n)
	}

	// Google's leaked-key 403 quotes the key: the client and the error log
	// see the key's status name instead.
	for _, k := range []string{twinA, twinB} {
		h.mock.SetFault(k, mockgemini.Fault{Kind: mockgemini.PermissionDenied})
	}
	status, _, body := h.do("POST", generatePath, genBody, nil)
	if status != 403 || strings.Contains(string(body), twinA) || strings.Contains(string(body), twinB) {
		t.Fatalf("%d %s", status, body)
	}
	named := false
	for fp := range names {
		named = named || strings.Contains(string(body), fp)
	}
	if !named {
		t.Fatalf("the redacted error does not name the key as status does: %s", body)
	}
	v = h.waitWritten(n + 1)
	if len(v.Errors) == 0 || names[v.Errors[0].Key] == "" || strings.Contains(v.Errors[0].Body, twinA) || strings.Contains(v.Errors[0].Body, twinB) {
		t.Fatalf("error log %+v", v.Errors)
	}
}
