package engine_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
)

// imagesConfig is a proxy config with extra blocks; public links point
// at a made-up public host, and tests fetch them from the proxy itself.
func imagesConfig(extra string) string {
	return fmt.Sprintf(`
upstream "mock" { base_url = "%%MOCK%%" }
pool "main" {
  upstream = "mock"
  keys     = [%q]
}
token "tester" {
  secret = %q
  pools  = ["main"]
}
token "textonly" {
  secret = "sk-text-only-token"
  pools  = ["main"]
  models = ["gemini-*"]
}
%s`, keyA, testToken, extra)
}

const publicBase = "https://img.example"

// fetchLink gets a link of the local image store from the proxy, with no
// credential, as a browser showing a chat answer would.
func fetchLink(t *testing.T, h *harness, link string) (int, string, []byte) {
	t.Helper()
	path, ok := strings.CutPrefix(link, publicBase)
	if !ok {
		t.Fatalf("link %q is not under %s", link, publicBase)
	}
	res, err := http.Get(h.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), b
}

func TestImagesDefaultModelAndLinks(t *testing.T) {
	h := newHarness(t, []string{keyA}, imagesConfig(`
openai { image_model = "imagen-4.0-fast-generate-001" }
image_host {
  public_url = "`+publicBase+`/"
  dir        = "`+t.TempDir()+`"
}
`))
	ctx := context.Background()
	for _, base := range []string{"/v1", "/hf/v1"} {
		c := openAIClient(h, base)
		// No model: the configured default serves it.
		b64, err := c.Images.Generate(ctx, oai.ImageGenerateParams{Prompt: "a red bicycle"})
		if err != nil || len(b64.Data) != 1 || b64.Data[0].B64JSON == "" {
			t.Fatalf("%s default model: %v %+v", base, err, b64)
		}
		if p := h.mock.LastRequest().Path; !strings.HasSuffix(p, "/imagen-4.0-fast-generate-001:predict") {
			t.Errorf("no model went to %s", p)
		}
		want, _ := base64.StdEncoding.DecodeString(b64.Data[0].B64JSON)

		res, err := c.Images.Generate(ctx, oai.ImageGenerateParams{Model: "imagen-4.0-generate-001", Prompt: "two cats", N: oai.Int(2),
			ResponseFormat: oai.ImageGenerateParamsResponseFormatURL})
		if err != nil || len(res.Data) != 2 {
			t.Fatalf("%s url: %v %+v", base, err, res)
		}
		if res.Data[0].URL == res.Data[1].URL {
			t.Errorf("two images, one link: %s", res.Data[0].URL)
		}
		for _, d := range res.Data {
			if !regexp.MustCompile(`^https://img\.example/images/[A-Za-z0-9_-]{22}\.png$`).MatchString(d.URL) {
				t.Errorf("link %q", d.URL)
			}
			status, ct, body := fetchLink(t, h, d.URL)
			if status != 200 || ct != "image/png" || !bytes.Equal(body, want) {
				t.Errorf("GET %s: %d %s, %d bytes", d.URL, status, ct, len(body))
			}
			if _, err := png.Decode(bytes.NewReader(body)); err != nil {
				t.Errorf("served image is no PNG: %v", err)
			}
		}
	}
	// A guessed or mangled name is a 404 like an expired one.
	for _, p := range []string{"/images/AAAAAAAAAAAAAAAAAAAAAA.png", "/images/../balance.hcl", "/images/"} {
		if res, err := http.Get(h.url + p); err != nil || res.StatusCode != 404 {
			t.Errorf("GET %s: %v %v", p, err, res.StatusCode)
		}
	}
	// The default model is checked against the token like a named one.
	status, _, body := h.do("POST", "/v1/images/generations", `{"prompt":"a dog"}`, map[string]string{"Authorization": "Bearer sk-text-only-token"})
	if status != 403 || !strings.Contains(string(body), "imagen-4.0-fast-generate-001") {
		t.Errorf("default model past the token's models: %d %s", status, body)
	}
}

func TestImagesWithoutDefaultOrHost(t *testing.T) {
	h := newHarness(t, []string{keyA}, imagesConfig(""))
	for _, tc := range []struct{ body, param string }{
		{`{"prompt":"a dog"}`, "model"},
		{`{"model":"imagen-4.0-generate-001","prompt":"a dog","response_format":"url"}`, "response_format"},
	} {
		before := h.mock.Total()
		status, _, body := h.do("POST", "/v1/images/generations", tc.body, nil)
		if status != 400 || !strings.Contains(string(body), `"param":"`+tc.param+`"`) || h.mock.Total() != before {
			t.Errorf("%s: %d %s (upstream calls %d)", tc.body, status, body, h.mock.Total()-before)
		}
	}
	if res, err := http.Get(h.url + "/images/AAAAAAAAAAAAAAAAAAAAAA.png"); err != nil || res.StatusCode != 404 {
		t.Errorf("image route without a store: %v", err)
	}
}

