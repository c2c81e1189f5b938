package mockgemini

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// Speech generation (TTS models) answers like Gemini's: responseModalities
// ["AUDIO"] and a prebuilt voice in, base64 16-bit mono little-endian PCM
// at 24 kHz out, in inlineData parts with mimeType
// "audio/L16;codec=pcm;rate=24000". The audio is a deterministic sine
// tone: 40 ms per character of the text, at a pitch set by the voice, so
// tests can tell voices apart and check lengths.

const (
	speechRate        = 24000
	speechMime        = "audio/L16;codec=pcm;rate=24000"
	speechPerRune     = speechRate * 40 / 1000 // samples per character
	speechMaxSamples  = speechRate * 20        // 20 s cap keeps answers small
	speechTokensPerS  = 25                     // Gemini counts 25 audio tokens a second
	speechAmplitude   = 0.3 * math.MaxInt16
	speechBaseHz      = 180
	speechHzPerVoice  = 10
	speechDefaultName = "Kore"
)

// speechVoices are Gemini's prebuilt voices; any other voiceName is a 400.
var speechVoices = []string{
	"Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede", "Callirrhoe", "Autonoe",
	"Enceladus", "Iapetus", "Umbriel", "Algieba", "Despina", "Erinome", "Algenib", "Rasalgethi", "Laomedeia", "Achernar",
	"Alnilam", "Schedar", "Gacrux", "Pulcherrima", "Achird", "Zubenelgenubi", "Vindemiatrix", "Sadachbia", "Sadaltager", "Sulafat",
}

// SpeechToneHz is the pitch of the mock's audio for a voice (0 for a
// voice it does not know), for tests that check which voice was asked for.
func SpeechToneHz(voice string) float64 {
	for i, v := range speechVoices {
		if v == voice {
			return float64(speechBaseHz + speechHzPerVoice*i)
		}
	}
	return 0
}

// asksForAudio is a cheap test for a request that wants AUDIO output.
func asksForAudio(body []byte) bool { return bytes.Contains(body, []byte(`"AUDIO"`)) }

// speechPlan is a decided speech answer: owned PCM and token counts.
type speechPlan struct {
	model        *modelInfo
	pcm          []byte
	promptTokens int
	responseID   [23]byte
}

// planSpeech validates a speech request as Gemini does and renders its
// audio. A TTS model must be asked for AUDIO only; any other model must
// not be asked for AUDIO at all.
func planSpeech(body []byte, m *modelInfo) (*speechPlan, *apiError) {
	root, e := parseObject(body)
	if e != nil {
		return nil, e
	}
	gen := root.Get("generationConfig")
	audio, other := false, []string{}
	gen.Get("responseModalities").ForEach(func(_, v gjson.Result) bool {
		if strings.EqualFold(v.Str, "AUDIO") {
			audio = true
		} else {
			other = append(other, strings.ToUpper(v.Str))
		}
		return true
	})
	if !m.tts {
		e := errBadRequest("The requested combination of response modalities (AUDIO) is not supported by the model. models/" + m.id + " accepts the following combination of response modalities:\n* TEXT\n")
		return nil, &e
	}
	if !audio || len(other) > 0 {
		asked := strings.Join(other, ", ")
		if asked == "" {
			asked = "TEXT"
		}
		e := errBadRequest("The requested combination of response modalities (" + asked + ") is not supported by the model. models/" + m.id + " accepts the following combination of response modalities:\n* AUDIO\n")
		return nil, &e
	}
	voice := gen.Get("speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName").Str
	if voice == "" {
		voice = speechDefaultName
	}
	hz := SpeechToneHz(voice)
	if hz == 0 {
		e := errBadRequest("Voice name " + voice + " is not supported. Please use one of the prebuilt voices.")
		return nil, &e
	}
	var text strings.Builder
	prompt := 0
	root.Get("contents").ForEach(func(_, c gjson.Result) bool {
		c.Get("parts").ForEach(func(_, p gjson.Result) bool {
			t := p.Get("text").Str
			prompt += tokens(len(t))
			text.WriteString(t)
			return true
		})
		return true
	})
	if text.Len() == 0 {
		e := errBadRequest("* GenerateContentRequest.contents: contents is not specified\n")
		return nil, &e
	}
	samples := min(utf8.RuneCountInString(text.String())*speechPerRune, speechMaxSamples)
	pcm := make([]byte, 2*samples)
	for i := range samples {
		v := int16(speechAmplitude * math.Sin(2*math.Pi*hz*float64(i)/speechRate))
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(v))
	}
	p := &speechPlan{model: m, pcm: pcm, promptTokens: prompt}
	responseIDInto(&p.responseID, m.id, body)
	return p, nil
}

// audioTokens is Gemini's count for n bytes of PCM.
func audioTokens(n int) int { return (n/2*speechTokensPerS + speechRate - 1) / speechRate }

// appendSpeech appends one compact response holding pcm as an audio part;
// cumBytes is the audio sent so far including pcm (usage is cumulative).
func (p *speechPlan) appendSpeech(dst, pcm []byte, cumBytes int, final bool) []byte {
	dst = append(dst, `{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"`+speechMime+`","data":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, pcm)
	dst = append(dst, `"}}],"role":"model"}`...)
	if final {
		dst = append(dst, `,"finishReason":"STOP"`...)
	}
	cand := audioTokens(cumBytes)
	dst = append(dst, `,"index":0}],"usageMetadata":{"promptTokenCount":`...)
	dst = appendInt(dst, p.promptTokens)
	dst = append(dst, `,"candidatesTokenCount":`...)
	dst = appendInt(dst, cand)
	dst = append(dst, `,"totalTokenCount":`...)
	dst = appendInt(dst, p.promptTokens+cand)
	dst = append(dst, `,"promptTokensDetails":[{"modality":"TEXT","tokenCount":`...)
	dst = appendInt(dst, p.promptTokens)
	dst = append(dst, `}],"candidatesTokensDetails":[{"modality":"AUDIO","tokenCount":`...)
	dst = appendInt(dst, cand)
	dst = append(dst, `}]},"modelVersion":`...)
	dst = jsonw.AppendMarshal(dst, p.model.id)
	dst = append(dst, `,"responseId":"`...)
	dst = append(dst, p.responseID[:]...)
	return append(dst, `"}`...)
}

// serveSpeech answers a generateContent call on a TTS model (or one that
// asks for AUDIO), whole or as a stream of n audio chunks.
func (s *Server) serveSpeech(ctx *fasthttp.RequestCtx, m *modelInfo, body []byte, stream bool, f framing, fault Fault) {
	p, e := planSpeech(body, m)
	if e != nil {
		s.writeError(ctx, *e, false)
		return
	}
	if !stream {
		writeCompact(ctx, p.appendSpeech(make([]byte, 0, len(p.pcm)*4/3+512), p.pcm, len(p.pcm), true))
		return
	}
	es := newEventStream(f)
	n := max(s.opts.StreamChunks, 1)
	chunk := (len(p.pcm)/2 + n - 1) / n * 2 // whole samples per chunk
	var b []byte
	for start := 0; start < len(p.pcm); start += chunk {
		end := min(start+chunk, len(p.pcm))
		b = p.appendSpeech(b[:0], p.pcm[start:end], end, end == len(p.pcm))
		es.add(b)
	}
	s.serveStream(ctx, es, fault)
}
