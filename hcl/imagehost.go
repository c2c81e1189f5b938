package hcl

import (
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Defaults of the OpenAI speech and image settings.
const (
	// DefaultSpeechModel serves OpenAI's TTS model names.
	DefaultSpeechModel = "gemini-2.5-flash-preview-tts"
	// ImagesPath is where balance serves the images it keeps (local
	// image host); no other endpoint may use it.
	ImagesPath = "/images"
	// DefaultImageRetain is how long a locally kept image lives.
	DefaultImageRetain = 24 * time.Hour
	// DefaultImageUploadTimeout bounds one upload to an image host.
	DefaultImageUploadTimeout = 30 * time.Second
)

// Default upload endpoints of the hosted image services.
var defaultUploadURLs = map[string]string{
	ImageHostSMMS:  "https://sm.ms/api/v2/upload",
	ImageHostPicGo: "https://www.picgo.net/api/1/upload",
}

// imageHostAttrs lists, per kind, the attributes that kind reads; any
// other kind-specific attribute set is an error, so a typo in kind never
// silently ignores a credential.
var imageHostAttrs = map[string][]string{
	ImageHostLocal:      {"public_url", "dir", "retain"},
	ImageHostS3:         {"public_url", "endpoint", "region", "bucket", "access_key", "secret_key", "timeout"},
	ImageHostSMMS:       {"upload_url", "api_key", "timeout"},
	ImageHostPicGo:      {"upload_url", "api_key", "timeout"},
	ImageHostCloudflare: {"upload_url", "api_key", "timeout"},
}

// buildImageHost reads the image_host block; ob is the openai block,
// whose image_output = "url" needs one.
func (l *loader) buildImageHost(ri *rawImageHost, b, ob *hclsyntax.Block, cfg *Config) *ImageHost {
	if ri == nil {
		if cfg.OpenAI.ImageOutput == "url" {
			l.errorf(attrRange(ob, "image_output"), "Image links need an image_host", "openai.image_output = \"url\" links generated images, so an image_host block must say where they are kept.")
		}
		return nil
	}
	h := &ImageHost{Kind: ImageHostLocal}
	if ri.Kind != nil {
		h.Kind = *ri.Kind
		kinds := []string{ImageHostLocal, ImageHostS3, ImageHostSMMS, ImageHostPicGo, ImageHostCloudflare}
		if !l.oneOfAt(h.Kind, kinds, attrRange(b, "kind"), "kind") {
			return h
		}
	}
	set := map[string]*string{
		"public_url": ri.PublicURL, "dir": ri.Dir, "retain": ri.Retain, "endpoint": ri.Endpoint, "region": ri.Region,
		"bucket": ri.Bucket, "access_key": ri.AccessKey, "secret_key": ri.SecretKey, "upload_url": ri.UploadURL, "api_key": ri.APIKey, "timeout": ri.Timeout,
	}
	allowed := imageHostAttrs[h.Kind]
	for name, v := range set {
		if v != nil && !slices.Contains(allowed, name) {
			l.errorf(attrRange(b, name), "Attribute not used by this kind", "%s is not read by an image_host of kind %q (it reads %s).", name, h.Kind, strings.Join(allowed, ", "))
		}
	}
	get := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	require := func(name string, v *string) string {
		if v == nil || *v == "" {
			l.errorf(blockRange(b), "Missing "+name, "An image_host of kind %q needs %s.", h.Kind, name)
			return ""
		}
		return *v
	}
	h.Timeout = l.duration(ri.Timeout, DefaultImageUploadTimeout, b, "timeout")
	switch h.Kind {
	case ImageHostLocal:
		h.PublicURL = l.httpURL(require("public_url", ri.PublicURL), b, "public_url")
		h.Dir = filepath.Join(cfg.Server.DataDir, "images")
		if ri.Dir != nil {
			h.Dir = l.files.abs(*ri.Dir)
		}
		h.Retain = l.duration(ri.Retain, DefaultImageRetain, b, "retain")
		if h.Retain < time.Minute && ri.Retain != nil {
			l.errorf(attrRange(b, "retain"), "Invalid retain", "retain must be at least 1m: a link must outlive the answer that carries it.")
		}
	case ImageHostS3:
		h.Endpoint = l.httpURL(require("endpoint", ri.Endpoint), b, "endpoint")
		h.Region = require("region", ri.Region)
		h.Bucket = require("bucket", ri.Bucket)
		h.AccessKey = require("access_key", ri.AccessKey)
		h.SecretKey = require("secret_key", ri.SecretKey)
		h.PublicURL = strings.TrimSuffix(h.Endpoint, "/") + "/" + h.Bucket
		if ri.PublicURL != nil {
			h.PublicURL = l.httpURL(*ri.PublicURL, b, "public_url")
		}
	case ImageHostCloudflare:
		h.UploadURL = l.httpURL(require("upload_url", ri.UploadURL), b, "upload_url")
		h.APIKey = get(ri.APIKey)
	default: // smms, picgo
		h.UploadURL = defaultUploadURLs[h.Kind]
		if ri.UploadURL != nil {
			h.UploadURL = l.httpURL(*ri.UploadURL, b, "upload_url")
		}
		h.APIKey = require("api_key", ri.APIKey)
	}
	return h
}

// httpURL checks an absolute http(s) URL and drops a trailing slash.
func (l *loader) httpURL(v string, b *hclsyntax.Block, attr string) string {
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.errorf(attrRange(b, attr), "Invalid "+attr, "%q is not an absolute http(s) URL.", v)
		return v
	}
	return strings.TrimSuffix(v, "/")
}
