package engine

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// A stream body set with setStreamWriter is written by fasthttp's
// connection goroutine through WriteTo, and every Flush reaches the client
// as it happens: the second event is written only once the client has
// read the first, so a body that fasthttp buffered (or read through Read,
// which fails) would never complete.
func TestSetStreamWriterFlushesEachWriteToTheClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gotFirst := make(chan struct{})
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/event-stream")
		setStreamWriter(ctx, func(w *bufio.Writer) {
			_, _ = w.WriteString("data: one\r\n\r\n")
			if err := w.Flush(); err != nil {
				t.Errorf("flush: %v", err)
				return
			}
			select {
			case <-gotFirst:
			case <-time.After(10 * time.Second):
				t.Error("the client never saw the first event: the write was not flushed")
			}
			_, _ = w.WriteString("data: two\r\n\r\n")
		})
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if te := resp.TransferEncoding; len(te) != 1 || te[0] != "chunked" {
		t.Errorf("transfer encoding %v, want chunked", te)
	}
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	if err != nil || line != "data: one\r\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(gotFirst)
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("rest: %v", err)
	}
	if want := "\r\ndata: two\r\n\r\n"; string(rest) != want {
		t.Errorf("rest %q, want %q", rest, want)
	}
}

// The writer runs exactly once: through WriteTo, or, when fasthttp never
// sent the body, when the body is closed, against a writer that fails
// like a client that went away (so the stream is still recorded).
func TestStreamWriterRunsOnce(t *testing.T) {
	tests := []struct {
		name      string
		writeTo   bool
		wantWrite string // what reached dst
		wantErr   error  // what the writer's Flush saw
	}{
		{"sent", true, "event", nil},
		{"never sent", false, "", errClientGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs := 0
			var flushErr error
			sw := &streamWriter{write: func(w *bufio.Writer) {
				runs++
				_, _ = w.WriteString("event")
				flushErr = w.Flush()
			}}
			var dst strings.Builder
			if tt.writeTo {
				n, err := sw.WriteTo(&dst)
				if err != nil || n != int64(len("event")) {
					t.Errorf("WriteTo = %d, %v", n, err)
				}
				if _, err := sw.WriteTo(&dst); !errors.Is(err, errStreamWritten) {
					t.Errorf("second WriteTo: %v, want errStreamWritten", err)
				}
			}
			if err := sw.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := sw.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if runs != 1 {
				t.Errorf("writer ran %d times, want 1", runs)
			}
			if dst.String() != tt.wantWrite {
				t.Errorf("dst got %q, want %q", dst.String(), tt.wantWrite)
			}
			if !errors.Is(flushErr, tt.wantErr) {
				t.Errorf("writer's flush: %v, want %v", flushErr, tt.wantErr)
			}
			if _, err := sw.Read(make([]byte, 8)); !errors.Is(err, errStreamWritten) {
				t.Errorf("Read: %v, want errStreamWritten", err)
			}
		})
	}
}
