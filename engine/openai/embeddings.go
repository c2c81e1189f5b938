package openai

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// EmbeddingsRequest is a validated /v1/embeddings request.
type EmbeddingsRequest struct {
	Model      string   // as the client named it (echoed in the answer)
	Inputs     []string // one embedding per input, in order
	Format     string   // "float" or "base64"
	Dimensions int      // 0 = model default
}

// maxEmbeddingInputs is OpenAI's own limit on inputs per request.
const maxEmbeddingInputs = 2048

// TranslateEmbeddingsRequest validates an OpenAI embeddings body. Token-id
// inputs (arrays of integers) are refused: Gemini cannot embed token ids.
func TranslateEmbeddingsRequest(body []byte) (*EmbeddingsRequest, *Error) {
	var in struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
		Dimensions     *int            `json:"dimensions"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, decodeError(err, "")
	}
	if in.Model == "" {
		return nil, badRequest("model", "you must provide a model parameter")
	}
	r := &EmbeddingsRequest{Model: in.Model, Format: in.EncodingFormat}
	switch in.EncodingFormat {
	case "":
		r.Format = "float"
	case "float", "base64":
	default:
		return nil, badRequest("encoding_format", "encoding_format must be float or base64, got %q", in.EncodingFormat)
	}
	if in.Dimensions != nil {
		if *in.Dimensions < 1 {
			return nil, badRequest("dimensions", "dimensions must be a positive integer")
		}
		r.Dimensions = *in.Dimensions
	}
	if !isSet(in.Input) {
		return nil, badRequest("input", "you must provide an input parameter")
	}
	var one string
	if json.Unmarshal(in.Input, &one) == nil {
		r.Inputs = []string{one}
	} else if err := json.Unmarshal(in.Input, &r.Inputs); err != nil {
		return nil, badRequest("input", "input must be a string or an array of strings (token arrays are not supported)")
	}
	if len(r.Inputs) == 0 || len(r.Inputs) > maxEmbeddingInputs {
		return nil, badRequest("input", "input must hold 1 to %d strings, got %d", maxEmbeddingInputs, len(r.Inputs))
	}
	for i, s := range r.Inputs {
		if s == "" {
			return nil, badRequest("input["+strconv.Itoa(i)+"]", "input strings must not be empty")
		}
	}
	return r, nil
}

// GeminiBody returns the :batchEmbedContents body for upstreamModel (the
// model after alias resolution; every inner request must name it).
func (r *EmbeddingsRequest) GeminiBody(upstreamModel string) []byte {
	size := 32
	for _, s := range r.Inputs {
		size += len(s) + len(upstreamModel) + 64
	}
	b := make([]byte, 0, size)
	b = append(b, `{"requests":[`...)
	for i, s := range r.Inputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"model":"models/`...)
		b = jsonw.AppendStringBody(b, upstreamModel)
		b = append(b, `","content":{"parts":[{"text":`...)
		b = jsonw.AppendString(b, s)
		b = append(b, `}]}`...)
		if r.Dimensions > 0 {
			b = append(b, `,"outputDimensionality":`...)
			b = appendInt(b, int64(r.Dimensions))
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// TranslateEmbeddingsResponse turns a :batchEmbedContents answer into
// OpenAI's list. With format "base64" each vector is base64 of little-endian
// float32 — what the OpenAI Node SDK asks for by default and decodes; float
// vectors are copied through as Gemini wrote them.
func (r *EmbeddingsRequest) TranslateEmbeddingsResponse(gemini []byte) ([]byte, error) {
	if !gjson.ValidBytes(gemini) {
		return nil, errInvalidUpstream
	}
	root := gjson.ParseBytes(gemini)
	embs := root.Get("embeddings")
	if !embs.IsArray() {
		return nil, errInvalidUpstream
	}
	b := make([]byte, 0, len(gemini)+128)
	b = append(b, `{"object":"list","data":[`...)
	i := 0
	var f32 []byte
	embs.ForEach(func(_, e gjson.Result) bool {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = appendInt(b, int64(i))
		b = append(b, `,"embedding":`...)
		vals := e.Get("values")
		if r.Format == "base64" {
			f32 = f32[:0]
			vals.ForEach(func(_, v gjson.Result) bool {
				f32 = binary.LittleEndian.AppendUint32(f32, math.Float32bits(float32(v.Float())))
				return true
			})
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, f32)
			b = append(b, '"')
		} else if vals.IsArray() {
			b = append(b, compactArray(vals.Raw)...)
		} else {
			b = append(b, "[]"...)
		}
		b = append(b, '}')
		i++
		return true
	})
	tokens := root.Get("usageMetadata.promptTokenCount").Int()
	b = append(b, `],"model":`...)
	b = jsonw.AppendString(b, r.Model)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = appendInt(b, tokens)
	b = append(b, `,"total_tokens":`...)
	b = appendInt(b, tokens)
	return append(b, "}}"...), nil
}

// compactArray strips whitespace from a JSON array of numbers (upstream
// bodies are pretty-printed; numbers contain no spaces).
func compactArray(raw string) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case ' ', '\n', '\r', '\t':
		default:
			out = append(out, c)
		}
	}
	return out
}
