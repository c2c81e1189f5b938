package hooks

import (
	"sync/atomic"
	"time"
)

// DefaultLogInterval is how often a hook may write each kind of log line
// (a failure, its guest's output): a broken hook on a busy route must not
// write a line per request. Lines in between are counted, and the next
// line that gets through says how many were suppressed; Stats has the
// per-kind failure counts.
const DefaultLogInterval = 10 * time.Second

// logThrottle lets one line through per interval and counts the rest.
type logThrottle struct {
	next       atomic.Int64 // unix nanos before which lines are suppressed
	suppressed atomic.Int64
}

// allow reports whether a line may be written now and, if so, how many
// were suppressed since the last one.
func (t *logThrottle) allow(now time.Time, every time.Duration) (ok bool, suppressed int64) {
	next := t.next.Load()
	if now.UnixNano() < next || !t.next.CompareAndSwap(next, now.Add(every).UnixNano()) {
		t.suppressed.Add(1)
		return false, 0
	}
	return true, t.suppressed.Swap(0)
}
