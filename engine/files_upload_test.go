package engine_test

import (
	"context"
	"os"
	"runtime/metrics"
	"testing"
	"time"

	"google.golang.org/genai"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// heapPeak samples the live heap until stop is closed and returns its
// largest value.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// uploadThrough uploads size bytes with the Go SDK (8 MiB chunks) through
// balance and checks that the mock got exactly those bytes. It returns
// the growth of the live heap during the upload. The mock shares the
// process and reads each chunk whole, so one chunk of the growth is its.
func uploadThrough(t testing.TB, size int64) uint64 {
	mock := mockgemini.Start(t, mockgemini.Options{DisableRecording: true})
	_, url := startProxy(t, mock, t.TempDir(), filesConfig(filesKeys, ""))
	client := genaiClient(t, url, testToken)
	src := mockgemini.NewPattern(size, 42)
	var base [1]metrics.Sample
	base[0].Name = "/memory/classes/heap/objects:bytes"
	metrics.Read(base[:])
	stop := make(chan struct{})
	peak := heapPeak(stop)
	f, err := client.Files.Upload(context.Background(), src, &genai.UploadFileConfig{MIMEType: "video/mp4"})
	close(stop)
	top := <-peak
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	got, ok := mock.File(f.Name)
	if !ok || got.Size != size || got.CRC32 != src.CRC32() {
		t.Fatalf("mock holds %d bytes crc %08x, sent %d crc %08x", got.Size, got.CRC32, size, src.CRC32())
	}
	if top < base[0].Value.Uint64() {
		return 0
	}
	return top - base[0].Value.Uint64()
}

const uploadChunk = 8 << 20

// A 64 MiB upload in 8 MiB chunks reaches the mock byte for byte, and the
// heap grows by the SDK's chunk buffer and the mock's copy of one chunk,
// never by what balance would need to buffer a chunk or the file.
func TestLargeUploadStreamsThrough(t *testing.T) {
	grown := uploadThrough(t, 64<<20)
	// SDK buffer (1 chunk) + mock's body (1 chunk, up to 2 while growing)
	// + slack; balance buffering one chunk would add another and fail it.
	if limit := uint64(2*uploadChunk + 4<<20); grown > limit {
		t.Fatalf("heap grew %d MiB during a 64 MiB upload (limit %d MiB)", grown>>20, limit>>20)
	}
	t.Logf("heap growth during a 64 MiB upload: %.1f MiB", float64(grown)/(1<<20))
}

// The 300 MB measurement; BALANCE_BIG_UPLOAD=1 runs it.
func TestLargeUpload300MB(t *testing.T) {
	if testing.Short() || os.Getenv("BALANCE_BIG_UPLOAD") == "" {
		t.Skip("set BALANCE_BIG_UPLOAD=1 for the 300 MB upload")
	}
	grown := uploadThrough(t, 300<<20)
	t.Logf("heap growth during a 300 MiB upload: %.1f MiB", float64(grown)/(1<<20))
	if grown > 2*uploadChunk+4<<20 {
		t.Fatalf("heap grew %d MiB", grown>>20)
	}
}
