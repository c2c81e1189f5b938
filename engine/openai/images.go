package openai

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// ImagesRequest is a validated /v1/images/generations request.
type ImagesRequest struct {
	Model  string
	Prompt string
	N      int
	// URL is set when the client asked for links (response_format url)
	// rather than base64.
	URL bool
	// Gemini is the Imagen :predict body.
	Gemini []byte
}

// TranslateImagesRequest validates an OpenAI image generation body and
// builds the Imagen :predict body: n → sampleCount (1-4), size →
// aspectRatio (nearest supported ratio), output_format → outputOptions.
// The model may be absent: the caller supplies its default.
func TranslateImagesRequest(body []byte) (*ImagesRequest, *Error) {
	var in struct {
		Model          string `json:"model"`
		Prompt         string `json:"prompt"`
		N              *int   `json:"n"`
		Size           string `json:"size"`
		ResponseFormat string `json:"response_format"`
		OutputFormat   string `json:"output_format"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, decodeError(err, "")
	}
	if strings.TrimSpace(in.Prompt) == "" {
		return nil, badRequest("prompt", "you must provide a prompt")
	}
	r := &ImagesRequest{Model: in.Model, Prompt: in.Prompt, N: 1}
	if in.N != nil {
		if *in.N < 1 || *in.N > 4 {
			return nil, badRequest("n", "n must be between 1 and 4 for Imagen, got %d", *in.N)
		}
		r.N = *in.N
	}
	switch in.ResponseFormat {
	case "", "b64_json":
	case "url":
		r.URL = true
	default:
		return nil, badRequest("response_format", "invalid response_format %q", in.ResponseFormat)
	}
	aspect := ""
	if in.Size != "" && in.Size != "auto" {
		a, ok := aspectRatio(in.Size)
		if !ok {
			return nil, badRequest("size", "invalid size %q: expected WIDTHxHEIGHT", in.Size)
		}
		aspect = a
	}
	mime := ""
	switch in.OutputFormat {
	case "":
	case "png":
		mime = "image/png"
	case "jpeg", "jpg":
		mime = "image/jpeg"
	default:
		return nil, badRequest("output_format", "output_format must be png or jpeg for Imagen, got %q", in.OutputFormat)
	}
	b := make([]byte, 0, len(in.Prompt)+128)
	b = append(b, `{"instances":[{"prompt":`...)
	b = jsonw.AppendString(b, in.Prompt)
	b = append(b, `}],"parameters":{"sampleCount":`...)
	b = appendInt(b, int64(r.N))
	if aspect != "" {
		b = append(b, `,"aspectRatio":"`...)
		b = append(b, aspect...)
		b = append(b, '"')
	}
	if mime != "" {
		b = append(b, `,"outputOptions":{"mimeType":"`...)
		b = append(b, mime...)
		b = append(b, `"}`...)
	}
	b = append(b, `,"includeRaiReason":true}}`...)
	r.Gemini = b
	return r, nil
}

var imagenRatios = []struct {
	name string
	r    float64
}{{"1:1", 1}, {"3:4", 0.75}, {"4:3", 4.0 / 3}, {"9:16", 9.0 / 16}, {"16:9", 16.0 / 9}}

// aspectRatio maps "WxH" to the nearest aspect ratio Imagen supports.
func aspectRatio(size string) (string, bool) {
	w, h, ok := strings.Cut(strings.ToLower(size), "x")
	if !ok {
		return "", false
	}
	wi, err1 := strconv.Atoi(w)
	hi, err2 := strconv.Atoi(h)
	if err1 != nil || err2 != nil || wi <= 0 || hi <= 0 {
		return "", false
	}
	r := float64(wi) / float64(hi)
	best, diff := "1:1", 1e9
	for _, c := range imagenRatios {
		d := r/c.r + c.r/r // symmetric in ratio space
		if d < diff {
			best, diff = c.name, d
		}
	}
	return best, true
}

// Image is one generated image: base64 data (aliasing the answer it was
// read from) and its mime type.
type Image struct {
	B64  string
	Mime string
}

// ImagePredictions reads the images of an Imagen :predict answer. If
// every image was filtered, the error is a 400 with code
// content_policy_violation, as OpenAI reports it.
func ImagePredictions(gemini []byte) ([]Image, error) {
	if !gjson.ValidBytes(gemini) {
		return nil, errInvalidUpstream
	}
	var images []Image
	reason := ""
	gjson.GetBytes(gemini, "predictions").ForEach(func(_, p gjson.Result) bool {
		data := p.Get("bytesBase64Encoded")
		if data.Type != gjson.String {
			if r := p.Get("raiFilteredReason").Str; r != "" {
				reason = r
			}
			return true
		}
		mime := p.Get("mimeType").Str
		if mime == "" {
			mime = "image/png"
		}
		images = append(images, Image{B64: data.Raw[1 : len(data.Raw)-1], Mime: mime}) // base64 needs no escaping
		return true
	})
	if len(images) == 0 {
		if reason == "" {
			reason = "the model returned no images"
		}
		return nil, &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "content_policy_violation", Message: reason}
	}
	return images, nil
}

// TranslateImagesResponse turns an Imagen :predict answer into OpenAI's
// {"created","data":[{"b64_json"}]}.
func TranslateImagesResponse(gemini []byte, created int64) ([]byte, error) {
	images, err := ImagePredictions(gemini)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(gemini)+64)
	b = append(b, `{"created":`...)
	b = appendInt(b, created)
	b = append(b, `,"data":[`...)
	for i, im := range images {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"b64_json":"`...)
		b = append(b, im.B64...)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...), nil
}

// ImagesURLResponse is OpenAI's {"created","data":[{"url"}]} answer.
func ImagesURLResponse(created int64, urls []string) []byte {
	b := make([]byte, 0, 64+len(urls)*96)
	b = append(b, `{"created":`...)
	b = appendInt(b, created)
	b = append(b, `,"data":[`...)
	for i, u := range urls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"url":`...)
		b = jsonw.AppendString(b, u)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}
