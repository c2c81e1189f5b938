package engine_test

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"

	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

var filesKeys = []string{"AIzaSyFilesKeyNumberA0000000000000000001", "AIzaSyFilesKeyNumberB0000000000000000002", "AIzaSyFilesKeyNumberC0000000000000000003"}

const otherToken = "sk-test-other-client-token"

// filesConfig is a round-robin pool of keys and two client tokens.
func filesConfig(keys []string, extra string) string {
	return poolConfig(keys, `
token "other" {
  secret = "`+otherToken+`"
  pools  = ["main"]
}
`+extra)
}

func genaiClient(t testing.TB, base, token string) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey: token, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: base, APIVersion: "v1beta"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// perKey snapshots the mock's request count of every key.
func perKey(mock *mockgemini.Server, keys []string) []int64 {
	out := make([]int64, len(keys))
	for i, k := range keys {
		out[i] = mock.Requests(k)
	}
	return out
}

// onlyOwner fails unless every request between before and after went to
// keys[owner].
func onlyOwner(t *testing.T, keys []string, before, after []int64, owner string, want int64) {
	t.Helper()
	for i, k := range keys {
		d := after[i] - before[i]
		if k == owner && d != want || k != owner && d != 0 {
			t.Fatalf("key %d got %d requests (owner %v, want %d on the owner only): before %v after %v", i, d, k == owner, want, before, after)
		}
	}
}

func apiCode(err error) int {
	var ae genai.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// The official Go SDK through balance with a round-robin pool of 3 keys:
// the file lands on one key and everything that names it afterwards
// (get, generate unary and streamed, a cache made from it, a batch) goes
// to that key only; the mock answers 403 to any other key, as Google does.
func TestFilesAPIThroughPoolWithGoSDK(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	srv, url := startProxy(t, mock, t.TempDir(), filesConfig(filesKeys, ""))
	ctx := context.Background()
	for _, base := range []string{url + "/gemini", url} {
		t.Run(strings.TrimPrefix(base, url), func(t *testing.T) {
			client := genaiClient(t, base, testToken)
			data := make([]byte, 3<<20+12345)
			for i := range data {
				data[i] = byte(rand.IntN(256))
			}
			file, err := client.Files.Upload(ctx, bytes.NewReader(data), &genai.UploadFileConfig{MIMEType: "application/pdf", DisplayName: "report"})
			if err != nil {
				t.Fatalf("upload: %v", err)
			}
			got, ok := mock.File(file.Name)
			if !ok || got.Size != int64(len(data)) || got.CRC32 != crc32.ChecksumIEEE(data) {
				t.Fatalf("mock holds %+v (ok %v), want %d bytes crc %08x", got, ok, len(data), crc32.ChecksumIEEE(data))
			}
			owner := got.Key

			before := perKey(mock, filesKeys)
			if g, err := client.Files.Get(ctx, file.Name, nil); err != nil || g.Name != file.Name || g.SizeBytes == nil || *g.SizeBytes != int64(len(data)) {
				t.Fatalf("get: %+v %v", g, err)
			}
			part := genai.NewPartFromURI(file.URI, file.MIMEType)
			contents := []*genai.Content{genai.NewContentFromParts([]*genai.Part{part, genai.NewPartFromText("summarise")}, genai.RoleUser)}
			for i := range 6 {
				if _, err := client.Models.GenerateContent(ctx, "gemini-2.5-flash", contents, nil); err != nil {
					t.Fatalf("generate %d: %v", i, err)
				}
			}
			for i := range 6 {
				n := 0
				for _, err := range client.Models.GenerateContentStream(ctx, "gemini-2.5-flash", contents, nil) {
					if err != nil {
						t.Fatalf("stream %d: %v", i, err)
					}
					n++
				}
				if n == 0 {
					t.Fatalf("stream %d: no chunks", i)
				}
			}
			// files/ID instead of the URI routes the same.
			byName := []*genai.Content{genai.NewContentFromParts([]*genai.Part{genai.NewPartFromURI(file.Name, file.MIMEType), genai.NewPartFromText("again")}, genai.RoleUser)}
			if _, err := client.Models.GenerateContent(ctx, "gemini-2.5-flash", byName, nil); err != nil {
				t.Fatalf("generate by name: %v", err)
			}
			cache, err := client.Caches.Create(ctx, "gemini-2.5-flash", &genai.CreateCachedContentConfig{Contents: contents})
			if err != nil {
				t.Fatalf("cache create: %v", err)
			}
			for i := range 3 {
				if _, err := client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("from the cache"), &genai.GenerateContentConfig{CachedContent: cache.Name}); err != nil {
					t.Fatalf("generate with cache %d: %v", i, err)
				}
			}
			batch, err := client.Batches.Create(ctx, "gemini-2.5-flash", &genai.BatchJobSource{InlinedRequests: []*genai.InlinedRequest{{Contents: contents}}}, nil)
			if err != nil {
				t.Fatalf("batch create: %v", err)
			}
			if b, err := client.Batches.Get(ctx, batch.Name, nil); err != nil || b.Name != batch.Name {
				t.Fatalf("batch get: %+v %v", b, err)
			}
			// A batch read from the file; its results file is pinned too.
			fromFile, err := client.Batches.Create(ctx, "gemini-2.5-flash", &genai.BatchJobSource{FileName: file.Name}, nil)
			if err != nil {
				t.Fatalf("batch from file: %v", err)
			}
			done, err := client.Batches.Get(ctx, fromFile.Name, nil)
			if err != nil || done.Dest == nil || done.Dest.FileName == "" {
				t.Fatalf("batch from file get: %+v %v", done, err)
			}
			if _, err := client.Files.Get(ctx, done.Dest.FileName, nil); err != nil {
				t.Fatalf("batch results file: %v", err)
			}
			// get 1 + generate 6 + stream 6 + by name 1 + cache 1 + cached generate 3 + batch 2 + batch from file 3
			onlyOwner(t, filesKeys, before, perKey(mock, filesKeys), owner, 23)

			var listed []string
			for f, err := range client.Files.All(ctx) {
				if err != nil {
					t.Fatalf("list: %v", err)
				}
				listed = append(listed, f.Name)
			}
			if !contains(listed, file.Name) {
				t.Fatalf("list %v lacks %s", listed, file.Name)
			}

			// Another client token sees nothing of it: 404, as for a name
			// that does not exist, and no upstream call.
			other := genaiClient(t, base, otherToken)
			total := mock.Total()
			if _, err := other.Files.Get(ctx, file.Name, nil); apiCode(err) != 404 {
				t.Fatalf("other token get: %v", err)
			}
			if _, err := other.Models.GenerateContent(ctx, "gemini-2.5-flash", contents, nil); apiCode(err) != 404 {
				t.Fatalf("other token generate: %v", err)
			}
			for f, err := range other.Files.All(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				t.Fatalf("other token lists %s", f.Name)
			}
			if mock.Total() != total {
				t.Fatalf("refusals reached the upstream: %d calls", mock.Total()-total)
			}

			if _, err := client.Files.Delete(ctx, file.Name, nil); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, err := client.Files.Get(ctx, file.Name, nil); apiCode(err) != 404 {
				t.Fatalf("get after delete: %v", err)
			}
			if _, ok := mock.File(file.Name); ok {
				t.Fatal("the mock still holds the deleted file")
			}
			for i, k := range filesKeys {
				if st := srv.Registry().Get(k).Status(time.Now()); st.State != keypool.Healthy {
					t.Fatalf("key %d is %s: %+v", i, st.State, st)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
