package hcl

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const imageHostBase = baseConfig + `
token "a" {
  secret = "sk-0123456789"
  pools  = ["main"]
}
`

func TestImageHostKinds(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, block string
		want        ImageHost
	}{
		{"local defaults", `image_host { public_url = "https://b.example/" }`,
			ImageHost{Kind: "local", PublicURL: "https://b.example", Dir: filepath.Join(dir, "data", "images"), Retain: 24 * time.Hour, Timeout: 30 * time.Second}},
		{"local", `image_host {
  kind       = "local"
  public_url = "http://10.0.0.5:8000"
  dir        = "pics"
  retain     = "2h"
}`, ImageHost{Kind: "local", PublicURL: "http://10.0.0.5:8000", Dir: filepath.Join(dir, "pics"), Retain: 2 * time.Hour, Timeout: 30 * time.Second}},
		{"s3", `image_host {
  kind       = "s3"
  endpoint   = "https://acc.r2.cloudflarestorage.com"
  region     = "auto"
  bucket     = "pics"
  access_key = "AK"
  secret_key = "SK"
  timeout    = "5s"
}`, ImageHost{Kind: "s3", Endpoint: "https://acc.r2.cloudflarestorage.com", Region: "auto", Bucket: "pics", AccessKey: "AK", SecretKey: "SK",
			PublicURL: "https://acc.r2.cloudflarestorage.com/pics", Timeout: 5 * time.Second}},
		{"smms", `image_host {
  kind    = "smms"
  api_key = "tok"
}`, ImageHost{Kind: "smms", UploadURL: "https://sm.ms/api/v2/upload", APIKey: "tok", Timeout: 30 * time.Second}},
		{"picgo", `image_host {
  kind       = "picgo"
  api_key    = "k"
  upload_url = "https://chv.example/api/1/upload"
}`, ImageHost{Kind: "picgo", UploadURL: "https://chv.example/api/1/upload", APIKey: "k", Timeout: 30 * time.Second}},
		{"cloudflare_imgbed", `image_host {
  kind       = "cloudflare_imgbed"
  upload_url = "https://img.example/upload"
}`, ImageHost{Kind: "cloudflare_imgbed", UploadURL: "https://img.example/upload", Timeout: 30 * time.Second}},
	} {
		cfg, err := LoadBytes(filepath.Join(dir, "b.hcl"), []byte(imageHostBase+tc.block), Options{})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if *cfg.ImageHost != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, *cfg.ImageHost, tc.want)
		}
	}
}

func TestImageSettingsErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"url output without host", `openai { image_output = "url" }`, "openai.image_output = \"url\" links generated images"},
		{"local needs public_url", `image_host {}`, "needs public_url"},
		{"unknown kind", `image_host { kind = "imgur" }`, `"imgur" is not one of`},
		{"attribute of another kind", `image_host {
  public_url = "https://b.example"
  bucket     = "x"
}`, `bucket is not read by an image_host of kind "local"`},
		{"s3 needs credentials", `image_host {
  kind     = "s3"
  endpoint = "https://s3.example"
  region   = "r"
  bucket   = "b"
}`, "needs access_key"},
		{"smms needs a key", `image_host { kind = "smms" }`, "needs api_key"},
		{"bad url", `image_host { public_url = "b.example" }`, "not an absolute http(s) URL"},
		{"short retain", `image_host {
  public_url = "https://b.example"
  retain     = "10s"
}`, "at least 1m"},
		{"empty speech model", `openai { speech_model = "" }`, "speech_model must name a Gemini TTS model"},
		{"status on the images route", `status {
  path  = "/images"
  token = "status-secret-1"
}`, `overlaps the API route "/images"`},
		{"status on the upload route", `status {
  path  = "/upload/status"
  token = "status-secret-1"
}`, `overlaps the API route "/upload"`},
		{"metrics on the download route", `metrics { path = "/download" }`, `overlaps the API route "/download"`},
	} {
		_, err := LoadBytes(filepath.Join(t.TempDir(), "b.hcl"), []byte(imageHostBase+tc.body), Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	cfg, err := LoadBytes(filepath.Join(t.TempDir(), "b.hcl"), []byte(imageHostBase+`openai {
  image_model  = "models/imagen-4.0-generate-001"
  speech_model = "gemini-3.1-flash-tts-preview"
}`), Options{})
	if err != nil || cfg.OpenAI.ImageModel != "imagen-4.0-generate-001" || cfg.OpenAI.SpeechModel != "gemini-3.1-flash-tts-preview" || cfg.ImageHost != nil {
		t.Errorf("openai models: %v %+v", err, cfg.OpenAI)
	}
	if eff, _ := cfg.EffectiveJSON(); !strings.Contains(string(eff), `"speech_model": "gemini-3.1-flash-tts-preview"`) {
		t.Errorf("balance config does not show speech_model: %s", eff)
	}
}
