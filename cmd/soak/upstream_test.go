package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// The upstream watch is the soak's instrument for "no upstream call
// outlives its client": it must see a streamed answer end when its last
// chunk is written, and a call end when the caller closes the connection
// while the mock is still working on it.
func TestUpstreamWatchSeesAnswersAndClosedConnections(t *testing.T) {
	up, err := startUpstream(mockgemini.Options{StreamChunks: 4, StreamDelay: 20 * time.Millisecond, DisableRecording: true})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	post := func(ctx context.Context, key, method string, id int64) (*http.Response, error) {
		body := `{"contents":[{"role":"user","parts":[{"text":"` + markerFor(id, true) + ` hi"}]}]}`
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, up.url+"/v1beta/models/gemini-2.5-flash:"+method, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("x-goog-api-key", key)
		return http.DefaultClient.Do(req)
	}
	waitEnded := func(id int64) upstreamCall {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if cs := up.Calls(id); len(cs) == 1 && !cs[0].End.IsZero() {
				return cs[0]
			}
		}
		t.Fatalf("call %d never ended: %+v", id, up.Calls(id))
		return upstreamCall{}
	}

	t.Run("stream read to the end", func(t *testing.T) {
		resp, err := post(context.Background(), "k-stream", "streamGenerateContent?alt=sse", 1)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		read := time.Now()
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		c := waitEnded(1)
		// The mock notes the end after its last write returns, which can be
		// a moment after the client has read it: allow a scheduling slice.
		if c.How != "answered" || c.End.Sub(c.Start) < 40*time.Millisecond || c.End.After(read.Add(20*time.Millisecond)) {
			t.Fatalf("stream call = %+v (read done at %s)", c, read)
		}
	})

	t.Run("caller closes a slow call", func(t *testing.T) {
		up.mock.SetFault("k-slow", mockgemini.Fault{Kind: mockgemini.Slow, Delay: 3 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		var cancelled time.Time
		time.AfterFunc(200*time.Millisecond, func() { cancelled = time.Now(); cancel() })
		if _, err := post(ctx, "k-slow", "generateContent", 2); err == nil {
			t.Fatal("the slow call answered before the cancel")
		}
		c := waitEnded(2)
		if c.How != "closed by balance" {
			t.Fatalf("slow call = %+v", c)
		}
		if d := c.End.Sub(cancelled); d < 0 || d > time.Second {
			t.Fatalf("close seen %s after the cancel", d)
		}
	})
}
