package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/internal/mockgemini"
	"github.com/balanceproxy/balance/internal/secret"
)

// mintEphemeral mints an ephemeral token through balance at url and
// returns it with the key the mock saw mint it.
func mintEphemeral(t *testing.T, mock *mockgemini.Server, url string) (string, string) {
	t.Helper()
	uses := int32(2)
	tok, err := liveClient(t, url, testToken, "v1alpha").AuthTokens.Create(context.Background(), &genai.CreateAuthTokenConfig{Uses: &uses})
	if err != nil || !strings.HasPrefix(tok.Name, "auth_tokens/") {
		t.Fatalf("mint: %+v %v", tok, err)
	}
	return tok.Name, mock.LastRequest().Key
}

// ephemeralTurn runs one text turn of a Live session at base (ws://…)
// authenticated with an ephemeral token.
func ephemeralTurn(t *testing.T, base, tok string) {
	t.Helper()
	s, err := liveClient(t, base, tok, "v1alpha").Live.Connect(context.Background(), liveModel, nil)
	if err != nil {
		t.Fatalf("connect with the ephemeral token: %v", err)
	}
	defer s.Close()
	if err := s.SendClientContent(genai.LiveClientContentInput{Turns: []*genai.Content{genai.NewContentFromText("still bound?", genai.RoleUser)}}); err != nil {
		t.Fatal(err)
	}
	if text, _, _ := receiveTurn(t, s); text != "Echo: still bound?" {
		t.Fatalf("answered %q", text)
	}
}

// An ephemeral token minted before a restart still connects afterwards,
// through the key that minted it, as the client token that minted it: the
// binding is in the store, by the token's hash only.
func TestLiveEphemeralTokenSurvivesRestart(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	dir := t.TempDir()
	cfg := poolConfig([]string{liveKeyA, liveKeyB}, `store {
  driver = "sqlite"
  path   = "stats.db"
}`)
	first, url := startProxyWith(t, mock, dir, cfg, engine.Options{})
	tok, minter := mintEphemeral(t, mock, url)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{}
	second, url := startProxyWith(t, mock, dir, cfg, engine.Options{Recorder: rec})
	base := "ws" + strings.TrimPrefix(url, "http")
	for range 2 { // whichever key round robin would pick next
		rec.reset()
		ephemeralTurn(t, base, tok)
		if r := rec.last(t); r.KeyFP != secret.KeyFingerprint(minter) || r.Token != "tester" || r.Status != 200 {
			t.Fatalf("record %+v, want key %s", r, secret.KeyFingerprint(minter))
		}
	}
	if err := second.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The token itself is a credential: it is in no file of the store.
	files, _ := filepath.Glob(filepath.Join(dir, "stats.db*"))
	if len(files) == 0 {
		t.Fatal("no store files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(strings.TrimPrefix(tok, "auth_tokens/"))) {
			t.Fatalf("%s holds the ephemeral token in clear", filepath.Base(f))
		}
	}
}

// Two instances on one MySQL database: a token minted through one
// connects through the other, on the minting key.
func TestLiveEphemeralTokenAcrossInstancesOnMySQL(t *testing.T) {
	dsn := freshMySQL(t, "balance_live_")
	mock := mockgemini.Start(t, mockgemini.Options{})
	cfg := poolConfig([]string{liveKeyA, liveKeyB}, fmt.Sprintf(`store {
  driver = "mysql"
  dsn    = "%s"
}`, dsn))
	_, urlA := startProxy(t, mock, t.TempDir(), cfg)
	rec := &recorder{}
	_, urlB := startProxyWith(t, mock, t.TempDir(), cfg, engine.Options{Recorder: rec})
	tok, minter := mintEphemeral(t, mock, urlA)
	base := "ws" + strings.TrimPrefix(urlB, "http")
	for range 2 {
		rec.reset()
		ephemeralTurn(t, base, tok)
		if r := rec.last(t); r.KeyFP != secret.KeyFingerprint(minter) || r.Route != "live.BidiGenerateContentConstrained" || r.Status != 200 {
			t.Fatalf("record %+v, want key %s", r, secret.KeyFingerprint(minter))
		}
	}
}
