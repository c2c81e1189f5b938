package engine_test

import (
	"context"
	"hash/crc32"
	"io"
	"net/http"
	"runtime/metrics"
	"strings"
	"testing"

	"google.golang.org/genai"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// batchResults runs a batch read from a small uploaded file through
// balance and returns the name of its results file (a generated file,
// which Google lets its owner download) and the mock's record of it.
func batchResults(t *testing.T, mock *mockgemini.Server, client *genai.Client) (*genai.File, mockgemini.FileInfo) {
	t.Helper()
	ctx := context.Background()
	in, err := client.Files.Upload(ctx, strings.NewReader(`{"key":"request-1","request":{"contents":[{"parts":[{"text":"hi"}]}]}}`), &genai.UploadFileConfig{MIMEType: "application/jsonl"})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	b, err := client.Batches.Create(ctx, "gemini-2.5-flash", &genai.BatchJobSource{FileName: in.Name}, nil)
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	done, err := client.Batches.Get(ctx, b.Name, nil)
	if err != nil || done.Dest == nil || done.Dest.FileName == "" {
		t.Fatalf("batch get: %+v %v", done, err)
	}
	f, err := client.Files.Get(ctx, done.Dest.FileName, nil)
	if err != nil {
		t.Fatalf("results file: %v", err)
	}
	info, ok := mock.File(f.Name)
	if !ok {
		t.Fatalf("mock lacks %s", f.Name)
	}
	return f, info
}

// get fetches path from balance with token and returns the status and
// the CRC-32 and length of the body, read as it arrives.
func get(t *testing.T, url, token string) (int, uint32, int64) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("x-goog-api-key", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := crc32.NewIEEE()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatalf("%s: body: %v", url, err)
	}
	return resp.StatusCode, h.Sum32(), n
}

// A batch's results file downloads through balance from the key that owns
// it: with the Go SDK (/v1beta/files/ID:download?alt=media) and in the
// /download/v1beta form of Google's docs, bare and under /gemini. Another
// token gets 404 with no upstream call; an uploaded file gets Google's own
// refusal (only generated files download).
func TestFileDownloadGoesToTheOwner(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	_, url := startProxy(t, mock, t.TempDir(), filesConfig(filesKeys, ""))
	ctx := context.Background()
	client := genaiClient(t, url, testToken)
	results, info := batchResults(t, mock, client)

	before := perKey(mock, filesKeys)
	data, err := client.Files.Download(ctx, genai.NewDownloadURIFromFile(results), nil)
	if err != nil || int64(len(data)) != info.Size || crc32.ChecksumIEEE(data) != info.CRC32 {
		t.Fatalf("SDK download: %d bytes (want %d), %v", len(data), info.Size, err)
	}
	for _, path := range []string{"/download/v1beta/", "/gemini/download/v1beta/", "/gemini/v1beta/"} {
		status, crc, n := get(t, url+path+results.Name+":download?alt=media", testToken)
		if status != 200 || n != info.Size || crc != info.CRC32 {
			t.Fatalf("%s: %d, %d bytes crc %08x, want %d bytes crc %08x", path, status, n, crc, info.Size, info.CRC32)
		}
	}
	onlyOwner(t, filesKeys, before, perKey(mock, filesKeys), info.Key, 4)

	total := mock.Total()
	for _, path := range []string{"/download/v1beta/", "/v1beta/"} {
		if status, _, _ := get(t, url+path+results.Name+":download?alt=media", otherToken); status != 404 {
			t.Fatalf("another token's download at %s: %d", path, status)
		}
	}
	if status, _, _ := get(t, url+"/download/v1beta/files/"+strings.TrimPrefix(results.Name, "files/")+":get?alt=media", testToken); status != 404 {
		t.Fatalf("a method other than download under /download: %d", status)
	}
	if mock.Total() != total {
		t.Fatalf("%d refused downloads reached the upstream", mock.Total()-total)
	}

	uploaded, _ := uploadOnce(t, mock, url, testToken)
	if status, _, _ := get(t, url+"/download/v1beta/"+uploaded.Name+":download?alt=media", testToken); status != 400 {
		t.Fatalf("download of an uploaded file: %d, want Google's 400", status)
	}
}

// A 64 MiB download streams through balance: the heap grows by far less
// than the file, which balance would need to buffer it (0.1 MiB here; 64
// MiB when buffered).
func TestLargeDownloadStreamsThrough(t *testing.T) {
	const size = 64 << 20
	mock := mockgemini.Start(t, mockgemini.Options{DisableRecording: true, BatchResultsSize: size})
	_, url := startProxy(t, mock, t.TempDir(), filesConfig(filesKeys, ""))
	results, info := batchResults(t, mock, genaiClient(t, url, testToken))

	var base [1]metrics.Sample
	base[0].Name = "/memory/classes/heap/objects:bytes"
	metrics.Read(base[:])
	stop := make(chan struct{})
	peak := heapPeak(stop)
	status, crc, n := get(t, url+"/download/v1beta/"+results.Name+":download?alt=media", testToken)
	close(stop)
	top := <-peak
	if status != 200 || n != size || crc != info.CRC32 {
		t.Fatalf("download: %d, %d bytes crc %08x, want %d crc %08x", status, n, crc, size, info.CRC32)
	}
	var grown uint64
	if top > base[0].Value.Uint64() {
		grown = top - base[0].Value.Uint64()
	}
	t.Logf("heap growth during a 64 MiB download: %.1f MiB", float64(grown)/(1<<20))
	// Garbage not yet collected counts too (more of it under -race);
	// buffering the file would add all 64 MiB.
	if limit := uint64(size / 2); grown > limit {
		t.Fatalf("heap grew %d MiB during a 64 MiB download (limit %d MiB)", grown>>20, limit>>20)
	}
}
