package engine_test

import (
	"bytes"
	"encoding/json"
	"hash/crc32"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// The Files API with the official JavaScript client through balance, with
// a pool of 3 keys in round robin, under /gemini and the bare prefix: the
// upload reaches the mock byte for byte, get and list see it, three
// generates naming it all go to the key that holds it, and after the
// delete a get is a 404.
func TestFilesAPIWithNodeSDK(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	_, url := startProxy(t, mock, t.TempDir(), filesConfig(filesKeys, ""))
	data := bytes.Repeat([]byte("notes for node\n"), 7000) // ~100 KB
	for _, mount := range []string{"/gemini", ""} {
		base := url + mount
		t.Run("mount="+mount, func(t *testing.T) {
			notes := filepath.Join(t.TempDir(), "notes.txt")
			if err := os.WriteFile(notes, data, 0o600); err != nil {
				t.Fatal(err)
			}
			before := perKey(mock, filesKeys)
			stdout := runGenaiNode(t, "files.mjs", "BALANCE_URL="+base, "BALANCE_TOKEN="+testToken, "UPLOAD_FILE="+notes)
			var got struct {
				Name, URI, Size, Got string
				Listed               []string
				Answers              []string
				AfterDelete          any
			}
			if err := json.Unmarshal(stdout, &got); err != nil {
				t.Fatalf("%v: %s", err, stdout)
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

// Veo with the official JavaScript client through balance over plain
// HTTP, with a pool of 3 keys in round robin: the operation is polled
// until done and both videos download byte for byte, every call after the
// create on the key that made the video. The client reads a video's file
// name only from an https URI, which is why balance leaves Google's URI
// in place for a plain-HTTP client.
func TestVideoWithNodeSDK(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{VideoDoneAfter: 4})
	_, url := startProxy(t, mock, t.TempDir(), videoConfig(""))
	before := perKey(mock, filesKeys)
	stdout := runGenaiNode(t, "video.mjs", "BALANCE_URL="+url+"/gemini", "BALANCE_TOKEN="+testToken,
		"VEO_MODEL=veo", "VIDEO_DIR="+t.TempDir())
	var got struct {
		Name   string
		Polls  int
		Videos []struct{ URI, Path string }
	}
	if err := json.Unmarshal(stdout, &got); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if got.Polls != 4 || len(got.Videos) != 2 {
		t.Fatalf("operation %s: %d polls, %d videos", got.Name, got.Polls, len(got.Videos))
	}
	after := perKey(mock, filesKeys)
	owner := ""
	for i, k := range filesKeys {
		if after[i] != before[i] {
			owner = k
		}
	}
	for _, v := range got.Videos {
		data, err := os.ReadFile(v.Path)
		if err != nil {
			t.Fatal(err)
		}
		name := "files/" + strings.TrimSuffix(path.Base(strings.TrimSuffix(v.URI, "?alt=media")), ":download")
		info, ok := mock.File(name)
		if !ok || info.Key != owner || int64(len(data)) != info.Size || crc32.ChecksumIEEE(data) != info.CRC32 {
			t.Fatalf("%s: %d bytes downloaded; mock holds %+v (%v), owner %q", v.URI, len(data), info, ok, owner)
		}
	}
	// The create, 4 polls and 2 downloads, all on one key.
	onlyOwner(t, filesKeys, before, after, owner, 1+4+2)
}
