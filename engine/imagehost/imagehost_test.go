package imagehost

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balanceproxy/balance/hcl"
)

// The examples of AWS's "Signature Calculations for the Authorization
// Header: Transferring Payload in a Single Chunk" (Amazon S3 API
// reference), with their published signatures.
func TestSigV4AWSExamples(t *testing.T) {
	s := &S3{AccessKey: "AKIAIOSFODNN7EXAMPLE", SecretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", Region: "us-east-1"}
	when := time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, method, url, payload, signed, sig string
		headers                                 map[string]string
	}{
		{"GET object", "GET", "https://examplebucket.s3.amazonaws.com/test.txt", "",
			"host;range;x-amz-content-sha256;x-amz-date", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
			map[string]string{"Range": "bytes=0-9"}},
		{"PUT object", "PUT", "https://examplebucket.s3.amazonaws.com/test$file.text", "Welcome to Amazon S3.",
			"date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class", "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
			map[string]string{"Date": "Fri, 24 May 2013 00:00:00 GMT", "X-Amz-Storage-Class": "REDUCED_REDUNDANCY"}},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.payload))
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		s.sign(req, sha256Hex([]byte(tc.payload)), when)
		want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=" + tc.signed + ",Signature=" + tc.sig
		if got := req.Header.Get("Authorization"); got != want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, want)
		}
	}
}

var png = []byte("\x89PNG\r\n\x1a\nnot really")

func TestLocalPutOpenExpire(t *testing.T) {
	dir := t.TempDir()
	l := New(&hcl.ImageHost{Kind: hcl.ImageHostLocal, Dir: dir, PublicURL: "https://b.example", Retain: time.Hour}).(*Local)
	link, err := l.Put(context.Background(), png, "image/png")
	if err != nil {
		t.Fatal(err)
	}
	name, ok := strings.CutPrefix(link, "https://b.example/images/")
	if !ok || len(name) != nameLen+len(".png") {
		t.Fatalf("link %s", link)
	}
	other, _ := l.Put(context.Background(), png, "image/jpeg")
	if other == link || !strings.HasSuffix(other, ".jpg") {
		t.Fatalf("second link %s", other)
	}
	path, mime, left, ok := l.Open(name, time.Now())
	if b, _ := os.ReadFile(path); !ok || mime != "image/png" || left <= 59*time.Minute || !bytes.Equal(b, png) {
		t.Fatalf("open: %v %s %v", ok, mime, left)
	}
	for _, bad := range []string{"../balance.db", strings.Repeat("A", nameLen) + ".png", name[:nameLen] + ".exe", "x.png", name + "/"} {
		if _, _, _, ok := l.Open(bad, time.Now()); ok {
			t.Errorf("%q opened", bad)
		}
	}
	// Past its retention the link is dead and the file gone.
	if _, _, _, ok := l.Open(name, time.Now().Add(61*time.Minute)); ok {
		t.Error("expired image served")
	}
	if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
		t.Errorf("expired file kept: %v", err)
	}
	if n, err := l.Sweep(time.Now()); err != nil || n != 0 {
		t.Errorf("sweep of fresh images deleted %d (%v)", n, err)
	}
	if n, err := l.Sweep(time.Now().Add(2 * time.Hour)); err != nil || n != 1 {
		t.Errorf("sweep deleted %d (%v), want the one left", n, err)
	}
}

