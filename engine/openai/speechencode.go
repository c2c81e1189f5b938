package openai

import (
	"encoding/binary"
	"fmt"
	"io"

	shine "github.com/braheezy/shine-mp3/pkg/mp3"
	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
	"github.com/mewkiz/flac/meta"
	"github.com/thesyncim/gopus"
	"github.com/thesyncim/gopus/container/ogg"
)

// SpeechEncoder turns Gemini's 16-bit mono little-endian PCM into a
// response_format as it arrives: Write takes the PCM in pieces of any
// size and writes the output it completes to the io.Writer the encoder
// was made with; Close encodes what is left and ends the file. An
// encoder holds at most one codec frame of samples (and, for opus, one
// packet), so a stream goes out as it comes.
type SpeechEncoder interface {
	Write(pcm []byte) error
	Close() error
}

// NewSpeechEncoder returns the encoder of format writing to w. rate is
// the PCM's sample rate; size its length in bytes when the whole answer
// is at hand, or -1 for a stream (a WAV header then announces the
// largest size, a FLAC one an unknown sample count). No format resamples:
// Gemini speaks 24 kHz, which MP3 (MPEG-2), Opus and FLAC all take.
func NewSpeechEncoder(format string, w io.Writer, rate, size int) (SpeechEncoder, error) {
	switch format {
	case "pcm":
		return rawEncoder{w}, nil
	case "wav":
		n := uint32(WAVStreamingSize)
		if size >= 0 {
			n = uint32(size)
		}
		_, err := w.Write(AppendWAVHeader(make([]byte, 0, WAVHeaderSize), rate, n))
		return rawEncoder{w}, err
	case "mp3":
		return newMP3Encoder(w, rate)
	case "opus":
		return newOpusEncoder(w, rate)
	case "flac":
		return newFLACEncoder(w, rate, size)
	}
	return nil, fmt.Errorf("no encoder for %q", format)
}

// rawEncoder writes the PCM as it is: pcm, and wav after its header.
type rawEncoder struct{ w io.Writer }

func (r rawEncoder) Write(pcm []byte) error {
	_, err := r.w.Write(pcm)
	return err
}

func (rawEncoder) Close() error { return nil }

// framer cuts a PCM byte stream into frames of samples for a codec,
// keeping the odd byte of a piece that ends mid-sample.
type framer struct {
	frame   []int16
	n       int // samples in frame
	odd     byte
	hasOdd  bool
	samples int // samples written in all
	encode  func(frame []int16) error
}

func (f *framer) Write(pcm []byte) error {
	if f.hasOdd && len(pcm) > 0 {
		f.hasOdd = false
		if err := f.push(int16(uint16(f.odd) | uint16(pcm[0])<<8)); err != nil {
			return err
		}
		pcm = pcm[1:]
	}
	for ; len(pcm) >= 2; pcm = pcm[2:] {
		if err := f.push(int16(binary.LittleEndian.Uint16(pcm))); err != nil {
			return err
		}
	}
	if len(pcm) == 1 {
		f.odd, f.hasOdd = pcm[0], true
	}
	return nil
}

func (f *framer) push(s int16) error {
	f.frame[f.n] = s
	f.n++
	f.samples++
	if f.n < len(f.frame) {
		return nil
	}
	f.n = 0
	return f.encode(f.frame)
}

// flushPadded encodes a last partial frame filled up with silence, for
// codecs whose frames have one size.
func (f *framer) flushPadded() error {
	if f.n == 0 {
		return nil
	}
	clear(f.frame[f.n:])
	f.n = 0
	return f.encode(f.frame)
}

// mp3Encoder is shine (github.com/braheezy/shine-mp3), a pure-Go port of
// the fixed-point shine encoder: constant 128 kbps, one MPEG frame per
// frame of samples, no bit reservoir, so each frame goes out whole.
type mp3Encoder struct {
	framer
	enc *shine.Encoder
	w   io.Writer
}

func newMP3Encoder(w io.Writer, rate int) (*mp3Encoder, error) {
	if shine.CheckConfig(rate, 128) < 0 {
		return nil, fmt.Errorf("mp3 cannot carry %d Hz audio", rate)
	}
	// An MPEG-1 frame (32 kHz and up) holds two granules of 576
	// samples, MPEG-2 and 2.5 frames one.
	n := shine.GRANULE_SIZE
	if rate >= 32000 {
		n *= 2
	}
	e := &mp3Encoder{enc: shine.NewEncoder(rate, 1), w: w}
	// shine walks the frame with a pointer that ends one sample past it:
	// the spare sample keeps that pointer inside the allocation, where
	// the garbage collector requires it to be.
	e.framer = framer{frame: make([]int16, n, n+1), encode: e.encodeFrame}
	return e, nil
}

// encodeFrame hands shine exactly one frame: its Write reads a whole
// frame through a pointer whatever the slice's length, and steps over
// every second frame of mono input.
func (e *mp3Encoder) encodeFrame(f []int16) error { return e.enc.Write(e.w, f) }

