package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine/openai"
	"github.com/balanceproxy/balance/hcl"
)

func TestPacerPieceSizeKeepsLagWithinMaxDelay(t *testing.T) {
	stop := make(chan struct{})
	p := newPacer(hcl.StreamPacing{Enabled: true, ChunkChars: 5, Interval: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond}, stop)
	tests := []struct {
		lag  time.Duration
		n    int
		want int
	}{
		{0, 50, 5},                      // 9 pauses fit in 10
		{0, 3, 5},                       // shorter than a piece: whole
		{0, 100, 10},                    // 19 pauses do not fit: 11 pieces of 10
		{60 * time.Millisecond, 50, 10}, // 4 pauses left: 5 pieces of 10
		{95 * time.Millisecond, 50, 50}, // no pause left: whole
		{150 * time.Millisecond, 7, 7},
	}
	for _, tt := range tests {
		p.lag = tt.lag
		if got := p.PieceSize(tt.n); got != tt.want {
			t.Errorf("lag %v, %d characters: piece %d, want %d", tt.lag, tt.n, got, tt.want)
		}
	}
	// Waiting for upstream takes lag back off.
	p.lag = 80 * time.Millisecond
	p.idleSince = time.Now().Add(-50 * time.Millisecond)
	p.eventStart(nil)
	if p.lag > 30*time.Millisecond {
		t.Errorf("lag %v after a 50ms wait from 80ms", p.lag)
	}
	p.idleSince = time.Now().Add(-time.Second)
	p.eventStart(nil)
	if p.lag != 0 {
		t.Errorf("lag %v, want 0", p.lag)
	}
	// Shutdown: no more pieces.
	close(stop)
	if got := p.PieceSize(50); got != 50 {
		t.Errorf("after shutdown: piece %d", got)
	}
}

// fakeClock is a pacer's clock that moves only when told: the pacer's
// waits advance it and are recorded, so tests assert on the waits, not
// on real time.
type fakeClock struct {
	t     time.Time
	waits []time.Duration
}

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) sleep(d time.Duration) error {
	c.waits = append(c.waits, d)
	c.t = c.t.Add(d)
	return nil
}

// pacedRun streams texts as upstream events through a chat stream
// translator paced by cfg on a fake clock; gaps[i] is how long upstream
// took before event i. It returns the content pieces and the waits.
func pacedRun(t *testing.T, cfg hcl.StreamPacing, texts []string, gaps []time.Duration) ([]string, []time.Duration) {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1767225600, 0)}
	p := newPacer(cfg, make(chan struct{}))
	p.now, p.sleep = clock.now, clock.sleep
	st := openai.NewStreamTranslator(openai.Reply{ID: "c", Model: "m"}, openai.Options{})
	st.SetPacer(p)
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	for i, text := range texts {
		if i < len(gaps) {
			clock.t = clock.t.Add(gaps[i])
		}
		p.eventStart(w)
		if err := st.Event([]byte(`{"candidates":[{"content":{"parts":[{"text":"`+text+`"}],"role":"model"},"index":0}]}`), w); err != nil {
			t.Fatal(err)
		}
		p.eventEnd()
	}
	_ = w.Flush()
	var pieces []string
	for _, ev := range strings.Split(out.String(), "\n\n") {
		var ch struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if data, ok := strings.CutPrefix(ev, "data: "); ok && json.Unmarshal([]byte(data), &ch) == nil && ch.Choices[0].Delta.Content != "" {
			pieces = append(pieces, ch.Choices[0].Delta.Content)
		}
	}
	if got, want := strings.Join(pieces, ""), strings.Join(texts, ""); got != want {
		t.Fatalf("pieces join to %q, want %q", got, want)
	}
	return pieces, clock.waits
}

// The steady rate spans deltas: a burst of small upstream events (all
// arriving at once) is spread at chunk_chars per interval, each piece
// waiting its share of an interval, as one long delta would be.
func TestPacerSpacesABurstOfSmallEvents(t *testing.T) {
	cfg := hcl.StreamPacing{Enabled: true, ChunkChars: 10, Interval: 100 * time.Millisecond, MaxDelay: time.Hour}
	burst := slices.Repeat([]string{"abcd"}, 20) // 20 events of 4 characters
	pieces, waits := pacedRun(t, cfg, burst, nil)
	if len(pieces) != 20 || len(waits) != 19 {
		t.Fatalf("%d pieces, %d waits; want 20 and a wait before each but the first", len(pieces), len(waits))
	}
	for _, w := range waits {
		if w != 40*time.Millisecond { // 4 of 10 characters: 0.4 interval
			t.Fatalf("waits %v, want 40ms each", waits)
		}
	}
	// One long delta of the same 80 characters: 8 pieces of 10, 7 waits
	// of an interval. The same 700ms either way, give or take the first
	// piece.
	_, waits = pacedRun(t, cfg, []string{strings.Repeat("abcd", 20)}, nil)
	if len(waits) != 7 || sum(waits) != 700*time.Millisecond {
		t.Fatalf("one long delta: waits %v", waits)
	}

	// Upstream slower than the pacing: nothing waits.
	slow := slices.Repeat([]time.Duration{time.Second}, 20)
	if _, waits := pacedRun(t, cfg, burst, slow); len(waits) != 0 {
		t.Fatalf("events a second apart waited %v", waits)
	}
}

// However small and many the events, the waits add up to max_delay at
// most: past it, the rest of the burst goes out at once.
func TestPacerBurstStaysWithinMaxDelay(t *testing.T) {
	cfg := hcl.StreamPacing{Enabled: true, ChunkChars: 2, Interval: 100 * time.Millisecond, MaxDelay: 250 * time.Millisecond}
	pieces, waits := pacedRun(t, cfg, slices.Repeat([]string{"ab"}, 50), nil)
	if total := sum(waits); total != 250*time.Millisecond {
		t.Fatalf("waits %v add to %v, want max_delay exactly", waits, total)
	}
	if fmt.Sprint(waits) != "[100ms 100ms 50ms]" {
		t.Fatalf("waits %v: an interval each, the last one what is left of max_delay", waits)
	}
	if len(pieces) != 50 {
		t.Fatalf("%d pieces: past max_delay events go out as they came (not merged, not cut)", len(pieces))
	}
	// Time spent waiting for upstream gives the budget back.
	gaps := make([]time.Duration, 50)
	gaps[25] = time.Second
	_, waits = pacedRun(t, cfg, slices.Repeat([]string{"ab"}, 50), gaps)
	if total := sum(waits); total != 500*time.Millisecond {
		t.Fatalf("after a 1s upstream gap: waits add to %v, want max_delay twice", total)
	}
}

func sum(ds []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s
}
