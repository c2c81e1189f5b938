package engine

import (
	"testing"
	"time"

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