func (e *mp3Encoder) Close() error { return e.flushPadded() }

// opusEncoder is gopus (github.com/thesyncim/gopus), a pure-Go Opus
// codec, in its Ogg container (OpenAI's opus format is Ogg Opus): 20 ms
// packets, one per Ogg page. The last packet is held back until Close so
// its page's granule position can trim the padding of the last frame.
type opusEncoder struct {
	framer
	enc     *gopus.Encoder
	ogg     *ogg.Writer
	scale   int // 48 kHz samples per input sample: Ogg Opus counts at 48 kHz
	preSkip int // at 48 kHz
	packet  []byte
	pending []byte
	packets int
}

func newOpusEncoder(w io.Writer, rate int) (*opusEncoder, error) {
	enc, err := gopus.NewEncoder(gopus.EncoderConfig{SampleRate: rate, Channels: 1, Application: gopus.ApplicationAudio})
	if err != nil {
		return nil, fmt.Errorf("opus cannot carry %d Hz audio: %w", rate, err)
	}
	e := &opusEncoder{enc: enc, scale: 48000 / rate, packet: make([]byte, 4000)}
	e.preSkip = enc.Lookahead() * e.scale
	if e.ogg, err = ogg.NewWriterWithConfig(w, ogg.WriterConfig{SampleRate: uint32(rate), Channels: 1, PreSkip: uint16(e.preSkip)}); err != nil {
		return nil, err
	}
	e.framer = framer{frame: make([]int16, enc.FrameSize()), encode: e.encodeFrame}
	return e, nil
}

func (e *opusEncoder) encodeFrame(f []int16) error {
	n, err := e.enc.EncodeInt16(f, e.packet)
	if err != nil {
		return err
	}
	if e.packets > 0 {
		if err := e.ogg.WritePacket(e.pending, len(f)*e.scale); err != nil {
			return err
		}
	}
	e.pending = append(e.pending[:0], e.packet[:n]...)
	e.packets++
	return nil
}

// Close encodes the padded last frame, and silence while the encoder's
// look-ahead still holds real audio; the last page's granule position
// then ends the decoded audio at the input's length (RFC 7845 §4.4).
func (e *opusEncoder) Close() error {
	if err := e.flushPadded(); err != nil {
		return err
	}
	frame := len(e.frame) * e.scale
	end := e.samples*e.scale + e.preSkip
	for e.packets*frame < end {
		clear(e.frame)
		if err := e.encodeFrame(e.frame); err != nil {
			return err
		}
	}
	if e.packets > 0 {
		if err := e.ogg.WritePacket(e.pending, end-(e.packets-1)*frame); err != nil {
			return err
		}
	}
	return e.ogg.Close()
}

// flacBlock is the FLAC block size in samples, the reference encoder's
// default.
const flacBlock = 4096

// flacEncoder is github.com/mewkiz/flac, a pure-Go FLAC codec: lossless
// blocks of 4096 samples, each written as it fills. A whole answer's
// header carries the sample count; a stream's says "unknown" (both are
// valid FLAC). The MD5 signature is left unset, which FLAC allows.
type flacEncoder struct {
	framer
	enc     *flac.Encoder
	rate    int
	samples []int32
}

func newFLACEncoder(w io.Writer, rate, size int) (*flacEncoder, error) {
	info := &meta.StreamInfo{BlockSizeMin: flacBlock, BlockSizeMax: flacBlock, SampleRate: uint32(rate), NChannels: 1, BitsPerSample: 16}
	if size >= 0 {
		info.NSamples = uint64(size / 2)
	}
	enc, err := flac.NewEncoder(w, info)
	if err != nil {
		return nil, err
	}
	e := &flacEncoder{enc: enc, rate: rate, samples: make([]int32, flacBlock)}
	e.framer = framer{frame: make([]int16, flacBlock), encode: e.encodeFrame}
	return e, nil
}

func (e *flacEncoder) encodeFrame(f []int16) error {
	s := e.samples[:len(f)]
	for i, v := range f {
		s[i] = int32(v)
	}
	return e.enc.WriteFrame(&frame.Frame{
		Header: frame.Header{HasFixedBlockSize: true, BlockSize: uint16(len(f)), SampleRate: uint32(e.rate), Channels: frame.ChannelsMono, BitsPerSample: 16},
		// Verbatim asks the encoder's analysis for the best predictor.
		Subframes: []*frame.Subframe{{SubHeader: frame.SubHeader{Pred: frame.PredVerbatim}, Samples: s, NSamples: len(s)}},
	})
}

// Close encodes the last, shorter block: FLAC allows one at the end.
func (e *flacEncoder) Close() error {
	if e.n > 0 {
		n := e.n
		e.n = 0
		if err := e.encodeFrame(e.frame[:n]); err != nil {
			return err
		}
	}
	return e.enc.Close()
}
