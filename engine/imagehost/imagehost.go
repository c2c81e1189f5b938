// Package imagehost keeps generated images where clients can fetch them
// by URL: in a local directory that balance serves itself at unguessable,
// expiring links, or on an upload service (an S3-compatible bucket,
// SM.MS, a Chevereto site such as PicGo, or a Cloudflare ImgBed).
//
// Chat apps show images by URL; a base64 data URL in every answer bloats
// histories and some clients cannot render it.
package imagehost

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/balanceproxy/balance/hcl"
)

// Host stores one image and returns the URL clients fetch it at.
type Host interface {
	Put(ctx context.Context, data []byte, mime string) (string, error)
}

// New builds the host an image_host block describes.
func New(cfg *hcl.ImageHost) Host {
	client := &http.Client{Timeout: cfg.Timeout}
	switch cfg.Kind {
	case hcl.ImageHostS3:
		return &S3{Endpoint: cfg.Endpoint, Region: cfg.Region, Bucket: cfg.Bucket, AccessKey: cfg.AccessKey,
			SecretKey: cfg.SecretKey, PublicURL: cfg.PublicURL, Client: client}
	case hcl.ImageHostSMMS:
		return &SMMS{UploadURL: cfg.UploadURL, Token: cfg.APIKey, Client: client}
	case hcl.ImageHostPicGo:
		return &Chevereto{UploadURL: cfg.UploadURL, APIKey: cfg.APIKey, Client: client}
	case hcl.ImageHostCloudflare:
		return &ImgBed{UploadURL: cfg.UploadURL, AuthCode: cfg.APIKey, Client: client}
	}
	return &Local{Dir: cfg.Dir, PublicURL: cfg.PublicURL, Retain: cfg.Retain}
}

// extension is the file extension for an image mime type.
func extension(mime string) string {
	switch strings.ToLower(strings.TrimSpace(strings.Split(mime, ";")[0])) {
	case "image/jpeg", "image/jpg":
		return ".jpg"
	case "image/webp":
		return ".webp"
	case "image/gif":
		return ".gif"
	}
	return ".png"
}

// mimeOf is the mime type of a file extension Local writes.
func mimeOf(ext string) string {
	switch ext {
	case ".jpg":
		return "image/jpeg"
	case ".webp":
		return "image/webp"
	case ".gif":
		return "image/gif"
	}
	return "image/png"
}

// uploadError describes a refused upload without quoting more of the
// service's answer than a line.
func uploadError(service string, status int, body []byte) error {
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return fmt.Errorf("%s upload failed: HTTP %d: %s", service, status, msg)
}
