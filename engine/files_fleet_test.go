package engine_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// Two instances on one MySQL database: a file uploaded through A is used
// through B, on the key that owns it, and listed and deleted there.
func TestFileUploadedThroughOneInstanceUsedThroughAnother(t *testing.T) {
	dsn := freshMySQL(t, "balance_files_")

	mock := mockgemini.Start(t, mockgemini.Options{})
	cfg := filesConfig(filesKeys, fmt.Sprintf(`store {
  driver = "mysql"
  dsn    = "%s"
}`, dsn))
	_, urlA := startProxy(t, mock, t.TempDir(), cfg)
	_, urlB := startProxy(t, mock, t.TempDir(), cfg)
	ctx := context.Background()

	file, err := genaiClient(t, urlA+"/gemini", testToken).Files.Upload(ctx, strings.NewReader("fleet notes"), &genai.UploadFileConfig{MIMEType: "text/plain"})
	if err != nil {
		t.Fatalf("upload through A: %v", err)
	}
	info, _ := mock.File(file.Name)
	b := genaiClient(t, urlB+"/gemini", testToken)
	contents := []*genai.Content{genai.NewContentFromParts([]*genai.Part{genai.NewPartFromURI(file.URI, "text/plain"), genai.NewPartFromText("read")}, genai.RoleUser)}
	before := perKey(mock, filesKeys)
	for i := range 4 {
		if _, err := b.Models.GenerateContent(ctx, "gemini-2.5-flash", contents, nil); err != nil {
			t.Fatalf("generate %d through B: %v", i, err)
		}
	}
	onlyOwner(t, filesKeys, before, perKey(mock, filesKeys), info.Key, 4)
	n := 0
	for f, err := range b.Files.All(ctx) {
		if err != nil || f.Name != file.Name {
			t.Fatalf("B lists %v %v", f, err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("B lists %d files", n)
	}
	if _, err := b.Files.Delete(ctx, file.Name, nil); err != nil {
		t.Fatalf("delete through B: %v", err)
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var left int
	if err := db.QueryRow("SELECT COUNT(*) FROM resources WHERE kind = 'file'").Scan(&left); err != nil || left != 0 {
		t.Fatalf("file records left: %d %v", left, err)
	}
}

// Two instances on one MySQL database, B holding a file and a cached
// content in memory from using them: the file deleted through A, and the
// cache whose TTL A cut to a second, stop routing through B once B's
// recheck interval has passed (and the cache's second): 404 in Gemini's
// shape, with no upstream call.
func TestResourceDeletedThroughOneInstanceIsGoneFromAnother(t *testing.T) {
	dsn := freshMySQL(t, "balance_files_")
	mock := mockgemini.Start(t, mockgemini.Options{})
	cfg := filesConfig(filesKeys, fmt.Sprintf(`store {
  driver = "mysql"
  dsn    = "%s"
}`, dsn))
	_, urlA := startProxy(t, mock, t.TempDir(), cfg)
	srvB, urlB := startProxy(t, mock, t.TempDir(), cfg)
	const recheck = 300 * time.Millisecond
	engine.SetResourceRecheck(srvB, recheck)
	ctx := context.Background()
	a, b := genaiClient(t, urlA+"/gemini", testToken), genaiClient(t, urlB+"/gemini", testToken)

	file, err := a.Files.Upload(ctx, strings.NewReader("fleet notes"), &genai.UploadFileConfig{MIMEType: "text/plain"})
	if err != nil {
		t.Fatalf("upload through A: %v", err)
	}
	cache, err := a.Caches.Create(ctx, "gemini-2.5-flash", &genai.CreateCachedContentConfig{TTL: time.Hour, Contents: genai.Text("a long shared context")})
	if err != nil {
		t.Fatalf("cache through A: %v", err)
	}
	withFile := []*genai.Content{genai.NewContentFromParts([]*genai.Part{genai.NewPartFromURI(file.URI, "text/plain"), genai.NewPartFromText("read")}, genai.RoleUser)}
	useThroughB := func() (fileErr, cacheErr error) {
		_, fileErr = b.Models.GenerateContent(ctx, "gemini-2.5-flash", withFile, nil)
		_, cacheErr = b.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("go on"), &genai.GenerateContentConfig{CachedContent: cache.Name})
		return fileErr, cacheErr
	}
	if fe, ce := useThroughB(); fe != nil || ce != nil {
		t.Fatalf("B uses A's resources: file %v, cache %v", fe, ce)
	}

	if _, err := a.Files.Delete(ctx, file.Name, nil); err != nil {
		t.Fatalf("delete through A: %v", err)
	}
	if _, err := a.Caches.Update(ctx, cache.Name, &genai.UpdateCachedContentConfig{TTL: time.Second}); err != nil {
		t.Fatalf("cut the cache's TTL through A: %v", err)
	}
	time.Sleep(max(recheck, time.Second) + 200*time.Millisecond)
	total := mock.Total()
	fe, ce := useThroughB()
	if apiCode(fe) != 404 || !strings.Contains(fe.Error(), file.Name) {
		t.Fatalf("B on the deleted file: %v", fe)
	}
	if apiCode(ce) != 404 || !strings.Contains(ce.Error(), cache.Name) {
		t.Fatalf("B on the expired cache: %v", ce)
	}
	if _, err := b.Files.Get(ctx, file.Name, nil); apiCode(err) != 404 {
		t.Fatalf("B gets the deleted file: %v", err)
	}
	if mock.Total() != total {
		t.Fatalf("%d calls naming gone resources reached the upstream", mock.Total()-total)
	}
}
