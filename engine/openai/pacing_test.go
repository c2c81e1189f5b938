package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// fixedPacer cuts deltas into pieces of size characters and counts the
// pauses and the piece sizes they were for; failAt > 0 makes that pause
// fail.
type fixedPacer struct {
	size, pauses, failAt int
	pieces               []int
}

func (p *fixedPacer) PieceSize(int) int { return p.size }

func (p *fixedPacer) Pause(n int) error {
	p.pauses++
	p.pieces = append(p.pieces, n)
	if p.pauses == p.failAt {
		return errors.New("client gone")
	}
	return nil
}

// deltas decodes the content deltas of a stream's chunks, checking each
// chunk is JSON.
func deltas(t *testing.T, out []byte) (contents []string, reasoning string, finish string) {
	t.Helper()
	for _, ev := range bytes.Split(out, []byte("\n\n")) {
		ev = bytes.TrimPrefix(ev, []byte("data: "))
		if len(ev) == 0 || string(ev) == "[DONE]" {
			continue
		}
		var ch struct {
			Choices []struct {
				Delta struct {
					Content   *string `json:"content"`
					Reasoning string  `json:"reasoning_content"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(ev, &ch); err != nil {
			t.Fatalf("chunk is not JSON: %v: %s", err, ev)
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != nil && *c.Delta.Content != "" {
				contents = append(contents, *c.Delta.Content)
			}
			reasoning += c.Delta.Reasoning
			if c.FinishReason != nil {
				finish = *c.FinishReason
			}
		}
	}
	return contents, reasoning, finish
}

func TestPacedStreamCutsContentOnCharacterBoundaries(t *testing.T) {
	// Upstream text with escapes, a surrogate pair written escaped, and
	// multi-byte runes: no piece may end inside any of them.
	const text = `Line one\n\"quoted\" \ud83d\ude00 héllo wörld \u00e9 tab\there`
	var want string
	if err := json.Unmarshal([]byte(`"`+text+`"`), &want); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 2, 3, 5, 7} {
		st := NewStreamTranslator(Reply{ID: "c1", Model: "m"}, Options{})
		p := &fixedPacer{size: size}
		st.SetPacer(p)
		var out bytes.Buffer
		ev := `{"candidates":[{"content":{"parts":[{"text":"think","thought":true},{"text":"` + text + `"}],"role":"model"},"finishReason":"STOP","index":0}]}`
		if err := st.Event([]byte(ev), &out); err != nil {
			t.Fatal(err)
		}
		contents, reasoning, finish := deltas(t, out.Bytes())
		if got := strings.Join(contents, ""); got != want {
			t.Fatalf("size %d: pieces join to %q, want %q", size, got, want)
		}
		chars := utf8.RuneCountInString(want) // the escaped surrogate pair is one character, as it is one rune
		if len(contents) != (chars+size-1)/size {
			t.Errorf("size %d: %d pieces for %d characters", size, len(contents), chars)
		}
		for _, c := range contents[:len(contents)-1] {
			if n := utf8.RuneCountInString(c); n != size {
				t.Errorf("size %d: piece %q has %d characters", size, c, n)
			}
		}
		if p.pauses != len(contents) || reasoning != "think" || finish != "stop" {
			t.Errorf("size %d: %d pauses for %d pieces, reasoning %q, finish %q", size, p.pauses, len(contents), reasoning, finish)
		}
		for i, c := range contents {
			if n := utf8.RuneCountInString(c); p.pieces[i] != n {
				t.Errorf("size %d: pause %d was for %d characters, its piece has %d", size, i, p.pieces[i], n)
			}
		}
	}
}

func TestPacedStreamLeavesToolCallsAndImagesWhole(t *testing.T) {
	for name, ev := range map[string]string{
		"tool call": `{"candidates":[{"content":{"parts":[{"text":"calling a tool now"},{"functionCall":{"name":"f","args":{"a":1}}}],"role":"model"},"index":0}]}`,
		"image":     `{"candidates":[{"content":{"parts":[{"text":"an image: "},{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}],"role":"model"},"index":0}]}`,
	} {
		st := NewStreamTranslator(Reply{ID: "c1", Model: "m"}, Options{})
		p := &fixedPacer{size: 2}
		st.SetPacer(p)
		var out bytes.Buffer
		if err := st.Event([]byte(ev), &out); err != nil {
			t.Fatal(err)
		}
		if p.pauses != 0 || bytes.Count(out.Bytes(), []byte("data: ")) != 1 {
			t.Errorf("%s: cut into pieces (%d pauses): %s", name, p.pauses, out.Bytes())
		}
	}
}

func TestPacedStreamStopsWhenAPauseFails(t *testing.T) {
	st := NewStreamTranslator(Reply{ID: "c1", Model: "m"}, Options{})
	p := &fixedPacer{size: 1, failAt: 2}
	st.SetPacer(p)
	var out bytes.Buffer
	err := st.Event([]byte(`{"candidates":[{"content":{"parts":[{"text":"abcdefgh"}],"role":"model"},"index":0}]}`), &out)
	// The first piece went out before the second pause, which failed.
	if err == nil || p.pauses != 2 || bytes.Count(out.Bytes(), []byte("data: ")) != 1 {
		t.Fatalf("err %v after %d pauses: %s", err, p.pauses, out.Bytes())
	}
}

// Every content delta is paced, the short ones whole: a burst of small
// upstream events gets a pause before each, as the pieces of one long
// delta would.
func TestPacedStreamPausesBeforeShortDeltas(t *testing.T) {
	st := NewStreamTranslator(Reply{ID: "c1", Model: "m"}, Options{})
	p := &fixedPacer{size: 10}
	st.SetPacer(p)
	var out bytes.Buffer
	for _, text := range []string{"ab", "cde", "f", "0123456789abc"} {
		if err := st.Event([]byte(`{"candidates":[{"content":{"parts":[{"text":"`+text+`"}],"role":"model"},"index":0}]}`), &out); err != nil {
			t.Fatal(err)
		}
	}
	contents, _, _ := deltas(t, out.Bytes())
	if got := strings.Join(contents, "|"); got != "ab|cde|f|0123456789|abc" {
		t.Errorf("pieces %s", got)
	}
	if fmt.Sprint(p.pieces) != "[2 3 1 10 3]" {
		t.Errorf("pauses for %v characters, want one before each piece", p.pieces)
	}
}

// FuzzPacedPieces: whatever text the upstream sends, paced pieces are
// JSON and join to the unpaced answer.
func FuzzPacedPieces(f *testing.F) {
	f.Add("plain text", 3)
	f.Add(`esc\"aped\n\\ \u00e9 \ud83d\ude00 end`, 1)
	f.Add("héllo wörld ✓", 2)
	f.Fuzz(func(t *testing.T, text string, size int) {
		if size < 1 || size > 64 || !utf8.ValidString(text) {
			return
		}
		part, err := json.Marshal(map[string]string{"text": text})
		if err != nil {
			return
		}
		ev := `{"candidates":[{"content":{"parts":[` + string(part) + `],"role":"model"},"finishReason":"STOP","index":0}]}`
		st := NewStreamTranslator(Reply{ID: "c1", Model: "m"}, Options{})
		st.SetPacer(&fixedPacer{size: size})
		var out bytes.Buffer
		if err := st.Event([]byte(ev), &out); err != nil {
			t.Fatal(err)
		}
		contents, _, _ := deltas(t, out.Bytes())
		if got := strings.Join(contents, ""); got != text {
			t.Fatalf("pieces join to %q, want %q", got, text)
		}
	})
}
