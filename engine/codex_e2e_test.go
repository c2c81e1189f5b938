package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// codexVersion is the Codex CLI the end-to-end tests run (the version the
// wire notes were taken with).
const codexVersion = "0.171.0"

// codexBinary finds the Codex CLI: $BALANCE_CODEX, else a copy installed
// with npm into the user cache (once per version). The tests are skipped
// only where node or npm is missing.
func codexBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("BALANCE_CODEX"); bin != "" {
		return bin
	}
	dir := npmPackage(t, "codex", "@openai/codex", codexVersion)
	return filepath.Join(dir, "node_modules", ".bin", "codex")
}

// runCodex runs `codex exec` with a custom provider pointing at balance's
// /v1 and wire_api = "responses", offline, and returns its stdout.
func runCodex(t *testing.T, bin string, h *harness, prompt string) string {
	t.Helper()
	home, codexHome, work := t.TempDir(), t.TempDir(), t.TempDir()
	config := fmt.Sprintf(`model = "gemini-2.5-flash"
model_provider = "balance"
web_search = "disabled"
check_for_update_on_startup = false

[model_providers.balance]
name = "balance"
base_url = "%s/v1"
env_key = "BALANCE_TOKEN"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false
`, h.url)
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", prompt)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "HOME="+home, "CODEX_HOME="+codexHome, "BALANCE_TOKEN="+h.token, "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("codex exec: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestCodexPlainPrompt: Codex streams a prompt through balance and prints
// the model's text answer (the mock answers in text although Codex
// declares its tools).
func TestCodexPlainPrompt(t *testing.T) {
	bin := codexBinary(t)
	h := startHarness(t, []string{keyA}, "", mockgemini.Options{TextOnly: true})
	out := runCodex(t, bin, h, "hello from codex")
	if !strings.Contains(out, "Echo: hello from codex") {
		t.Fatalf("codex printed %q", out)
	}
	up := h.mock.LastRequest()
	if !strings.Contains(up.Path, ":streamGenerateContent") || !strings.Contains(string(up.Body), `"functionDeclarations"`) {
		t.Fatalf("upstream %s %.300s", up.Path, up.Body)
	}
}

// TestCodexShellToolTurn: the model calls Codex's shell tool, Codex runs
// the command and sends its output back through balance, and prints the
// model's answer quoting it.
func TestCodexShellToolTurn(t *testing.T) {
	bin := codexBinary(t)
	h := newHarness(t, []string{keyA}, "")
	// The mock's call puts the prompt into the tool's required "cmd".
	out := runCodex(t, bin, h, "echo balance-codex-e2e")
	if !strings.Contains(out, "Function results: exec_command=") || !strings.Contains(out, "Process exited with code 0") ||
		!strings.Contains(out, `Output:\nbalance-codex-e2e`) {
		t.Fatalf("codex printed %q", out)
	}
	up := string(h.mock.LastRequest().Body)
	if !strings.Contains(up, `"functionResponse"`) || !strings.Contains(up, `"thoughtSignature"`) || !strings.Contains(up, "balance-codex-e2e") {
		t.Fatalf("second upstream request %.2000s", up)
	}
}
