package engine

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/openai"
)

// speechAdapter is the front door of POST /v1/audio/speech, served by a
// Gemini TTS model: generateContent with AUDIO output, or
// streamGenerateContent when the client asks for stream_format. Gemini
// answers 16-bit mono PCM, which an openai.SpeechEncoder turns into the
// response_format (mp3, opus, flac, wav, pcm).
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
	pcm := make([]byte, 0, size)
	for _, c := range a.Chunks {
		n, err := base64.StdEncoding.Decode(pcm[len(pcm):len(pcm)+base64.StdEncoding.DecodedLen(len(c))], []byte(c))
		if err != nil {
			return untranslatable(err)
		}
		pcm = pcm[:len(pcm)+n]
	}
	format := ex.call.speech.Format
	out := bytes.NewBuffer(make([]byte, 0, encodedSize(format, len(pcm))))
	enc, err := openai.NewSpeechEncoder(format, out, a.Rate, len(pcm))
	if err == nil {
		err = enc.Write(pcm)
	}
	if err == nil {
		err = enc.Close()
	}
	if err != nil {
		return encodeFailure(format, err)
	}
	resp.Header.SetContentType(openai.SpeechContentType(format))
	resp.SetBodyRaw(out.Bytes())
	return nil
}

// encodedSize guesses the size of pcm bytes of audio in format, to size
// the answer's buffer once: the PCM formats exactly, the codecs at most
// (FLAC rarely grows speech, shine's 128 kbps is a sixth of 24 kHz PCM,
// Opus far less).
func encodedSize(format string, pcm int) int {
	switch format {
	case "pcm":
		return pcm
	case "mp3":
		return pcm/6 + 4096
	case "opus":
		return pcm/12 + 4096
	}
	return pcm + openai.WAVHeaderSize
}

// encodeFailure is the failure of an encoder: balance could not turn
// Gemini's audio into the requested format (a sample rate the codec does
// not carry).
func encodeFailure(format string, err error) *Failure {
	return &Failure{Status: fasthttp.StatusBadGateway, Message: "Encoding the upstream audio as " + format + " failed: " + err.Error()}
}

// noAudio is the failure of an answer that holds no audio: a prompt
// Gemini refused, or an answer of another kind (a text model).
func noAudio(a openai.SpeechAudio) *Failure {
	if a.Blocked != "" {
		return &Failure{Status: fasthttp.StatusBadRequest, Message: "Gemini refused the input (" + a.Blocked + ")."}
	}
	return &Failure{Status: fasthttp.StatusBadGateway, Message: "The upstream answer holds no audio: is the model a Gemini TTS model?"}
}

func (speechAdapter) sink(_ *Runtime, ex *exchange) eventSink {
	return &speechEvents{req: ex.call.speech}
}

// speechEvents turns Gemini stream events into audio for the client:
// each event's PCM goes through the format's encoder, and what the
// encoder completes goes out at once, as bytes (stream_format audio) or
// as a speech.audio.delta SSE event carrying them in base64; SSE ends
// with speech.audio.done and the usage.
type speechEvents struct {
	req *openai.SpeechRequest
	enc openai.SpeechEncoder
	// out collects what the encoder completes during one event.
	out bytes.Buffer
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
	if s.enc == nil {
		if s.enc, err = openai.NewSpeechEncoder(s.req.Format, &s.out, a.Rate, -1); err != nil {
			return &streamEnd{failure: encodeFailure(s.req.Format, err)}
		}
	}
	for _, c := range a.Chunks {
		buf := s.scratch[:0]
		if n := base64.StdEncoding.DecodedLen(len(c)); cap(buf) < n {
			buf = make([]byte, 0, n)
		}
		n, err := base64.StdEncoding.Decode(buf[:cap(buf)], []byte(c))
		if err != nil {
			return &streamEnd{failure: untranslatable(err)}
		}
		s.scratch = buf
		if err := s.enc.Write(buf[:n]); err != nil {
			return &streamEnd{failure: encodeFailure(s.req.Format, err)}
		}
	}
	s.send(w)
	return nil
}

// send writes what the encoder has completed to the client in the
// requested stream format.
func (s *speechEvents) send(w *bufio.Writer) {
	if s.out.Len() == 0 {
		return
	}
	if s.req.Stream != "sse" {
		_, _ = w.Write(s.out.Bytes())
	} else {
		_, _ = w.WriteString(`data: {"type":"speech.audio.delta","audio":"`)
		enc := base64.NewEncoder(base64.StdEncoding, w)
		_, _ = enc.Write(s.out.Bytes())
		_ = enc.Close()
		_, _ = w.WriteString("\"}\n\n")
	}
	s.out.Reset()
}

func (s *speechEvents) finish(w *bufio.Writer) error {
	if s.enc == nil {
		return &streamEnd{failure: noAudio(openai.SpeechAudio{})}
	}
	if err := s.enc.Close(); err != nil {
		return &streamEnd{failure: encodeFailure(s.req.Format, err)}
	}
	s.send(w)
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
	return []byte(openai.SpeechContentType(s.req.Format))
}
