package imagehost

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// The hosted image services gemini-balance supported. Each takes one
// multipart/form-data POST holding the file and answers JSON naming the
// link.

// SMMS uploads to SM.MS (API v2): field "smfile", the token in
// Authorization, the link in data.url. A picture SM.MS already has is
// answered with code "image_repeated" and its link in "images".
type SMMS struct {
	UploadURL string
	Token     string
	Client    *http.Client
}

func (s *SMMS) Put(ctx context.Context, data []byte, mime string) (string, error) {
	body, err := post(ctx, s.Client, s.UploadURL, "smfile", data, mime, map[string]string{"Authorization": s.Token}, "sm.ms")
	if err != nil {
		return "", err
	}
	var r struct {
		Success bool   `json:"success"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Images  string `json:"images"`
		Data    struct {
			URL string `json:"url"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("sm.ms: unreadable answer: %w", err)
	}
	switch {
	case r.Success && r.Data.URL != "":
		return r.Data.URL, nil
	case r.Code == "image_repeated" && r.Images != "":
		return r.Images, nil
	}
	return "", fmt.Errorf("sm.ms refused the upload: %s (%s)", r.Message, r.Code)
}

// Chevereto uploads to a Chevereto site's API v1 (PicGo's
// www.picgo.net among them): field "source", the key in X-API-Key, the
// link in image.url.
type Chevereto struct {
	UploadURL string
	APIKey    string
	Client    *http.Client
}

func (c *Chevereto) Put(ctx context.Context, data []byte, mime string) (string, error) {
	body, err := post(ctx, c.Client, c.UploadURL, "source", data, mime, map[string]string{"X-API-Key": c.APIKey}, "picgo")
	if err != nil {
		return "", err
	}
	var r struct {
		StatusCode int `json:"status_code"`
		Image      struct {
			URL string `json:"url"`
		} `json:"image"`
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("picgo: unreadable answer: %w", err)
	}
	if r.StatusCode != http.StatusOK || r.Image.URL == "" {
		return "", fmt.Errorf("picgo refused the upload: %d %s", r.StatusCode, r.Error.Message)
	}
	return r.Image.URL, nil
}

// ImgBed uploads to a Cloudflare ImgBed (MarSeventh/CloudFlare-ImgBed):
// field "file", the upload auth code as ?authCode=, the link as
// [{"src":"/file/…"}] relative to the site, which returnFormat=full
// makes absolute on versions that know it.
type ImgBed struct {
	UploadURL string
	AuthCode  string
	Client    *http.Client
}

func (b *ImgBed) Put(ctx context.Context, data []byte, mime string) (string, error) {
	u, err := url.Parse(b.UploadURL)
	if err != nil {
		return "", fmt.Errorf("cloudflare_imgbed: %w", err)
	}
	q := u.Query()
	if b.AuthCode != "" {
		q.Set("authCode", b.AuthCode)
	}
	q.Set("returnFormat", "full")
	u.RawQuery = q.Encode()
	body, err := post(ctx, b.Client, u.String(), "file", data, mime, nil, "cloudflare_imgbed")
	if err != nil {
		return "", err
	}
	var r []struct {
		Src string `json:"src"`
	}
	if err := json.Unmarshal(body, &r); err != nil || len(r) == 0 || r[0].Src == "" {
		return "", fmt.Errorf("cloudflare_imgbed: unreadable answer %.200q", body)
	}
	src := r[0].Src
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		return src, nil
	}
	site := &url.URL{Scheme: u.Scheme, Host: u.Host}
	return site.String() + "/" + strings.TrimPrefix(src, "/"), nil
}

// post sends data as the multipart file field and returns the body of a
// 2xx answer.
func post(ctx context.Context, client *http.Client, target, field string, data []byte, mime string, headers map[string]string, service string) ([]byte, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, "image"+extension(mime)))
	h.Set("Content-Type", mime)
	part, err := mw.CreatePart(h)
	if err != nil {
		return nil, err
	}
	_, _ = part.Write(data)
	if err := mw.Close(); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, &buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", service, err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s upload: %w", service, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("%s upload: %w", service, err)
	}
	if res.StatusCode/100 != 2 {
		return nil, uploadError(service, res.StatusCode, body)
	}
	return body, nil
}
