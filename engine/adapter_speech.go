package engine

import (
	"bufio"
	"encoding/base64"
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/openai"
)

// speechAdapter is the front door of POST /v1/audio/speech, served by a
// Gemini TTS model: generateContent with AUDIO output, or
// streamGenerateContent when the client asks for stream_format. Gemini
// answers 16-bit mono PCM, which goes out as is (pcm) or behind a WAV
// header (wav).
type speechAdapter struct{}

func (speechAdapter) protocol() Protocol { return ProtoOpenAI }

func (speechAdapter) route(ctx *fasthttp.RequestCtx, c *call) *Failure {
	c.route, c.body = "audio.speech", true
	return allowOnly(ctx, fasthttp.MethodPost)
}

// parse reads the model, and streams when the client named a
// stream_format: a whole answer otherwise, since only newer TTS models
// stream upstream.
func (speechAdapter) parse(body []byte, c *call) *Failure {
	res := gjson.GetManyBytes(body, "model", "stream_format")
	c.model = ""
	if res[0].Type == gjson.String {
		c.model = res[0].Str
	}
	c.stream = res[1].Type == gjson.String && res[1].Str != ""
	return nil
}

func (speechAdapter) translate(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) (*fasthttp.Request, *Failure) {
	sr, terr := openai.TranslateSpeechRequest(ctx.Request.Body())
	if terr != nil {
		return nil, &Failure{Status: terr.Status, Message: terr.Message, Param: terr.Param}
	}
	// OpenAI's model names reach Gemini only through a model rule; one
	// no rule renamed gets the configured TTS model.
	if openai.IsOpenAISpeechModel(ex.model.Target) {
		ex.model.Target = rt.Config.OpenAI.SpeechModel
	}
	body := sr.Gemini
	if ex.model.editsBody() {
		edited, err := ex.model.editBody(body)
		if err != nil {
			return nil, fail(fasthttp.StatusBadRequest, "Invalid request: "+err.Error())
		}
		body = edited
	}
	c := &ex.call
	c.speech, c.stream = sr, sr.Stream != ""
	if c.stream {
		return geminiRequest(ex, "streamGenerateContent", body, true), nil
	}
	return geminiRequest(ex, "generateContent", body, false), nil
}

func (speechAdapter) reply(_ *Runtime, ex *exchange, up, resp *fasthttp.Response) *Failure {
	ex.usage, _ = parseUsage(up.Body())
	a, err := openai.ReadSpeechAudio(up.Body())
	if err != nil {
		return untranslatable(err)
	}
	if len(a.Chunks) == 0 {
		return noAudio(a)
	}
	size := 0
	for _, c := range a.Chunks {
		size += base64.StdEncoding.DecodedLen(len(c))
	}
	wav := ex.call.speech.Format == "wav"
	out := make([]byte, 0, size+openai.WAVHeaderSize)
	if wav {
		out = out[:openai.WAVHeaderSize] // written once the size is known
	}
	for _, c := range a.Chunks {
		n, err := base64.StdEncoding.Decode(out[len(out):len(out)+base64.StdEncoding.DecodedLen(len(c))], []byte(c))
		if err != nil {
			return untranslatable(err)
		}
		out = out[:len(out)+n]
	}
	if wav {
		openai.AppendWAVHeader(out[:0], a.Rate, uint32(len(out)-openai.WAVHeaderSize))
	}
	resp.Header.SetContentType(speechContentType(ex.call.speech.Format))
	resp.SetBodyRaw(out)
	return nil
}

// noAudio is the failure of an answer that holds no audio: a prompt
// Gemini refused, or an answer of another kind (a text model).
func noAudio(a openai.SpeechAudio) *Failure {
	if a.Blocked != "" {
		return &Failure{Status: fasthttp.StatusBadRequest, Message: "Gemini refused the input (" + a.Blocked + ")."}
	}
	return &Failure{Status: fasthttp.StatusBadGateway, Message: "The upstream answer holds no audio: is the model a Gemini TTS model?"}
}

func speechContentType(format string) string {
	if format == "wav" {
		return "audio/wav"
	}
	return "audio/pcm"
}

func (speechAdapter) sink(_ *Runtime, ex *exchange) eventSink {
	return &speechEvents{req: ex.call.speech}
}

// speechEvents turns Gemini stream events into audio for the client: the
// PCM bytes themselves (stream_format audio, after a WAV header of
// unknown length for wav) or speech.audio.delta SSE events carrying them
// in base64, ended by speech.audio.done with the usage.
type speechEvents struct {
	req     *openai.SpeechRequest
	started bool
	// scratch holds one event's decoded audio.
	scratch []byte
	usage   Usage
}

func (s *speechEvents) event(w *bufio.Writer, data []byte) error {
	if e := gjson.GetBytes(data, "error"); e.IsObject() {
		status := int(e.Get("code").Int())
		if status < 400 {
			status = fasthttp.StatusBadGateway
		}
		return &streamEnd{failure: &Failure{Status: status, Message: e.Get("message").Str, Upstream: append([]byte(nil), data...)}}
	}
	a, err := openai.ReadSpeechAudio(data)
	if err != nil {
		return &streamEnd{failure: untranslatable(err)}
	}
	if u, ok := parseUsage(data); ok {
		s.usage = u
	}
	if len(a.Chunks) == 0 {
		return nil
	}
	if !s.started {
		s.started = true
		if s.req.Format == "wav" {
			s.write(w, openai.AppendWAVHeader(s.scratch[:0], a.Rate, openai.WAVStreamingSize), "")
		}
	}
	for _, c := range a.Chunks {
		if s.req.Stream == "sse" {
			s.write(w, nil, c) // already base64
			continue
		}
		buf := s.scratch[:0]
		if n := base64.StdEncoding.DecodedLen(len(c)); cap(buf) < n {
			buf = make([]byte, 0, n)
		}
		n, err := base64.StdEncoding.Decode(buf[:cap(buf)], []byte(c))
		if err != nil {
			return &streamEnd{failure: untranslatable(err)}
		}
		s.scratch = buf
		s.write(w, buf[:n], "")
	}
	return nil
}

// write sends raw audio (or, on SSE, audio already in base64) to the
// client in the requested stream format.
func (s *speechEvents) write(w *bufio.Writer, raw []byte, b64 string) {
	if s.req.Stream != "sse" {
		_, _ = w.Write(raw)
		return
	}
	_, _ = w.WriteString(`data: {"type":"speech.audio.delta","audio":"`)
	if raw != nil {
		enc := base64.NewEncoder(base64.StdEncoding, w)
		_, _ = enc.Write(raw)
		_ = enc.Close()
	} else {
		_, _ = w.WriteString(b64)
	}
	_, _ = w.WriteString("\"}\n\n")
}

func (s *speechEvents) finish(w *bufio.Writer) error {
	if !s.started {
		return &streamEnd{failure: noAudio(openai.SpeechAudio{})}
	}
	if s.req.Stream != "sse" {
		return nil
	}
	b := append(s.scratch[:0], `data: {"type":"speech.audio.done","usage":{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(s.usage.PromptTokenCount), 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, int64(s.usage.CandidatesTokenCount), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(s.usage.TotalTokenCount), 10)
	b = append(b, "}}\n\n"...)
	_, err := w.Write(b)
	return err
}

func (s *speechEvents) contentType([]byte) []byte {
	if s.req.Stream == "sse" {
		return textEventStream
	}
	return []byte(speechContentType(s.req.Format))
}
