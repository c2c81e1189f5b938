package engine

// RecordForTest queues a record as if a request had produced it, for
// tests that need data no valid request can carry (hostile strings).
func RecordForTest(s *Server, rec Record) {
	s.recorder.Record(rec)
}
