package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"google.golang.org/genai"

	"github.com/balanceproxy/balance/engine/status"
)

// multipartUpload uploads data in one multipart request through balance
// and returns the status and the request body's size.
func multipartUpload(t *testing.T, base, token string, data []byte) (int, int64) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	meta, _ := w.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
	fmt.Fprint(meta, `{"file":{"displayName":"one shot","mimeType":"text/plain"}}`)
	part, _ := w.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain"}})
	_, _ = part.Write(data)
	w.Close()
	n := int64(body.Len())
	req, _ := http.NewRequest("POST", base+"/upload/v1beta/files", &body)
	req.Header.Set("x-goog-api-key", token)
	req.Header.Set("X-Goog-Upload-Protocol", "multipart")
	req.Header.Set("Content-Type", "multipart/related; boundary="+w.Boundary())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, n
}

// Uploads and their bytes are request stats: a resumable upload with the
// Go SDK (a start, then one chunk that finalizes) and a multipart one each
// count once, with the body bytes balance passed to Google, in the status
// JSON's totals and per key and token, on SQLite and on MySQL.
func TestUploadsInRequestStats(t *testing.T) {
	for _, driver := range []string{"sqlite", "mysql"} {
		t.Run(driver, func(t *testing.T) {
			blocks := statusBlocks
			if driver == "mysql" {
				blocks = strings.Replace(statusBlocks, `driver = "sqlite"
  path   = "stats.db"`, `driver = "mysql"
  dsn    = "`+freshMySQL(t, "balance_uploads_")+`"`, 1)
			}
			h := newStatusHarness(t, blocks)
			data := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640000 bytes
			f, err := genaiClient(t, h.url, testToken).Files.Upload(context.Background(), bytes.NewReader(data), &genai.UploadFileConfig{MIMEType: "text/plain"})
			if err != nil {
				t.Fatalf("upload: %v", err)
			}
			code, multipartBytes := multipartUpload(t, h.url, testToken, []byte("a small note"))
			if code != 200 {
				t.Fatalf("multipart upload: %d", code)
			}
			info, _ := h.mock.File(f.Name)
			v := h.waitWritten(3) // start, chunk, multipart
			st := v.Stats["1h"]
			if st == nil {
				t.Fatalf("no stats: %s", v.StatsError)
			}
			wantBytes := int64(len(data)) + multipartBytes
			if st.Total.Uploads != 2 || st.Total.UploadBytes != wantBytes {
				t.Fatalf("total: %d uploads, %d bytes; want 2, %d", st.Total.Uploads, st.Total.UploadBytes, wantBytes)
			}
			row := func(rows []status.StatsRow, name string) status.StatsRow {
				for _, r := range rows {
					if r.Name == name {
						return r
					}
				}
				return status.StatsRow{}
			}
			if r := row(st.ByToken, "tester"); r.Uploads != 2 || r.UploadBytes != wantBytes {
				t.Fatalf("token row: %+v", r)
			}
			if r := row(st.ByKey, h.srv.Registry().Get(info.Key).FP); r.Uploads < 1 || r.UploadBytes < int64(len(data)) {
				t.Fatalf("the resumable upload's key row: %+v", r)
			}
		})
	}
}
