package engine_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/balanceproxy/balance/engine/status"
	"github.com/balanceproxy/balance/hcl"
	"google.golang.org/genai"
)

// Status shows per key the files, bytes and caches it holds, and the
// resources of a key that left the config as orphaned.
func TestStatusShowsResourcesPerKeyAndOrphans(t *testing.T) {
	h := newStatusHarness(t, statusBlocks)
	file, owner := uploadOnce(t, h.mock, h.url, testToken)
	keyOf := func(v status.View, fp string) *status.KeyView {
		for _, p := range v.Pools {
			for i := range p.Keys {
				if p.Keys[i].Fingerprint == fp {
					return &p.Keys[i]
				}
			}
		}
		return nil
	}
	ownerFP := h.srv.Registry().Get(owner).FP
	v := h.statusDoc("?period=1m")
	if k := keyOf(v, ownerFP); k == nil || k.Files != 1 || k.FileBytes != int64(len("some notes")) {
		t.Fatalf("owner key in status: %+v", k)
	}
	if len(v.Orphaned) != 0 {
		t.Fatalf("orphans before the key left: %+v", v.Orphaned)
	}

	// The owner leaves the config: its file is reported, and a request
	// naming it is refused with 424.
	var remaining string
	for _, k := range h.keys {
		if k != owner {
			remaining = k
		}
	}
	cfg, err := hcl.LoadBytes(filepath.Join(t.TempDir(), "balance.hcl"), []byte(strings.ReplaceAll(storeConfig([]string{remaining}, statusBlocks), "%MOCK%", h.mock.URL())), hcl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.srv.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	v = h.statusDoc("?period=1m")
	if len(v.Orphaned) != 1 || v.Orphaned[0].Fingerprint != ownerFP || v.Orphaned[0].Files != 1 {
		t.Fatalf("orphans: %+v", v.Orphaned)
	}
	status, _, body := h.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent", fileBody(file.URI), nil)
	if status != 424 || !strings.Contains(string(body), file.Name) {
		t.Fatalf("%d %s", status, body)
	}
}

// A video operation counts among what a key that left the config still
// holds: its polls would get 424 until the key returns.
func TestStatusCountsOrphanedVideoOperations(t *testing.T) {
	h := newStatusHarness(t, statusBlocks)
	op, err := genaiClient(t, h.url, testToken).Models.GenerateVideosFromSource(context.Background(), veoModel, &genai.GenerateVideosSource{Prompt: "a cat surfing"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	owner := h.mock.LastRequest().Header.Get("X-Goog-Api-Key")
	var remaining string
	for _, k := range h.keys {
		if k != owner {
			remaining = k
		}
	}
	if owner == "" || remaining == "" {
		t.Fatalf("owner %q among %d keys", owner, len(h.keys))
	}
	cfg, err := hcl.LoadBytes(filepath.Join(t.TempDir(), "balance.hcl"), []byte(strings.ReplaceAll(storeConfig([]string{remaining}, statusBlocks), "%MOCK%", h.mock.URL())), hcl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.srv.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	v := h.statusDoc("?period=1m")
	ownerFP := h.srv.Registry().Get(owner).FP
	if len(v.Orphaned) != 1 || v.Orphaned[0].Fingerprint != ownerFP || v.Orphaned[0].Operations != 1 {
		t.Fatalf("orphans: %+v", v.Orphaned)
	}
	if !slices.ContainsFunc(v.Notes, func(n string) bool { return strings.Contains(n, "1 video operations") }) {
		t.Fatalf("notes: %q", v.Notes)
	}
	status, _, _ := h.do("GET", "/v1beta/"+op.Name, "", nil)
	if status != 424 {
		t.Fatalf("poll of the orphaned operation: %d, want 424", status)
	}
}
