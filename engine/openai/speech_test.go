package openai

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSpeechRequestTranslation(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"model":"tts-1","input":"Hi","voice":"onyx"}`,
			`{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"responseModalities":["AUDIO"],"speechConfig":{"voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Alnilam"}}}}}`},
		{`{"model":"m","input":"Hi \"you\"","voice":"SULAFAT","instructions":"Cheerfully.","speed":0.5}`,
			`{"contents":[{"role":"user","parts":[{"text":"Cheerfully, at 0.5 times the normal speaking pace: Hi \"you\""}]}],"generationConfig":{"responseModalities":["AUDIO"],"speechConfig":{"voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Sulafat"}}}}}`},
		{`{"model":"m","input":"Hi","voice":"kore","speed":1}`,
			`{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"responseModalities":["AUDIO"],"speechConfig":{"voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Kore"}}}}}`},
	} {
		r, e := TranslateSpeechRequest([]byte(tc.body))
		if e != nil {
			t.Fatalf("%s: %v", tc.body, e)
		}
		if string(r.Gemini) != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.body, r.Gemini, tc.want)
		}
		if r.Format != "mp3" {
			t.Errorf("default format %q", r.Format)
		}
	}
	// Every OpenAI voice maps to a real Gemini voice.
	for name, v := range openAIVoices {
		if got, e := speechVoice(json.RawMessage(`"` + name + `"`)); e != nil || got != v || !strings.Contains(strings.Join(GeminiVoices, ","), v) {
			t.Errorf("%s → %s (%v)", name, got, e)
		}
	}
}

func TestSampleRate(t *testing.T) {
	for mime, want := range map[string]int{"audio/L16;codec=pcm;rate=24000": 24000, "audio/L16; rate=16000": 16000, "audio/pcm": DefaultSampleRate, "audio/L16;rate=x": DefaultSampleRate} {
		if got := SampleRate(mime); got != want {
			t.Errorf("%s → %d, want %d", mime, got, want)
		}
	}
}

// FuzzSpeechRequest: any body either is refused with a 400 naming a
// field, or becomes a valid Gemini body with a known voice.
func FuzzSpeechRequest(f *testing.F) {
	f.Add([]byte(`{"model":"tts-1","input":"Hi","voice":"alloy","speed":2,"instructions":"x"}`))
	f.Add([]byte(`{"model":"tts-1","input":"Hi","voice":{"id":"v"}}`))
	f.Add([]byte(`{"model":"tts-1","input":"\u0000\ud800","voice":"Kore","response_format":"pcm","stream_format":"sse"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, e := TranslateSpeechRequest(body)
		if e != nil {
			if e.Status != 400 {
				t.Fatalf("status %d", e.Status)
			}
			return
		}
		if !json.Valid(r.Gemini) {
			t.Fatalf("invalid Gemini body %s", r.Gemini)
		}
		found := false
		for _, v := range GeminiVoices {
			found = found || v == r.Voice
		}
		if !found {
			t.Fatalf("voice %q", r.Voice)
		}
	})
}
