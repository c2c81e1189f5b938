package store_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/balanceproxy/balance/store"
)

// The engine opens the store once, records from request handlers, reads
// summaries for the status view, and closes it last at shutdown.
func Example() {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Config{Driver: "sqlite", DSN: ":memory:", FlushInterval: 10 * time.Millisecond})
	if err != nil {
		log.Fatal(err) // or run without persistence
	}
	// In the handler, after the response is done (strings copied out of
	// fasthttp buffers, key fingerprinted):
	s.Record(store.Request{Token: "team-a", ModelSent: "gemini-2.5-flash", Pool: "main", KeyFP: "AIza…x7Q2",
		Status: 200, Latency: 800 * time.Millisecond, PromptTokens: 12, CompletionTokens: 40})
	s.Record(store.Request{Token: "team-a", ModelSent: "gemini-2.5-flash", Pool: "main", KeyFP: "AIza…k3P1",
		Status: 503, Latency: 2 * time.Second})

	// Close flushes the queue; a status view would call Summary instead.
	if err := s.Close(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("written:", s.Health().Written)
	// Output: written: 2
}