// fakeService answers one upload the way the service's API documents it,
// after checking what the client sent.
func fakeService(t *testing.T, check func(r *http.Request, file []byte) bool, answer string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var file []byte
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			if err := r.ParseMultipartForm(1 << 20); err == nil {
				for _, fhs := range r.MultipartForm.File {
					f, _ := fhs[0].Open()
					file, _ = io.ReadAll(f)
				}
			}
		} else {
			file, _ = io.ReadAll(r.Body)
		}
		if !check(r, file) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"unexpected request"}`))
			return
		}
		_, _ = w.Write([]byte(answer))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestUploadServices(t *testing.T) {
	formFile := func(r *http.Request, field string) bool {
		return r.MultipartForm != nil && len(r.MultipartForm.File[field]) == 1 && r.MultipartForm.File[field][0].Header.Get("Content-Type") == "image/png"
	}
	cases := []struct {
		name  string
		cfg   func(url string) *hcl.ImageHost
		check func(r *http.Request, file []byte) bool
		reply string
		want  func(url string) string
	}{
		{"smms", func(u string) *hcl.ImageHost {
			return &hcl.ImageHost{Kind: hcl.ImageHostSMMS, UploadURL: u + "/api/v2/upload", APIKey: "smms-token"}
		}, func(r *http.Request, f []byte) bool {
			return r.URL.Path == "/api/v2/upload" && r.Header.Get("Authorization") == "smms-token" && formFile(r, "smfile") && bytes.Equal(f, png)
		}, `{"success":true,"code":"success","message":"Upload success.","data":{"file_id":0,"width":1,"height":1,"url":"https://s2.loli.net/2026/12/02/abc.png","delete":"https://sm.ms/delete/x"},"RequestId":"r"}`,
			func(string) string { return "https://s2.loli.net/2026/12/02/abc.png" }},
		{"smms repeated", func(u string) *hcl.ImageHost {
			return &hcl.ImageHost{Kind: hcl.ImageHostSMMS, UploadURL: u + "/api/v2/upload", APIKey: "smms-token"}
		}, func(r *http.Request, f []byte) bool { return formFile(r, "smfile") },
			`{"success":false,"code":"image_repeated","message":"Image upload repeated limit, this image exists at: https://s2.loli.net/old.png","images":"https://s2.loli.net/old.png"}`,
			func(string) string { return "https://s2.loli.net/old.png" }},
		{"picgo", func(u string) *hcl.ImageHost {
			return &hcl.ImageHost{Kind: hcl.ImageHostPicGo, UploadURL: u + "/api/1/upload", APIKey: "chv-key"}
		}, func(r *http.Request, f []byte) bool {
			return r.URL.Path == "/api/1/upload" && r.Header.Get("X-API-Key") == "chv-key" && formFile(r, "source") && bytes.Equal(f, png)
		}, `{"status_code":200,"success":{"message":"image uploaded","code":200},"image":{"url":"https://www.picgo.net/images/2026/12/02/abc.png","display_url":"x"},"status_txt":"OK"}`,
			func(string) string { return "https://www.picgo.net/images/2026/12/02/abc.png" }},
		{"cloudflare_imgbed", func(u string) *hcl.ImageHost {
			return &hcl.ImageHost{Kind: hcl.ImageHostCloudflare, UploadURL: u + "/upload", APIKey: "auth-code"}
		}, func(r *http.Request, f []byte) bool {
			return r.URL.Path == "/upload" && r.URL.Query().Get("authCode") == "auth-code" && formFile(r, "file") && bytes.Equal(f, png)
		}, `[{"src":"/file/abc123_image.png"}]`,
			func(u string) string { return u + "/file/abc123_image.png" }},
		{"s3", func(u string) *hcl.ImageHost {
			return &hcl.ImageHost{Kind: hcl.ImageHostS3, Endpoint: u, Region: "auto", Bucket: "pics", AccessKey: "AK", SecretKey: "SK", PublicURL: "https://cdn.example"}
		}, func(r *http.Request, f []byte) bool {
			auth := r.Header.Get("Authorization")
			return r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/pics/") && strings.HasSuffix(r.URL.Path, ".png") &&
				r.Header.Get("X-Amz-Content-Sha256") == sha256Hex(png) && r.Header.Get("Content-Type") == "image/png" &&
				strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AK/") && strings.Contains(auth, "/auto/s3/aws4_request,SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date,") &&
				bytes.Equal(f, png)
		}, ``, nil},
	}
	for _, tc := range cases {
		srv := fakeService(t, tc.check, tc.reply)
		cfg := tc.cfg(srv.URL)
		cfg.Timeout = 5 * time.Second
		link, err := New(cfg).Put(context.Background(), png, "image/png")
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.want == nil { // s3: a random key under the public URL
			if !strings.HasPrefix(link, "https://cdn.example/") || !strings.HasSuffix(link, ".png") {
				t.Errorf("%s: link %s", tc.name, link)
			}
			continue
		}
		if link != tc.want(srv.URL) {
			t.Errorf("%s: link %s, want %s", tc.name, link, tc.want(srv.URL))
		}
	}
	// A refusal is an error that says which service and why.
	srv := fakeService(t, func(*http.Request, []byte) bool { return true }, `{"success":false,"code":"unauthorized","message":"Unauthorized."}`)
	if _, err := New(&hcl.ImageHost{Kind: hcl.ImageHostSMMS, UploadURL: srv.URL, APIKey: "x", Timeout: time.Second}).Put(context.Background(), png, "image/png"); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("refusal: %v", err)
	}
	down := fakeService(t, func(*http.Request, []byte) bool { return false }, "")
	if _, err := New(&hcl.ImageHost{Kind: hcl.ImageHostS3, Endpoint: down.URL, Bucket: "b", Region: "r", Timeout: time.Second}).Put(context.Background(), png, "image/png"); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("s3 refusal: %v", err)
	}
}

// image_host.timeout bounds an upload: a stuck service fails the request
// instead of holding it.
func TestUploadTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(func() { close(release); srv.Close() })
	start := time.Now()
	_, err := New(&hcl.ImageHost{Kind: hcl.ImageHostPicGo, UploadURL: srv.URL, APIKey: "k", Timeout: 100 * time.Millisecond}).Put(context.Background(), png, "image/png")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("stuck upload: %v after %v", err, time.Since(start))
	}
}
