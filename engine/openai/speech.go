package openai

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// SpeechRequest is a validated /v1/audio/speech request.
type SpeechRequest struct {
	// Voice is the Gemini prebuilt voice the request maps to.
	Voice string
	// Format is one of SpeechFormats.
	Format string
	// Stream is "" (one whole answer), "audio" (the audio bytes as they
	// come) or "sse" (speech.audio.delta events).
	Stream string
	// Gemini is the generateContent body.
	Gemini []byte
}

// SpeechFormats are the response_format values balance produces from
// Gemini's 24 kHz 16-bit mono PCM (speechencode.go says with what). aac
// has no pure-Go encoder and is refused by name.
var SpeechFormats = []string{"mp3", "opus", "flac", "wav", "pcm"}

// SpeechContentType is the Content-Type of a response_format.
func SpeechContentType(format string) string {
	switch format {
	case "mp3":
		return "audio/mpeg"
	case "opus":
		return "audio/ogg"
	case "flac":
		return "audio/flac"
	case "wav":
		return "audio/wav"
	}
	return "audio/pcm"
}

// maxSpeechInput is OpenAI's limit on input, in characters.
const maxSpeechInput = 4096

// GeminiVoices are Gemini's prebuilt TTS voices.
var GeminiVoices = []string{
	"Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede", "Callirrhoe", "Autonoe",
	"Enceladus", "Iapetus", "Umbriel", "Algieba", "Despina", "Erinome", "Algenib", "Rasalgethi", "Laomedeia", "Achernar",
	"Alnilam", "Schedar", "Gacrux", "Pulcherrima", "Achird", "Zubenelgenubi", "Vindemiatrix", "Sadachbia", "Sadaltager", "Sulafat",
}

// openAIVoices maps OpenAI's built-in voices to the Gemini voice closest
// in character (Google describes each: Kore firm, Puck upbeat, …).
var openAIVoices = map[string]string{
	"alloy": "Zephyr", "ash": "Orus", "ballad": "Algieba", "coral": "Aoede", "echo": "Charon",
	"fable": "Fenrir", "nova": "Kore", "onyx": "Alnilam", "sage": "Sulafat", "shimmer": "Leda",
	"verse": "Puck", "marin": "Achernar", "cedar": "Iapetus",
}

// IsOpenAISpeechModel reports whether model is one of OpenAI's TTS model
// names, which only a model rule or openai.speech_model can serve.
func IsOpenAISpeechModel(model string) bool {
	return model == "tts-1" || model == "tts-1-hd" || strings.HasPrefix(model, "gpt-4o-mini-tts")
}

