package engine

import "time"

// SetStoreTuning shrinks the store's queue for the next servers built, for
// outage tests; it returns a function that restores the defaults. Tests
// using it must not run in parallel.
func SetStoreTuning(queue, batch int, flush time.Duration) (restore func()) {
	prev := storeTuning
	storeTuning.QueueSize, storeTuning.BatchSize, storeTuning.FlushInterval = queue, batch, flush
	return func() { storeTuning = prev }
}
