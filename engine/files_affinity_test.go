package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"google.golang.org/genai"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// uploadOnce uploads a small file through balance with the Go SDK and
// returns it with the key that holds it at the mock.
func uploadOnce(t *testing.T, mock *mockgemini.Server, url, token string) (*genai.File, string) {
	t.Helper()
	f, err := genaiClient(t, url+"/gemini", token).Files.Upload(context.Background(), strings.NewReader("some notes"), &genai.UploadFileConfig{MIMEType: "text/plain"})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	info, ok := mock.File(f.Name)
	if !ok {
		t.Fatalf("mock lacks %s", f.Name)
	}
	return f, info.Key
}

func fileBody(uris ...string) string {
	parts := ""
	for _, u := range uris {
		parts += `{"fileData":{"mimeType":"text/plain","fileUri":"` + u + `"}},`
	}
	return `{"contents":[{"role":"user","parts":[` + parts + `{"text":"read it"}]}]}`
}

// What a request naming files meets when their key cannot serve, and
// what bad names and bad uploads get: each answer in the caller's
// protocol, none of them sent to a key that does not own the file.
func TestFileAffinityRefusals(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	srv, url := startProxy(t, mock, t.TempDir(), filesConfig(filesKeys, `files { max_upload = "1MiB" }`))
	h := &harness{t: t, mock: mock, srv: srv, url: url, token: testToken}
	var files []*genai.File
	owners := map[string]bool{}
	for len(owners) < 2 {
		f, owner := uploadOnce(t, mock, url, testToken)
		if !owners[owner] {
			files = append(files, f)
		}
		owners[owner] = true
	}
	path := "/gemini/v1beta/models/gemini-2.5-flash:generateContent"

	t.Run("OpenAI file_id goes to the owner", func(t *testing.T) {
		info, _ := mock.File(files[0].Name)
		before := perKey(mock, filesKeys)
		client := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey(testToken), option.WithMaxRetries(0))
		for range 4 {
			_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model: "gemini-2.5-flash",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
					openai.FileContentPart(openai.ChatCompletionContentPartFileFileParam{FileID: openai.String(files[0].Name)}),
					openai.TextContentPart("what is in it?"),
				})},
			})
			if err != nil {
				t.Fatalf("chat: %v", err)
			}
		}
		onlyOwner(t, filesKeys, before, perKey(mock, filesKeys), info.Key, 4)
	})

	t.Run("files of two keys", func(t *testing.T) {
		total := mock.Total()
		status, _, body := h.do("POST", path, fileBody(files[0].URI, files[1].Name), nil)
		if status != 400 || !strings.Contains(string(body), "different API keys") {
			t.Fatalf("%d %s", status, body)
		}
		if mock.Total() != total {
			t.Fatal("refused request reached the upstream")
		}
	})

	t.Run("unknown and malformed names are 404 without an upstream call", func(t *testing.T) {
		total := mock.Total()
		for _, uri := range []string{"files/doesnotexist", "https://generativelanguage.googleapis.com/v1beta/files/nope", "files/../x"} {
			status, _, body := h.do("POST", path, fileBody(uri), nil)
			if status != 404 || !strings.Contains(string(body), `"status": "NOT_FOUND"`) && !strings.Contains(string(body), `"NOT_FOUND"`) {
				t.Fatalf("%s: %d %s", uri, status, body)
			}
		}
		status, _, body := h.do("POST", path, `{"contents":[{"parts":[{"text":"hi"}]}],"cachedContent":"cachedContents/nope"}`, nil)
		if status != 404 {
			t.Fatalf("unknown cache: %d %s", status, body)
		}
		// OpenAI callers get OpenAI's error shape.
		status, _, body = h.do("POST", "/v1/chat/completions", `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"files/nope"}}]}]}`, map[string]string{"Authorization": "Bearer " + testToken})
		if typ, _ := openAIErrorOf(t, body); status != 404 || typ == "" {
			t.Fatalf("openai unknown file: %d %s", status, body)
		}
		if mock.Total() != total {
			t.Fatalf("%d refused requests reached the upstream", mock.Total()-total)
		}
	})

	t.Run("owner cooling is 429 with Retry-After", func(t *testing.T) {
		info, _ := mock.File(files[0].Name)
		srv.Registry().Get(info.Key).CoolUntil("gemini-2.5-flash", time.Now().Add(40*time.Second), "test")
		defer srv.Registry().Get(info.Key).CoolUntil("gemini-2.5-flash", time.Time{}, "")
		total := mock.Total()
		status, hdr, body := h.do("POST", path, fileBody(files[0].URI), nil)
		if status != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(string(body), files[0].Name) {
			t.Fatalf("%d %v %s", status, hdr, body)
		}
		if mock.Total() != total {
			t.Fatal("a cooling owner's request went upstream")
		}
	})

	t.Run("owner quarantined is 424 naming the file", func(t *testing.T) {
		info, _ := mock.File(files[1].Name)
		k := srv.Registry().Get(info.Key)
		k.Quarantine("test", time.Hour, time.Now())
		defer k.Restore()
		status, _, body := h.do("POST", path, fileBody(files[1].URI), nil)
		if status != 424 || !strings.Contains(string(body), files[1].Name) {
			t.Fatalf("%d %s", status, body)
		}
	})

	t.Run("uploads", func(t *testing.T) {
		start := func(token string, size int) string {
			req, _ := http.NewRequest("POST", url+"/upload/v1beta/files", strings.NewReader(`{"file":{"display_name":"x"}}`))
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
			if resp.StatusCode != 200 {
				return strconv.Itoa(resp.StatusCode)
			}
			return resp.Header.Get("X-Goog-Upload-URL")
		}
		chunk := func(u, token, cmd string, offset int, data string) (int, http.Header, string) {
			req, _ := http.NewRequest("POST", u, strings.NewReader(data))
			req.Header.Set("x-goog-api-key", token)
			req.Header.Set("X-Goog-Upload-Command", cmd)
			req.Header.Set("X-Goog-Upload-Offset", strconv.Itoa(offset))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			return resp.StatusCode, resp.Header, b.String()
		}
		if got := start(testToken, 2<<20); got != "413" {
			t.Fatalf("start over files.max_upload: %s", got)
		}
		u := start(testToken, 10)
		if !strings.HasPrefix(u, url+"/upload/v1beta/files?upload_id=") {
			t.Fatalf("upload URL %q does not point at balance", u)
		}
		if status, _, body := chunk(u, otherToken, "upload, finalize", 0, "0123456789"); status != 404 {
			t.Fatalf("another token's chunk: %d %s", status, body)
		}
		if status, _, body := chunk(u, testToken, "upload", 3, "0123456789"); status != 400 {
			t.Fatalf("chunk at the wrong offset: %d %s", status, body)
		}
		if status, _, body := chunk(u, testToken, "upload, finalize", 0, "0123456789ABC"); status != 400 {
			t.Fatalf("chunk past the declared size: %d %s", status, body)
		}
		status, hdr, body := chunk(u, testToken, "upload, finalize", 0, "0123456789")
		if status != 200 || hdr.Get("X-Goog-Upload-Status") != "final" {
			t.Fatalf("final chunk: %d %v %s", status, hdr, body)
		}
		var got struct{ File struct{ Name string } }
		if err := json.Unmarshal([]byte(body), &got); err != nil || got.File.Name == "" {
			t.Fatalf("final answer %s: %v", body, err)
		}
		if status, _, _ := h.do("GET", "/v1beta/"+got.File.Name, "", nil); status != 200 {
			t.Fatalf("get the uploaded file: %d", status)
		}
	})

	t.Run("no key was blamed", func(t *testing.T) {
		for i, k := range filesKeys {
			if st := srv.Registry().Get(k).Status(time.Now()); st.State == "quarantined" {
				t.Fatalf("key %d quarantined: %s", i, st.QuarantineReason)
			}
		}
	})
}
