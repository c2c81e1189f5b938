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

// RecordForTest queues a record as if a request had produced it, for
// tests that need data no valid request can carry (hostile strings).
func RecordForTest(s *Server, rec Record) {
	s.recorder.Record(rec)
}
