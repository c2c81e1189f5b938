package engine_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// genaiNodeVersion is the npm @google/genai the Node tests run: the
// version the wire notes were taken with.
const genaiNodeVersion = "2.32.0"

// genaiNodeDir is an npm prefix holding @google/genai, installed into the
// user cache once per version, as codexBinary installs the Codex CLI. The
// tests are skipped only where node or npm is missing.
func genaiNodeDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the @google/genai tests cannot run")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: @google/genai cannot be installed")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "balance-test", "genai-"+genaiNodeVersion)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@google", "genai", "package.json")); err == nil {
		return dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--prefix", dir, "@google/genai@"+genaiNodeVersion).CombinedOutput()
	if err != nil {
		t.Fatalf("npm install @google/genai@%s: %v\n%s", genaiNodeVersion, err, out)
	}
	return dir
}

// runGenaiNode runs a script of testdata/genai_node with node, GENAI_DIR
// set to the @google/genai install and env added, and returns its stdout.
func runGenaiNode(t *testing.T, script string, env ...string) []byte {
	t.Helper()
	dir := genaiNodeDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "genai_node", script))
	cmd.Env = append(os.Environ(), append([]string{"GENAI_DIR=" + dir}, env...)...)
	var stderr []byte
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	if err != nil {
		t.Fatalf("node %s: %v\n%s\n%s", script, err, out, stderr)
	}
	return out
}
