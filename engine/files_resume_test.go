package engine_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// uploadStart opens a resumable upload of size bytes through balance and
// returns the upload URL it answers with.
func uploadStart(t *testing.T, base, token string, size int) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/upload/v1beta/files", strings.NewReader(`{"file":{"display_name":"resumed"}}`))
	req.Header.Set("x-goog-api-key", token)
	req.Header.Set("X-Goog-Upload-Protocol", "resumable")
	req.Header.Set("X-Goog-Upload-Command", "start")
	req.Header.Set("X-Goog-Upload-Header-Content-Length", strconv.Itoa(size))
	req.Header.Set("X-Goog-Upload-Header-Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u := resp.Header.Get("X-Goog-Upload-URL")
	if resp.StatusCode != 200 || !strings.HasPrefix(u, base+"/upload/v1beta/files?upload_id=") {
		t.Fatalf("start: %d, upload URL %q", resp.StatusCode, u)
	}
	return u
}

// uploadCommand sends one command of the resumable protocol to an upload
// URL: "upload", "upload, finalize", "query" or "cancel".
func uploadCommand(t *testing.T, u, token, cmd string, offset int, data string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(data))
	req.Header.Set("x-goog-api-key", token)
	req.Header.Set("X-Goog-Upload-Command", cmd)
	if strings.HasPrefix(cmd, "upload") {
		req.Header.Set("X-Goog-Upload-Offset", strconv.Itoa(offset))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header, b.String()
}

// cutChunk sends a chunk's headers and only part of its body on a raw
// connection, then hangs up: an upload interrupted mid-chunk.
func cutChunk(t *testing.T, u, token string, offset int, declared int, sent string) {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", parsed.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nx-goog-api-key: %s\r\nX-Goog-Upload-Command: upload\r\nX-Goog-Upload-Offset: %d\r\nContent-Length: %d\r\n\r\n%s",
		parsed.RequestURI(), parsed.Host, token, offset, declared, sent)
	// Let balance start passing the chunk on before the connection drops.
	time.Sleep(50 * time.Millisecond)
	conn.Close()
}

// The resumable protocol's query and cancel commands through balance: a
// client cut off mid-chunk asks how much arrived and resumes from there;
// a query after the finalize answers final with the file; cancel ends the
// session. Every command goes to the key that started the upload; another
// token's query is a 404; nothing cools or blames a key.
func TestResumableUploadQueryAndCancel(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	srv, base := startProxy(t, mock, t.TempDir(), filesConfig(filesKeys, ""))
	const content = "0123456789"

	before := perKey(mock, filesKeys)
	u := uploadStart(t, base, testToken, len(content))
	if status, hdr, body := uploadCommand(t, u, testToken, "upload", 0, content[:4]); status != 200 || hdr.Get("X-Goog-Upload-Status") != "active" {
		t.Fatalf("first chunk: %d %v %s", status, hdr, body)
	}
	cutChunk(t, u, testToken, 4, 6, content[4:6])

	status, hdr, body := uploadCommand(t, u, testToken, "query", 0, "")
	if status != 200 || hdr.Get("X-Goog-Upload-Status") != "active" || hdr.Get("X-Goog-Upload-Size-Received") != "4" {
		t.Fatalf("query after the cut: %d %v %s", status, hdr, body)
	}
	if status, _, body := uploadCommand(t, u, otherToken, "query", 0, ""); status != 404 {
		t.Fatalf("another token's query: %d %s", status, body)
	}
	status, hdr, body = uploadCommand(t, u, testToken, "upload, finalize", 4, content[4:])
	if status != 200 || hdr.Get("X-Goog-Upload-Status") != "final" {
		t.Fatalf("resumed finalize: %d %v %s", status, hdr, body)
	}
	var final struct{ File struct{ Name string } }
	if err := json.Unmarshal([]byte(body), &final); err != nil || final.File.Name == "" {
		t.Fatalf("finalize answer %s: %v", body, err)
	}
	info, ok := mock.File(final.File.Name)
	if !ok || info.Size != int64(len(content)) || info.CRC32 != crc32.ChecksumIEEE([]byte(content)) {
		t.Fatalf("mock holds %+v, want the %d bytes %q", info, len(content), content)
	}
	// The finalize answer lost, the client asks again: final, same file.
	status, hdr, body = uploadCommand(t, u, testToken, "query", 0, "")
	var again struct{ File struct{ Name string } }
	if err := json.Unmarshal([]byte(body), &again); err != nil || status != 200 || hdr.Get("X-Goog-Upload-Status") != "final" || again.File.Name != final.File.Name {
		t.Fatalf("query after the finalize: %d %v %s", status, hdr, body)
	}
	// start, chunk, cut chunk (it may or may not have reached the mock), query, finalize, query
	after := perKey(mock, filesKeys)
	var onOwner, elsewhere int64
	for i, k := range filesKeys {
		if k == info.Key {
			onOwner = after[i] - before[i]
		} else {
			elsewhere += after[i] - before[i]
		}
	}
	if elsewhere != 0 || onOwner < 5 || onOwner > 6 {
		t.Fatalf("calls: %d on the owner, %d elsewhere (before %v after %v)", onOwner, elsewhere, before, after)
	}

	// Cancel ends the session at the mock and in balance: a later query is
	// a 404 that goes nowhere.
	u = uploadStart(t, base, testToken, len(content))
	if status, _, body := uploadCommand(t, u, testToken, "upload", 0, content[:3]); status != 200 {
		t.Fatalf("chunk: %d %s", status, body)
	}
	if status, hdr, body := uploadCommand(t, u, testToken, "cancel", 0, ""); status != 200 || hdr.Get("X-Goog-Upload-Status") != "cancelled" {
		t.Fatalf("cancel: %d %v %s", status, hdr, body)
	}
	total := mock.Total()
	if status, _, body := uploadCommand(t, u, testToken, "query", 0, ""); status != 404 {
		t.Fatalf("query after cancel: %d %s", status, body)
	}
	if mock.Total() != total {
		t.Fatal("a query on a cancelled upload reached the upstream")
	}

	for i, k := range filesKeys {
		if st := srv.Registry().Get(k).Status(time.Now()); st.State != keypool.Healthy {
			t.Fatalf("key %d is %s after a client cut its chunk: %+v", i, st.State, st)
		}
	}
}
