package mockgemini

import "testing"

// Start is for tests: it listens on 127.0.0.1:0, registers Close with
// t.Cleanup and fails the test if the listener cannot be opened. The
// returned Server's URL() is the base URL for SDKs and the proxy.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(opts)
	if _, err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatalf("mockgemini: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("mockgemini close: %v", err)
		}
	})
	return s
}