// TranslateSpeechRequest validates an OpenAI speech body and builds the
// Gemini generateContent body: AUDIO output in the mapped prebuilt voice.
// instructions and speed become a spoken-style direction in front of the
// text, the way Google's TTS guide steers delivery ("Say cheerfully:
// …"): Gemini has no speed parameter, so the pace is the model's reading
// of "at N times the normal pace".
func TranslateSpeechRequest(body []byte) (*SpeechRequest, *Error) {
	var in struct {
		Model          string          `json:"model"`
		Input          *string         `json:"input"`
		Voice          json.RawMessage `json:"voice"`
		Instructions   string          `json:"instructions"`
		ResponseFormat string          `json:"response_format"`
		Speed          *float64        `json:"speed"`
		StreamFormat   string          `json:"stream_format"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, decodeError(err, "")
	}
	if in.Model == "" {
		return nil, badRequest("model", "you must provide a model parameter")
	}
	if in.Input == nil || strings.TrimSpace(*in.Input) == "" {
		return nil, badRequest("input", "you must provide a non-empty input")
	}
	if n := len([]rune(*in.Input)); n > maxSpeechInput {
		return nil, badRequest("input", "input is %d characters long; the maximum is %d", n, maxSpeechInput)
	}
	voice, verr := speechVoice(in.Voice)
	if verr != nil {
		return nil, verr
	}
	r := &SpeechRequest{Voice: voice, Format: in.ResponseFormat, Stream: in.StreamFormat}
	if r.Format == "" {
		r.Format = "mp3" // OpenAI's default
	}
	if !slices.Contains(SpeechFormats, r.Format) {
		return nil, badRequest("response_format", "response_format %q is not supported; supported: %s (24 kHz mono)", r.Format, strings.Join(SpeechFormats, ", "))
	}
	switch r.Stream {
	case "", "audio", "sse":
	default:
		return nil, badRequest("stream_format", "invalid stream_format %q; supported: audio, sse", r.Stream)
	}
	direction := strings.TrimRight(strings.TrimSpace(in.Instructions), ".:; ")
	if in.Speed != nil {
		s := *in.Speed
		if math.IsNaN(s) || s < 0.25 || s > 4 {
			return nil, badRequest("speed", "speed must be between 0.25 and 4.0, got %v", s)
		}
		if s != 1 {
			pace := "at " + strconv.FormatFloat(s, 'g', 3, 64) + " times the normal speaking pace"
			if direction != "" {
				direction += ", " + pace
			} else {
				direction = "Read " + pace
			}
		}
	}
	text := *in.Input
	if direction != "" {
		text = direction + ": " + text
	}
	b := make([]byte, 0, len(text)+192)
	b = append(b, `{"contents":[{"role":"user","parts":[{"text":`...)
	b = jsonw.AppendString(b, text)
	b = append(b, `}]}],"generationConfig":{"responseModalities":["AUDIO"],"speechConfig":{"voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"`...)
	b = append(b, voice...)
	b = append(b, `"}}}}}`...)
	r.Gemini = b
	return r, nil
}

// speechVoice maps the request's voice to a Gemini prebuilt voice: an
// OpenAI voice name, or a Gemini voice name in any letter case.
func speechVoice(raw json.RawMessage) (string, *Error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", badRequest("voice", "you must provide a voice; supported: %s", voiceList())
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", badRequest("voice", "custom voices ({\"id\": …}) are not supported; use one of: %s", voiceList())
	}
	if v, ok := openAIVoices[strings.ToLower(name)]; ok {
		return v, nil
	}
	for _, v := range GeminiVoices {
		if strings.EqualFold(v, name) {
			return v, nil
		}
	}
	return "", badRequest("voice", "voice %q is not supported; supported: %s", name, voiceList())
}

func voiceList() string {
	names := make([]string, 0, len(openAIVoices)+len(GeminiVoices))
	for k := range openAIVoices {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(append(names, GeminiVoices...), ", ")
}

// DefaultSampleRate is the rate of Gemini's TTS output when its mime type
// names none.
const DefaultSampleRate = 24000

// SampleRate reads the rate from an audio mime type such as
// "audio/L16;codec=pcm;rate=24000".
func SampleRate(mime string) int {
	for _, p := range strings.Split(mime, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "rate") {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return n
			}
		}
	}
	return DefaultSampleRate
}

// WAVHeaderSize is the size of the header AppendWAVHeader writes.
const WAVHeaderSize = 44

// WAVStreamingSize is the data size a WAV header announces for a stream
// whose length is not known yet: the largest value, which players read
// as "until the end of the file".
const WAVStreamingSize = math.MaxUint32 - (WAVHeaderSize - 8)

// AppendWAVHeader appends the 44-byte RIFF/WAVE header of dataSize bytes
// of 16-bit mono little-endian PCM at rate Hz.
func AppendWAVHeader(b []byte, rate int, dataSize uint32) []byte {
	const channels, bits = 1, 16
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, dataSize+WAVHeaderSize-8)
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16) // fmt chunk size
	b = binary.LittleEndian.AppendUint16(b, 1)  // PCM
	b = binary.LittleEndian.AppendUint16(b, channels)
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*channels*bits/8)) // byte rate
	b = binary.LittleEndian.AppendUint16(b, channels*bits/8)              // block align
	b = binary.LittleEndian.AppendUint16(b, bits)
	b = append(b, "data"...)
	return binary.LittleEndian.AppendUint32(b, dataSize)
}

// SpeechAudio is the audio of one Gemini answer (or stream event): the
// base64 data of each audio inlineData part, in order, and its rate.
type SpeechAudio struct {
	Chunks []string
	Rate   int
	// Blocked is the promptFeedback.blockReason of a refused prompt.
	Blocked string
}

// ReadSpeechAudio finds the audio parts of a GenerateContentResponse.
// The chunks alias gemini.
func ReadSpeechAudio(gemini []byte) (SpeechAudio, error) {
	if !gjson.ValidBytes(gemini) {
		return SpeechAudio{}, errInvalidUpstream
	}
	a := SpeechAudio{Rate: DefaultSampleRate}
	root := gjson.ParseBytes(gemini)
	a.Blocked = root.Get("promptFeedback.blockReason").Str
	root.Get("candidates.0.content.parts").ForEach(func(_, p gjson.Result) bool {
		d := p.Get("inlineData")
		if !d.Exists() {
			d = p.Get("inline_data")
		}
		mime := d.Get("mimeType").Str
		if mime == "" {
			mime = d.Get("mime_type").Str
		}
		if strings.HasPrefix(mime, "audio/") {
			a.Rate = SampleRate(mime)
			a.Chunks = append(a.Chunks, d.Get("data").Str)
		}
		return true
	})
	return a, nil
}
