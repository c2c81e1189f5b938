package imagehost

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// S3 uploads images to an S3-compatible bucket (AWS, R2, MinIO, B2, …)
// with a path-style PUT signed with AWS Signature Version 4. The signer
// is the few lines below rather than the AWS SDK: one PUT is all balance
// sends, and the SDK's module tree would outweigh the rest of balance.
type S3 struct {
	Endpoint  string // https://s3.us-east-1.amazonaws.com
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
	// PublicURL is the base of object links (a CDN or the bucket).
	PublicURL string
	Client    *http.Client
	// now is the signing clock; nil means time.Now.
	now func() time.Time
}

// Put uploads the image under a random key.
func (s *S3) Put(ctx context.Context, data []byte, mime string) (string, error) {
	var id [16]byte
	_, _ = rand.Read(id[:])
	key := hex.EncodeToString(id[:]) + extension(mime)
	u, err := url.Parse(strings.TrimSuffix(s.Endpoint, "/") + "/" + s.Bucket + "/" + key)
	if err != nil {
		return "", fmt.Errorf("s3: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("s3: %w", err)
	}
	req.Header.Set("Content-Type", mime)
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	s.sign(req, sha256Hex(data), now())
	res, err := s.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("s3 upload: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	if res.StatusCode/100 != 2 {
		return "", uploadError("s3", res.StatusCode, body)
	}
	return strings.TrimSuffix(s.PublicURL, "/") + "/" + key, nil
}

// sign adds the SigV4 headers (x-amz-date, x-amz-content-sha256,
// Authorization) for a request whose payload hashes to payloadHash. Every
// header already set, and Host, is signed.
func (s *S3) sign(req *http.Request, payloadHash string, t time.Time) {
	t = t.UTC()
	amzDate := t.Format("20060102T150405Z")
	day := t.Format("20060102")
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)

	headers := map[string]string{"host": req.URL.Host}
	for k, v := range req.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names)
	var canonHeaders strings.Builder
	for _, k := range names {
		canonHeaders.WriteString(k + ":" + strings.TrimSpace(headers[k]) + "\n")
	}
	signed := strings.Join(names, ";")
	canonical := strings.Join([]string{req.Method, uriEncodePath(req.URL.Path), canonicalQuery(req.URL.Query()),
		canonHeaders.String(), signed, payloadHash}, "\n")
	scope := day + "/" + s.Region + "/s3/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + sha256Hex([]byte(canonical))
	key := hmacSHA256([]byte("AWS4"+s.SecretKey), day)
	key = hmacSHA256(key, s.Region)
	key = hmacSHA256(key, "s3")
	key = hmacSHA256(key, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(key, toSign))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+s.AccessKey+"/"+scope+",SignedHeaders="+signed+",Signature="+sig)
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// uriEncodePath encodes a path as SigV4 wants: every byte but the
// unreserved ones and '/' percent-encoded, once.
func uriEncodePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' || c == '-' || c == '_' || c == '.' || c == '~' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// canonicalQuery is the sorted, encoded query string SigV4 signs.
func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, strings.ReplaceAll(url.QueryEscape(k), "+", "%20")+"="+strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		}
	}
	return strings.Join(parts, "&")
}
