// Command mockgemini serves the faithful mock Gemini API (package
// internal/mockgemini) for the demo, manual testing and load benchmarks.
//
// Faults are chosen by key spelling (keys containing -429-, -invalid-,
// -403-, -503-, -slow-, -cut-) or by -failmod. Stats: GET /_mock/stats.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mockgemini:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:9100", "address to listen on")
	keys := flag.String("keys", "", "comma-separated valid keys (empty: any key is valid)")
	failMod := flag.Int("failmod", 0, "keys whose trailing number is divisible by N answer 429 (0: off)")
	chunks := flag.Int("stream-chunks", 3, "text chunks per streamed answer")
	streamDelay := flag.Duration("stream-delay", 0, "delay between streamed events")
	slowDelay := flag.Duration("slow-delay", 500*time.Millisecond, "delay of keys containing -slow-")
	record := flag.Bool("record", false, "keep a copy of the last request (costs a copy per request)")
	flag.Parse()

	var valid []string
	for _, k := range strings.Split(*keys, ",") {
		if k = strings.TrimSpace(k); k != "" {
			valid = append(valid, k)
		}
	}
	srv := mockgemini.New(mockgemini.Options{
		ValidKeys:        valid,
		FailMod:          *failMod,
		StreamChunks:     *chunks,
		StreamDelay:      *streamDelay,
		SlowDelay:        *slowDelay,
		DisableRecording: !*record,
	})
	url, err := srv.Listen(*listen)
	if err != nil {
		return err
	}
	fmt.Println(url)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("closing: %w", err)
	}
	return nil
}
