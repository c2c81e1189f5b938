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

// genaiNodeDir is an npm prefix holding @google/genai at genaiNodeVersion
// (npmPackage installs it once per version).
func genaiNodeDir(t *testing.T) string {
	t.Helper()
	return npmPackage(t, "genai", "@google/genai", genaiNodeVersion)
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
