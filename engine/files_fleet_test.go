package engine_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genai"

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