func TestChatImagesAsLinks(t *testing.T) {
	h := newHarness(t, []string{keyA}, imagesConfig(`
model "gemini-2.5-flash-image" { image = true }
openai { image_output = "url" }
image_host {
  public_url = "`+publicBase+`"
  dir        = "`+t.TempDir()+`"
  retain     = "2h"
}
`))
	c := openAIClient(h, "/v1")
	res, err := c.Chat.Completions.New(context.Background(), oai.ChatCompletionNewParams{Model: "gemini-2.5-flash-image",
		Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("draw a cat")}})
	if err != nil {
		t.Fatal(err)
	}
	content := res.Choices[0].Message.Content
	m := regexp.MustCompile(`!\[image\]\((https://img\.example/images/[A-Za-z0-9_-]{22}\.png)\)`).FindStringSubmatch(content)
	if m == nil || strings.Contains(content, "data:image") {
		t.Fatalf("content %q", content)
	}
	status, ct, body := fetchLink(t, h, m[1])
	if status != 200 || ct != "image/png" {
		t.Fatalf("GET %s: %d %s", m[1], status, ct)
	}
	if _, err := png.Decode(bytes.NewReader(body)); err != nil {
		t.Errorf("served image is no PNG: %v", err)
	}
	res2, err := http.Get(h.url + strings.TrimPrefix(m[1], publicBase))
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if cc := res2.Header.Get("Cache-Control"); !regexp.MustCompile(`^private, max-age=(71|72)\d\d$`).MatchString(cc) {
		t.Errorf("Cache-Control %q: the link lives 2h", cc)
	}
}

func TestImagenThroughChat(t *testing.T) {
	h := newHarness(t, []string{keyA}, imagesConfig(`
model "imagen-4.0-generate-001-chat" {
  target      = "imagen-4.0-generate-001"
  imagen_chat = true
}
`))
	c := openAIClient(h, "/v1")
	ctx := context.Background()
	msgs := []oai.ChatCompletionMessageParamUnion{oai.SystemMessage("ignored"), oai.UserMessage("draw a lighthouse")}
	res, err := c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{Model: "imagen-4.0-generate-001-chat", Messages: msgs, N: oai.Int(2)})
	if err != nil {
		t.Fatal(err)
	}
	up := h.mock.LastRequest()
	if !strings.HasSuffix(up.Path, "/imagen-4.0-generate-001:predict") || !strings.Contains(string(up.Body), `"prompt":"draw a lighthouse"`) || !strings.Contains(string(up.Body), `"sampleCount":2`) {
		t.Fatalf("upstream %s %s", up.Path, up.Body)
	}
	content := res.Choices[0].Message.Content
	if n := strings.Count(content, "![image](data:image/png;base64,"); n != 2 || res.Choices[0].FinishReason != "stop" || res.Model != "imagen-4.0-generate-001-chat" {
		t.Fatalf("%d images in %.200q, finish %q, model %q", n, content, res.Choices[0].FinishReason, res.Model)
	}
	stream := c.Chat.Completions.NewStreaming(ctx, oai.ChatCompletionNewParams{Model: "imagen-4.0-generate-001-chat", Messages: msgs})
	var text strings.Builder
	finish := ""
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			text.WriteString(ch.Delta.Content)
			if ch.FinishReason != "" {
				finish = ch.FinishReason
			}
		}
	}
	if err := stream.Err(); err != nil || strings.Count(text.String(), "![image](data:image/png;base64,") != 1 || finish != "stop" {
		t.Fatalf("stream: %v %.120q finish %q", err, text.String(), finish)
	}
	// No text to draw: a 400 before any upstream call.
	before := h.mock.Total()
	status, _, body := h.do("POST", "/v1/chat/completions", `{"model":"imagen-4.0-generate-001-chat","messages":[{"role":"user","content":" "}]}`, nil)
	if status != 400 || !strings.Contains(string(body), "user message with text") || h.mock.Total() != before {
		t.Errorf("empty prompt: %d %s", status, body)
	}
}
