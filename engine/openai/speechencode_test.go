package openai

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// tone is n samples of a 440 Hz sine at 24 kHz.
func tone(n int) []byte {
	b := make([]byte, 0, 2*n)
	for i := range n {
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(8000*math.Sin(2*math.Pi*440*float64(i)/24000))))
	}
	return b
}

// TestSpeechEncoderPieces feeds the same audio whole and in pieces of
// odd sizes (samples split across pieces): a stream's events cut the PCM
// anywhere, and the output must not depend on where.
func TestSpeechEncoderPieces(t *testing.T) {
	pcm := tone(10000)
	for _, format := range []string{"mp3", "flac", "wav", "pcm"} {
		encode := func(pieces []int) []byte {
			var out bytes.Buffer
			enc, err := NewSpeechEncoder(format, &out, 24000, -1)
			if err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			rest := pcm
			for i := 0; len(rest) > 0; i++ {
				n := min(pieces[i%len(pieces)], len(rest))
				if err := enc.Write(rest[:n]); err != nil {
					t.Fatalf("%s: %v", format, err)
				}
				rest = rest[n:]
			}
			if err := enc.Close(); err != nil {
				t.Fatalf("%s close: %v", format, err)
			}
			return out.Bytes()
		}
		whole := encode([]int{len(pcm)})
		if len(whole) < 100 {
			t.Fatalf("%s: %d bytes", format, len(whole))
		}
		for _, pieces := range [][]int{{1}, {3, 1000}, {4097, 7}} {
			if got := encode(pieces); !bytes.Equal(got, whole) {
				t.Errorf("%s in pieces of %v: %d bytes, whole: %d", format, pieces, len(got), len(whole))
			}
		}
	}
}

// TestSpeechEncoderRates: each codec takes Gemini's 24 kHz; a rate a
// codec cannot carry is an error, not a wrong file.
func TestSpeechEncoderRates(t *testing.T) {
	for _, tc := range []struct {
		format string
		rate   int
		ok     bool
	}{
		{"mp3", 24000, true}, {"mp3", 44100, true}, {"mp3", 23000, false},
		{"opus", 24000, true}, {"opus", 44100, false},
		{"flac", 24000, true}, {"flac", 23000, true},
		{"aac", 24000, false},
	} {
		var out bytes.Buffer
		_, err := NewSpeechEncoder(tc.format, &out, tc.rate, -1)
		if (err == nil) != tc.ok {
			t.Errorf("%s at %d Hz: %v", tc.format, tc.rate, err)
		}
	}
}

// BenchmarkSpeechEncode encodes 10 s of 24 kHz audio in each format, as
// a whole answer; pcm (a copy) is the baseline. x_realtime is seconds of
// audio encoded per second: a stream needs it well above 1.
func BenchmarkSpeechEncode(b *testing.B) {
	const seconds = 10
	pcm := tone(seconds * 24000)
	for _, format := range SpeechFormats {
		b.Run(format, func(b *testing.B) {
			b.SetBytes(int64(len(pcm)))
			var out bytes.Buffer
			for b.Loop() {
				out.Reset()
				enc, err := NewSpeechEncoder(format, &out, 24000, len(pcm))
				if err == nil {
					err = enc.Write(pcm)
				}
				if err == nil {
					err = enc.Close()
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(seconds*float64(b.N)/b.Elapsed().Seconds(), "x_realtime")
			b.ReportMetric(float64(out.Len()), "out_bytes")
		})
	}
}
