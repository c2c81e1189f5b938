package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// buildBinary compiles bin/balance once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "balance")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func TestValidateExitCodesAndDiagnostics(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.hcl")
	bad := filepath.Join(dir, "bad.hcl")
	must(t, os.WriteFile(good, []byte(`
upstream "g" { base_url = "https://generativelanguage.googleapis.com" }
pool "p" {
  upstream = "g"
  keys     = ["AIzaSyValidateKey000000000000000000000001"]
}
token "t" {
  secret = "sk-validate-token"
  pools  = ["p"]
}
`), 0o644))
	must(t, os.WriteFile(bad, []byte(`
upstream "g" { base_url = "https://generativelanguage.googleapis.com" }
pool "p" {
  upstream = "gg"
  keys     = ["k-one-two-three"]
  stratgy  = "random"
}
token "t" {
  secret = "sk-validate-token"
  pools  = ["p"]
}
`), 0o644))
	var out, errb bytes.Buffer
	if code := run([]string{"validate", "-config", good}, &out, &errb); code != 0 {
		t.Fatalf("good config: exit %d: %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"validate", "-config", bad, "-snippets=false"}, &out, &errb); code != 1 {
		t.Fatalf("bad config: exit %d", code)
	}
	msg := errb.String()
	for _, want := range []string{bad + ":4:14: Unknown upstream", `Did you mean "g"?`, bad + ":6:3: Unsupported argument", `Did you mean "strategy"?`} {
		if !strings.Contains(msg, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, msg)
		}
	}
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
}

// A SIGTERM while a stream is in flight lets the stream finish, then the
// process exits 0.
func TestGracefulShutdownFinishesStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	mock := mockgemini.Start(t, mockgemini.Options{StreamChunks: 5, StreamDelay: 200 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	cfgPath := filepath.Join(t.TempDir(), "balance.hcl")
	must(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
server {
  listen         = %q
  shutdown_grace = "10s"
}
upstream "mock" { base_url = %q }
pool "p" {
  upstream = "mock"
  keys     = ["AIzaSyShutdownKey00000000000000000000001"]
}
token "t" {
  secret = "sk-shutdown-token"
  pools  = ["p"]
}
store { driver = "none" }
`, addr, mock.URL())), 0o644))
	cmd := exec.Command(bin, "-config", cfgPath)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	base := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("balance did not come up: %s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	req, _ := http.NewRequest("POST", base+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
		strings.NewReader(`{"contents":[{"parts":[{"text":"one two three four five six seven eight nine ten"}]}]}`))
	req.Header.Set("x-goog-api-key", "sk-shutdown-token")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil { // the first event arrived
		t.Fatal(err)
	}
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("stream cut by shutdown: %v", err)
	}
	if !strings.Contains(string(rest), `"finishReason": "STOP"`) {
		t.Fatalf("stream did not finish: %q", rest)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("balance did not exit after SIGTERM")
	}
	if strings.Contains(logs.String(), "AIzaSyShutdownKey00000000000000000000001") || strings.Contains(logs.String(), "sk-shutdown-token") {
		t.Fatal("a secret appeared in the logs")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
