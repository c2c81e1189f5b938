package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// genaiJSVersion is the @google/genai the wire notes were taken with.
const genaiJSVersion = "2.32.0"

// The Files API with the official JavaScript client through balance, with
// a pool of 3 keys in round robin, under /gemini and the bare prefix: the
// upload reaches the mock byte for byte, get and list see it, three
// generates naming it all go to the key that holds it, and after the
// delete a get is a 404.
func TestFilesAPIWithNodeSDK(t *testing.T) {
	modules := filepath.Join(npmPackage(t, "genai", "@google/genai", genaiJSVersion), "node_modules")
	script, err := filepath.Abs("testdata/genai_files.mjs")
	if err != nil {
		t.Fatal(err)
	}
	mock := mockgemini.Start(t, mockgemini.Options{})
	_, url := startProxy(t, mock, t.TempDir(), filesConfig(filesKeys, ""))
	data := bytes.Repeat([]byte("notes for node\n"), 7000) // ~100 KB
	for _, mount := range []string{"/gemini", ""} {
		base := url + mount
		t.Run("mount="+mount, func(t *testing.T) {
			// Node resolves the package from the script's directory.
			work := t.TempDir()
			if err := os.Symlink(modules, filepath.Join(work, "node_modules")); err != nil {
				t.Fatal(err)
			}
			src, err := os.ReadFile(script)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(work, "files.mjs"), src, 0o600); err != nil {
				t.Fatal(err)
			}
			notes := filepath.Join(work, "notes.txt")
			if err := os.WriteFile(notes, data, 0o600); err != nil {
				t.Fatal(err)
			}
			before := perKey(mock, filesKeys)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", filepath.Join(work, "files.mjs"), notes)
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "BALANCE_URL="+base, "BALANCE_TOKEN="+testToken)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("node: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			var got struct {
				Name, URI, Size, Got string
				Listed               []string
				Answers              []string
				AfterDelete          any
			}
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("%v: %s", err, stdout.String())
			}
			if got.Size != strconv.Itoa(len(data)) || got.Got != got.Name || !contains(got.Listed, got.Name) {
				t.Fatalf("upload, get, list: %+v", got)
			}
			if len(got.Answers) != 3 || got.Answers[0] == "" {
				t.Fatalf("answers: %q", got.Answers)
			}
			if code, ok := got.AfterDelete.(float64); !ok || code != 404 {
				t.Fatalf("get after delete: %v", got.AfterDelete)
			}
			// got.Size is what the mock counted; the file is gone there too.
			if _, ok := mock.File(got.Name); ok {
				t.Fatal("the mock still holds the deleted file")
			}
			after := perKey(mock, filesKeys)
			// start and chunk (one 8 MiB chunk at most) on one key, then
			// get, 3 generates and the delete on that key only; list
			// and the last get are answered by balance.
			owner, calls := -1, int64(0)
			for i := range filesKeys {
				if d := after[i] - before[i]; d > 0 {
					if owner >= 0 {
						t.Fatalf("calls on keys %d and %d: before %v after %v", owner, i, before, after)
					}
					owner, calls = i, d
				}
			}
			if calls != 7 {
				t.Fatalf("%d calls on the owner, want 7 (before %v after %v)", calls, before, after)
			}
		})
	}
}
