package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hajimehoshi/go-mp3"
	"github.com/mewkiz/flac"
	oai "github.com/openai/openai-go/v3"
	"github.com/thesyncim/gopus"
	"github.com/thesyncim/gopus/container/ogg"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// The mock speaks 40 ms of 24 kHz 16-bit audio per character.
func speechBytes(input string) int { return utf8.RuneCountInString(input) * 24000 * 40 / 1000 * 2 }

func speak(t *testing.T, h *harness, base string, p oai.AudioSpeechNewParams) (string, []byte) {
	t.Helper()
	c := openAIClient(h, base)
	res, err := c.Audio.Speech.New(context.Background(), p)
	if err != nil {
		t.Fatalf("speech %s: %v", base, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.Header.Get("Content-Type"), b
}

func voice(name string) oai.AudioSpeechNewParamsVoiceUnion {
	return oai.AudioSpeechNewParamsVoiceUnion{OfString: oai.String(name)}
}

// checkWAV checks every field of a 44-byte PCM WAV header against the
// file's real length, and returns the samples.
func checkWAV(t *testing.T, wav []byte) []byte {
	t.Helper()
	if len(wav) < 44 {
		t.Fatalf("WAV of %d bytes", len(wav))
	}
	le := binary.LittleEndian
	checks := []struct {
		name      string
		got, want any
	}{
		{"RIFF", string(wav[0:4]), "RIFF"},
		{"RIFF size", le.Uint32(wav[4:]), uint32(len(wav) - 8)},
		{"WAVE", string(wav[8:12]), "WAVE"},
		{"fmt", string(wav[12:16]), "fmt "},
		{"fmt size", le.Uint32(wav[16:]), uint32(16)},
		{"format PCM", le.Uint16(wav[20:]), uint16(1)},
		{"channels", le.Uint16(wav[22:]), uint16(1)},
		{"rate", le.Uint32(wav[24:]), uint32(24000)},
		{"byte rate", le.Uint32(wav[28:]), uint32(48000)},
		{"block align", le.Uint16(wav[32:]), uint16(2)},
		{"bits", le.Uint16(wav[34:]), uint16(16)},
		{"data", string(wav[36:40]), "data"},
		{"data size", le.Uint32(wav[40:]), uint32(len(wav) - 44)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("WAV %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	return wav[44:]
}

// toneHz estimates the pitch of 16-bit PCM by counting rising zero
// crossings.
func toneHz(pcm []byte) float64 {
	n := len(pcm) / 2
	rising := 0
	prev := int16(binary.LittleEndian.Uint16(pcm))
	for i := 1; i < n; i++ {
		v := int16(binary.LittleEndian.Uint16(pcm[2*i:]))
		if prev < 0 && v >= 0 {
			rising++
		}
		prev = v
	}
	return float64(rising) * 24000 / float64(n)
}

func TestSpeechSDKWAVAndPCM(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	const input = "Hello from balance, read aloud."
	for _, base := range []string{"/v1", "/hf/v1"} {
		ct, wav := speak(t, h, base, oai.AudioSpeechNewParams{Model: oai.SpeechModelTTS1, Input: input, Voice: voice("alloy"),
			ResponseFormat: oai.AudioSpeechNewParamsResponseFormatWAV})
		if ct != "audio/wav" {
			t.Errorf("%s wav content type %q", base, ct)
		}
		pcm := checkWAV(t, wav)
		if len(pcm) != speechBytes(input) {
			t.Errorf("%s: %d bytes of audio, want %d", base, len(pcm), speechBytes(input))
		}
		// tts-1 went to the default TTS model, alloy to Zephyr.
		up := h.mock.LastRequest()
		if !strings.HasSuffix(up.Path, "/gemini-2.5-flash-preview-tts:generateContent") || !strings.Contains(string(up.Body), `"voiceName":"Zephyr"`) ||
			!strings.Contains(string(up.Body), `"responseModalities":["AUDIO"]`) {
			t.Errorf("upstream %s %s", up.Path, up.Body)
		}
		if hz, want := toneHz(pcm), mockgemini.SpeechToneHz("Zephyr"); hz < want-3 || hz > want+3 {
			t.Errorf("tone %.1f Hz, want the Zephyr tone %.0f Hz", hz, want)
		}
		playable(t, wav)

		ct, raw := speak(t, h, base, oai.AudioSpeechNewParams{Model: "gemini-2.5-pro-preview-tts", Input: input, Voice: voice("puck"),
			ResponseFormat: oai.AudioSpeechNewParamsResponseFormatPCM})
		if ct != "audio/pcm" || len(raw) != speechBytes(input) {
			t.Errorf("%s pcm: %q, %d bytes", base, ct, len(raw))
		}
		if hz, want := toneHz(raw), mockgemini.SpeechToneHz("Puck"); hz < want-3 || hz > want+3 {
			t.Errorf("Gemini voice name: tone %.1f Hz, want %.0f", hz, want)
		}
		if p := h.mock.LastRequest().Path; !strings.HasSuffix(p, "/gemini-2.5-pro-preview-tts:generateContent") {
			t.Errorf("a Gemini TTS model named directly went to %s", p)
		}
	}
}

// playable hands the WAV to ffprobe and sox when they are installed: the
// header check above is ours, theirs is what players do.
func playable(t *testing.T, wav []byte) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "speech.wav")
	if err := os.WriteFile(f, wav, 0o600); err != nil {
		t.Fatal(err)
	}
	ran := false
	if _, err := exec.LookPath("ffprobe"); err == nil {
		ran = true
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,sample_rate,channels", "-of", "default=nw=1", f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "sample_rate=24000") || !strings.Contains(string(out), "channels=1") || !strings.Contains(string(out), "pcm_s16le") {
			t.Errorf("ffprobe: %v\n%s", err, out)
		}
	}
	if _, err := exec.LookPath("sox"); err == nil {
		ran = true
		out, err := exec.Command("sox", "--i", f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Sample Rate    : 24000") || !strings.Contains(string(out), "Channels       : 1") {
			t.Errorf("sox --i: %v\n%s", err, out)
		}
		// sox must also decode the whole file, not only read its header.
		if out, err := exec.Command("sox", f, "-n", "stat").CombinedOutput(); err != nil {
			t.Errorf("sox stat: %v\n%s", err, out)
		}
	}
	if !ran {
		t.Log("ffprobe and sox not installed: only balance's own header check ran")
	}
}

func TestSpeechInstructionsSpeedAndModelRules(t *testing.T) {
	h := newHarness(t, []string{keyA}, fmt.Sprintf(`
upstream "mock" { base_url = "%%MOCK%%" }
pool "main" {
  upstream = "mock"
  keys     = [%q]
}
token "tester" {
  secret = %q
  pools  = ["main"]
}
model "tts-1-hd" { target = "gemini-2.5-pro-preview-tts" }
openai { speech_model = "gemini-3.1-flash-tts-preview" }
`, keyA, testToken))
	for _, tc := range []struct{ model, wantModel string }{
		{"tts-1-hd", "gemini-2.5-pro-preview-tts"},          // a model rule
		{"gpt-4o-mini-tts", "gemini-3.1-flash-tts-preview"}, // openai.speech_model
	} {
		speak(t, h, "/v1", oai.AudioSpeechNewParams{Model: tc.model, Input: "Good night", Voice: voice("Charon"),
			Instructions: oai.String("Whisper softly"), Speed: oai.Float(1.5), ResponseFormat: oai.AudioSpeechNewParamsResponseFormatPCM})
		up := h.mock.LastRequest()
		if !strings.HasSuffix(up.Path, "/"+tc.wantModel+":generateContent") {
			t.Errorf("%s went to %s, want %s", tc.model, up.Path, tc.wantModel)
		}
		var req struct {
			Contents []struct {
				Parts []struct{ Text string } `json:"parts"`
			} `json:"contents"`
		}
		if err := json.Unmarshal(up.Body, &req); err != nil {
			t.Fatal(err)
		}
		if got := req.Contents[0].Parts[0].Text; got != "Whisper softly, at 1.5 times the normal speaking pace: Good night" {
			t.Errorf("upstream text %q", got)
		}
	}
}

func TestSpeechStreams(t *testing.T) {
	h := startHarness(t, []string{keyA}, "", mockgemini.Options{StreamChunks: 4})
	const input = "Streaming speech arrives in pieces."
	post := func(body string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/audio/speech", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	base := `{"model":"gemini-3.1-flash-tts-preview","voice":"nova","input":"` + input + `"`

	res, pcm := post(base + `,"response_format":"pcm","stream_format":"audio"}`)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "audio/pcm" || len(pcm) != speechBytes(input) {
		t.Fatalf("pcm stream: %d %q, %d bytes, want %d", res.StatusCode, res.Header.Get("Content-Type"), len(pcm), speechBytes(input))
	}
	up := h.mock.LastRequest()
	if !strings.HasSuffix(up.Path, ":streamGenerateContent") || up.Query != "alt=sse" {
		t.Errorf("upstream %s?%s", up.Path, up.Query)
	}

	_, wav := post(base + `,"response_format":"wav","stream_format":"audio"}`)
	if !bytes.Equal(wav[44:], pcm) || string(wav[:4]) != "RIFF" || binary.LittleEndian.Uint32(wav[40:]) != 0xFFFFFFFF-36 ||
		binary.LittleEndian.Uint32(wav[24:]) != 24000 {
		t.Errorf("wav stream: header % x, %d bytes of audio", wav[:44], len(wav)-44)
	}

	res, sse := post(base + `,"response_format":"pcm","stream_format":"sse"}`)
	if res.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("sse content type %q", res.Header.Get("Content-Type"))
	}
	var audio []byte
	var deltas int
	var done struct {
		Type  string
		Usage struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}
	sc := bufio.NewScanner(bytes.NewReader(sse))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev struct{ Type, Audio string }
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		switch ev.Type {
		case "speech.audio.delta":
			b, err := base64.StdEncoding.DecodeString(ev.Audio)
			if err != nil {
				t.Fatal(err)
			}
			audio = append(audio, b...)
			deltas++
		case "speech.audio.done":
			_ = json.Unmarshal([]byte(data), &done)
		}
	}
	if !bytes.Equal(audio, pcm) || deltas != 4 {
		t.Errorf("sse: %d deltas, %d bytes of audio", deltas, len(audio))
	}
	if done.Type != "speech.audio.done" || done.Usage.OutputTokens == 0 || done.Usage.TotalTokens != done.Usage.InputTokens+done.Usage.OutputTokens {
		t.Errorf("done event %+v", done)
	}
}

func TestSpeechBadInput(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	for _, tc := range []struct {
		body, param string
		mention     []string
	}{
		{`{"model":"tts-1","input":"hi","voice":"robot"}`, "voice", []string{"alloy", "Kore", "Zephyr"}},
		{`{"model":"tts-1","input":"hi","voice":{"id":"voice_1234"}}`, "voice", []string{"custom voices"}},
		{`{"model":"tts-1","input":"hi"}`, "voice", []string{"alloy"}},
		{`{"model":"tts-1","input":"hi","voice":"alloy","response_format":"aac"}`, "response_format", []string{"mp3, opus, flac, wav, pcm"}},
		{`{"model":"tts-1","input":"hi","voice":"alloy","response_format":"ogg"}`, "response_format", []string{"mp3, opus, flac, wav, pcm"}},
		{`{"model":"tts-1","input":"hi","voice":"alloy","speed":4.5}`, "speed", []string{"0.25", "4.0"}},
		{`{"model":"tts-1","input":"hi","voice":"alloy","stream_format":"ogg"}`, "stream_format", []string{"audio, sse"}},
		{`{"model":"tts-1","input":" ","voice":"alloy"}`, "input", nil},
		{`{"model":"tts-1","input":"` + strings.Repeat("a", 4097) + `","voice":"alloy"}`, "input", []string{"4096"}},
		{`{"input":"hi","voice":"alloy"}`, "model", nil},
	} {
		before := h.mock.Total()
		status, _, body := h.do("POST", "/v1/audio/speech", tc.body, nil)
		var e struct {
			Error struct{ Message, Type, Param string } `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if status != 400 || e.Error.Param != tc.param || e.Error.Type != "invalid_request_error" {
			t.Errorf("%.80s: %d %s", tc.body, status, body)
		}
		for _, m := range tc.mention {
			if !strings.Contains(e.Error.Message, m) {
				t.Errorf("%.80s: message %q does not mention %q", tc.body, e.Error.Message, m)
			}
		}
		if h.mock.Total() != before {
			t.Errorf("%.80s reached upstream", tc.body)
		}
	}
	// A text model asked for speech: Gemini's 400 comes back in OpenAI's shape.
	status, _, body := h.do("POST", "/v1/audio/speech", `{"model":"gemini-2.5-flash","input":"hi","voice":"alloy"}`, nil)
	if status != 400 || !strings.Contains(string(body), "response modalities") {
		t.Errorf("text model: %d %s", status, body)
	}
	if status, _, _ := h.do("GET", "/v1/audio/speech", "", nil); status != 405 {
		t.Errorf("GET: %d", status)
	}
}

// decoded is what a decoder read back from an encoded answer.
type decoded struct {
	rate, channels int
	pcm            []byte // 16-bit mono
	// frames counts codec frames (mp3) or packets (opus).
	frames int
}

// decodeFLAC decodes with mewkiz/flac's decoder, every frame's CRC
// checked; want is the sample count the header must announce (0 for a
// stream, which announces none).
func decodeFLAC(t *testing.T, b []byte, want uint64) decoded {
	t.Helper()
	s, err := flac.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("flac: %v", err)
	}
	if s.Info.BitsPerSample != 16 || s.Info.NSamples != want {
		t.Errorf("flac stream info %+v, want 16 bits and %d samples", s.Info, want)
	}
	d := decoded{rate: int(s.Info.SampleRate), channels: int(s.Info.NChannels)}
	for {
		f, err := s.ParseNext()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("flac frame: %v", err)
		}
		d.frames++
		for _, v := range f.Subframes[0].Samples {
			d.pcm = binary.LittleEndian.AppendUint16(d.pcm, uint16(v))
		}
	}
	return d
}

// decodeOpus reads the Ogg container with gopus's reader and decodes its
// packets with gopus's decoder, then trims what RFC 7845 says to: the
// pre-skip at the start, and past the last page's granule at the end.
func decodeOpus(t *testing.T, b []byte) decoded {
	t.Helper()
	r, err := ogg.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("ogg: %v", err)
	}
	d := decoded{rate: int(r.SampleRate()), channels: int(r.Channels())}
	dec, err := gopus.NewDecoder(gopus.DefaultDecoderConfig(24000, 1))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, 5760)
	var pcm []int16
	var granule uint64
	for {
		p, g, err := r.ReadPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("ogg packet: %v", err)
		}
		granule = g
		n, err := dec.DecodeInt16(p, out)
		if err != nil {
			t.Fatalf("opus packet %d: %v", d.frames, err)
		}
		pcm = append(pcm, out[:n]...)
		d.frames++
	}
	skip := int(r.PreSkip()) / 2 // 48 kHz counts, decoded at 24 kHz
	end := int(granule) / 2
	if end > len(pcm) || skip > end {
		t.Fatalf("opus: granule %d and pre-skip %d past %d decoded samples", granule, r.PreSkip(), len(pcm))
	}
	for _, v := range pcm[skip:end] {
		d.pcm = binary.LittleEndian.AppendUint16(d.pcm, uint16(v))
	}
	return d
}

// decodeMP3 checks every frame header (sync, MPEG-2 layer III, 128 kbps,
// 24 kHz, mono, the frame's length from its bitrate) and decodes the file
// with go-mp3, which answers stereo: its left channel is the audio.
func decodeMP3(t *testing.T, b []byte) decoded {
	t.Helper()
	var d decoded
	for i := 0; i < len(b); {
		if len(b)-i < 4 {
			t.Fatalf("mp3: %d stray bytes at the end", len(b)-i)
		}
		h := binary.BigEndian.Uint32(b[i:])
		sync, version, layer := h>>21, h>>19&3, h>>17&3
		bitrate, rate, padding, mode := h>>12&15, h>>10&3, h>>9&1, h>>6&3
		// MPEG-2 (version 2), layer III (1), 128 kbps (index 12), 24 kHz
		// (index 1), single channel (3).
		if sync != 0x7FF || version != 2 || layer != 1 || bitrate != 12 || rate != 1 || mode != 3 {
			t.Fatalf("mp3 frame %d at %d: header %08x", d.frames, i, h)
		}
		i += 72*128000/24000 + int(padding) // MPEG-2 layer III: 72 × bitrate / rate
		d.frames++
	}
	dec, err := mp3.NewDecoder(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("go-mp3: %v", err)
	}
	stereo, err := io.ReadAll(dec)
	if err != nil {
		t.Fatalf("go-mp3: %v", err)
	}
	d.rate, d.channels = dec.SampleRate(), 1
	for i := 0; i+4 <= len(stereo); i += 4 {
		d.pcm = append(d.pcm, stereo[i:i+2]...)
	}
	return d
}

func TestSpeechEncodedFormats(t *testing.T) {
	h := startHarness(t, []string{keyA}, "", mockgemini.Options{StreamChunks: 4})
	const input = "Encoded speech, decoded back to check it."
	n := speechBytes(input) / 2 // samples
	_, ref := speak(t, h, "/v1", oai.AudioSpeechNewParams{Model: oai.SpeechModelTTS1, Input: input, Voice: voice("alloy"),
		ResponseFormat: oai.AudioSpeechNewParamsResponseFormatPCM})
	tone := mockgemini.SpeechToneHz("Zephyr")
	stream := func(format string) (string, []byte) {
		t.Helper()
		status, hdr, body := h.do("POST", "/v1/audio/speech",
			`{"model":"tts-1","voice":"alloy","input":"`+input+`","response_format":"`+format+`","stream_format":"audio"}`, nil)
		if status != 200 {
			t.Fatalf("%s stream: %d %s", format, status, body)
		}
		return hdr.Get("Content-Type"), body
	}
	for _, tc := range []struct {
		format, contentType string
		decode              func(t *testing.T, b []byte, unary bool) decoded
		// lossless formats must give the samples back exactly; the others
		// the length and the tone.
		lossless bool
		// frames is the codec frame count for n samples (0: not checked).
		frames int
	}{
		{"flac", "audio/flac", func(t *testing.T, b []byte, unary bool) decoded {
			want := uint64(0)
			if unary {
				want = uint64(n)
			}
			return decodeFLAC(t, b, want)
		}, true, (n + 4095) / 4096},
		{"opus", "audio/ogg", func(t *testing.T, b []byte, _ bool) decoded { return decodeOpus(t, b) }, false, 0},
		{"mp3", "audio/mpeg", func(t *testing.T, b []byte, _ bool) decoded { return decodeMP3(t, b) }, false, (n + 575) / 576},
	} {
		ct, unary := speak(t, h, "/v1", oai.AudioSpeechNewParams{Model: oai.SpeechModelTTS1, Input: input, Voice: voice("alloy"),
			ResponseFormat: oai.AudioSpeechNewParamsResponseFormat(tc.format)})
		sct, streamed := stream(tc.format)
		for _, v := range []struct {
			how, ct string
			b       []byte
		}{{"unary", ct, unary}, {"stream", sct, streamed}} {
			if v.ct != tc.contentType {
				t.Errorf("%s %s: content type %q, want %q", tc.format, v.how, v.ct, tc.contentType)
			}
			d := tc.decode(t, v.b, v.how == "unary")
			if d.rate != 24000 || d.channels != 1 {
				t.Errorf("%s %s: %d Hz, %d channels", tc.format, v.how, d.rate, d.channels)
			}
			if tc.frames != 0 && d.frames != tc.frames {
				t.Errorf("%s %s: %d frames for %d samples, want %d", tc.format, v.how, d.frames, n, tc.frames)
			}
			switch {
			case tc.lossless:
				if !bytes.Equal(d.pcm, ref) {
					t.Errorf("%s %s: decoded %d bytes differ from the %d of pcm", tc.format, v.how, len(d.pcm), len(ref))
				}
			case tc.format == "mp3":
				// An mp3 holds whole frames: the input, padded.
				if len(d.pcm)/2 != tc.frames*576 {
					t.Errorf("mp3 %s: %d samples decoded, want %d", v.how, len(d.pcm)/2, tc.frames*576)
				}
			default:
				if len(d.pcm) != len(ref) {
					t.Errorf("%s %s: %d samples decoded, want %d", tc.format, v.how, len(d.pcm)/2, n)
				}
			}
			// Past the codec's start-up, the decoded tone is the voice's.
			if len(d.pcm) > 4800 {
				if hz := toneHz(d.pcm[2400 : len(d.pcm)-2400]); hz < tone-3 || hz > tone+3 {
					t.Errorf("%s %s: tone %.1f Hz, want %.0f", tc.format, v.how, hz, tone)
				}
			}
		}
		// The encoders are deterministic but for Ogg's random stream serial,
		// and a FLAC stream's 42-byte header does not know its length.
		switch {
		case tc.format == "mp3" && !bytes.Equal(unary, streamed),
			tc.format == "flac" && !bytes.Equal(unary[42:], streamed[42:]):
			t.Errorf("%s: the stream and the whole answer differ", tc.format)
		}
		if tc.format == "mp3" {
			// SSE carries the same encoded bytes in speech.audio.delta events.
			_, _, sse := h.do("POST", "/v1/audio/speech",
				`{"model":"tts-1","voice":"alloy","input":"`+input+`","response_format":"mp3","stream_format":"sse"}`, nil)
			var joined []byte
			for _, line := range strings.Split(string(sse), "\n") {
				var ev struct{ Type, Audio string }
				if data, ok := strings.CutPrefix(line, "data: "); ok && json.Unmarshal([]byte(data), &ev) == nil && ev.Type == "speech.audio.delta" {
					b, err := base64.StdEncoding.DecodeString(ev.Audio)
					if err != nil {
						t.Fatal(err)
					}
					joined = append(joined, b...)
				}
			}
			if !bytes.Equal(joined, unary) {
				t.Errorf("mp3 over SSE: %d bytes, the whole answer %d", len(joined), len(unary))
			}
		}
	}
}
