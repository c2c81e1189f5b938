package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// An upload that names its model (X-Balance-Model, sent through the SDK's
// per-call headers) goes to a key that is not cooling for that model, so
// the file's first use is not a 429; one that names none goes to any
// healthy key, round robin.
func TestUploadPicksAKeyNotCoolingForItsModel(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	srv, url := startProxy(t, mock, t.TempDir(), filesConfig(filesKeys, ""))
	const model = "gemini-2.5-pro"
	for _, k := range filesKeys[:2] {
		srv.Registry().Get(k).CoolUntil(model, time.Now().Add(time.Hour), "test")
	}
	client := genaiClient(t, url+"/gemini", testToken)
	ctx := context.Background()
	upload := func(header string) (*genai.File, string) {
		t.Helper()
		cfg := &genai.UploadFileConfig{MIMEType: "text/plain"}
		if header != "" {
			cfg.HTTPOptions = &genai.HTTPOptions{Headers: map[string][]string{"X-Balance-Model": {header}}}
		}
		f, err := client.Files.Upload(ctx, strings.NewReader("notes for "+header), cfg)
		if err != nil {
			t.Fatalf("upload (model %q): %v", header, err)
		}
		info, ok := mock.File(f.Name)
		if !ok {
			t.Fatalf("mock lacks %s", f.Name)
		}
		return f, info.Key
	}
	for _, tc := range []struct {
		name, header string
		wantOwners   int // distinct keys over 6 uploads
	}{
		{"names the model", model, 1},
		{"names it as models/", "models/" + model, 1},
		{"names none", "", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owners := map[string]bool{}
			for range 6 {
				f, owner := upload(tc.header)
				owners[owner] = true
				if tc.header == "" {
					continue
				}
				if owner != filesKeys[2] {
					t.Fatalf("upload for %s went to key %d, which is cooling for it", model, indexOf(filesKeys, owner))
				}
				contents := []*genai.Content{genai.NewContentFromParts([]*genai.Part{genai.NewPartFromURI(f.URI, "text/plain"), genai.NewPartFromText("read")}, genai.RoleUser)}
				if _, err := client.Models.GenerateContent(ctx, model, contents, nil); err != nil {
					t.Fatalf("generate with the file: %v", err)
				}
			}
			if len(owners) != tc.wantOwners {
				t.Fatalf("uploads went to %d keys, want %d", len(owners), tc.wantOwners)
			}
		})
	}
	// A model name that cannot be one is refused before any upstream call.
	total := mock.Total()
	_, err := client.Files.Upload(ctx, strings.NewReader("x"), &genai.UploadFileConfig{MIMEType: "text/plain",
		HTTPOptions: &genai.HTTPOptions{Headers: map[string][]string{"X-Balance-Model": {"gemini 2.5/../pro"}}}})
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "Invalid model name") {
		t.Fatalf("bad model name: %v", err)
	}
	if mock.Total() != total {
		t.Fatal("a refused upload reached the upstream")
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// A batch is created on a model like any model call: a model rule's alias
// reaches Google as its target, and the batch records the target.
func TestBatchCreateFollowsModelRules(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	_, url := startProxy(t, mock, t.TempDir(), filesConfig(filesKeys, `model "flash" { target = "gemini-2.5-flash" }`))
	client := genaiClient(t, url+"/gemini", testToken)
	contents := []*genai.Content{genai.NewContentFromText("hi", genai.RoleUser)}
	b, err := client.Batches.Create(context.Background(), "flash", &genai.BatchJobSource{InlinedRequests: []*genai.InlinedRequest{{Contents: contents}}}, nil)
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	if n := mock.PathRequests("/v1beta/models/gemini-2.5-flash:batchGenerateContent"); n != 1 {
		t.Fatalf("%d batch creates reached the target's path", n)
	}
	if got, err := client.Batches.Get(context.Background(), b.Name, nil); err != nil || got.Name != b.Name {
		t.Fatalf("batch get: %+v %v", got, err)
	}
}
