package engine

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/balanceproxy/balance/engine/openai"
)

// CountingFetcher stands in for the image fetcher so a test can see
// whether a stage fetched anything.
type CountingFetcher struct{ Calls atomic.Int64 }

// Fetch counts the call and answers a 1×1 PNG.
func (f *CountingFetcher) Fetch(context.Context, string) ([]byte, string, error) {
	f.Calls.Add(1)
	return []byte("\x89PNG\r\n\x1a\n"), "image/png", nil
}

// UseImageFetcher makes the live generation fetch image URLs with f.
func UseImageFetcher(s *Server, f openai.ImageFetcher) {
	rt := s.Runtime()
	opts := rt.openAIOptions()
	opts.ImageFetcher = f
	rt.openAIOpts = opts
}

// SetResourceRecheck shortens how often s re-reads a resource record it
// holds in memory, so a test need not wait resourceRecheck.
func SetResourceRecheck(s *Server, d time.Duration) { s.owned.recheck = d }
