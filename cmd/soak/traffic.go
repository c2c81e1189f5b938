package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Route is one kind of client call the soak makes.
type Route int

const (
	NativeUnary Route = iota
	NativeStream
	OpenAIUnary
	OpenAIStream
	routeCount
)

var routeNames = [routeCount]string{"gemini unary", "gemini stream", "openai unary", "openai stream"}

func (r Route) String() string { return routeNames[r] }

// Native reports whether the route speaks the Gemini protocol.
func (r Route) Native() bool { return r == NativeUnary || r == NativeStream }

// Stream reports whether the route answers with SSE.
func (r Route) Stream() bool { return r == NativeStream || r == OpenAIStream }

// Result is one client request as the soak records it.
type Result struct {
	ID       int64
	Route    Route
	Start    time.Time
	Latency  time.Duration // to the end of the body (or to the cancel)
	Outcome  Outcome
	Reason   string
	CancelAt time.Time // zero unless the client cancelled it
}

// client makes the soak's traffic against balance.
type client struct {
	base    string
	tokens  []string
	keys    []string // pool keys: none may appear in an answer
	http    *http.Client
	cancelP float64 // share of requests the client abandons mid-flight

	mu      sync.Mutex
	nextID  int64
	results []Result
}

func newClient(base string, tokens, keys []string, concurrency int, cancelP float64) *client {
	tr := &http.Transport{MaxIdleConnsPerHost: concurrency, MaxIdleConns: concurrency, IdleConnTimeout: 30 * time.Second}
	return &client{base: base, tokens: tokens, keys: keys, cancelP: cancelP,
		http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// run makes requests on `workers` goroutines until ctx ends, then waits
// for the requests in flight.
func (c *client) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c.one(Route(rand.IntN(int(routeCount))))
				// A short, random think time keeps the load moderate on a
				// shared machine and desynchronises the workers.
				select {
				case <-ctx.Done():
				case <-time.After(time.Duration(rand.IntN(40)) * time.Millisecond):
				}
			}
		}()
	}
	wg.Wait()
	c.http.CloseIdleConnections()
}

func (c *client) id() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	return c.nextID
}

// request builds the HTTP request of a route. The prompt carries the
// request's marker, which the upstream side uses to find the calls made
// for it (see upstream.handle).
func (c *client) request(ctx context.Context, r Route, marker string) (*http.Request, error) {
	token := c.tokens[rand.IntN(len(c.tokens))]
	model := "gemini-2.5-flash"
	if rand.IntN(4) == 0 {
		model = "gemini-2.5-pro"
	}
	prompt := marker + " tell me about soak tests " + strconv.Itoa(rand.IntN(1000))
	var url string
	var body []byte
	switch r {
	case NativeUnary, NativeStream:
		method := ":generateContent"
		if r == NativeStream {
			method = ":streamGenerateContent?alt=sse"
		}
		url = c.base + "/v1beta/models/" + model + method
		body = fmt.Appendf(nil, `{"contents":[{"role":"user","parts":[{"text":%q}]}]}`, prompt)
	default:
		url = c.base + "/v1/chat/completions"
		body = fmt.Appendf(nil, `{"model":%q,"stream":%t,"messages":[{"role":"user","content":%q}]}`, model, r == OpenAIStream, prompt)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if r.Native() {
		req.Header.Set("x-goog-api-key", token)
	} else {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// one makes one request; a share of them is cancelled after a random
// delay, while the answer may still be on its way.
func (c *client) one(r Route) {
	id := c.id()
	planCancel := rand.Float64() < c.cancelP
	marker := markerFor(id, planCancel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := Result{ID: id, Route: r, Start: time.Now()}
	var cancelAt time.Time
	var timer *time.Timer
	if planCancel {
		delay := time.Duration(20+rand.IntN(600)) * time.Millisecond
		timer = time.AfterFunc(delay, func() {
			cancelAt = time.Now()
			cancel()
		})
	}
	req, err := c.request(ctx, r, marker)
	if err != nil {
		res.Outcome, res.Reason = OutcomeBad, err.Error()
		c.add(res)
		return
	}
	a := Answer{Route: r}
	resp, err := c.http.Do(req)
	if err == nil {
		a.Status, a.ContentType = resp.StatusCode, resp.Header.Get("Content-Type")
		a.Body, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
	}
	a.ReadErr = err
	res.Latency = time.Since(res.Start)
	if timer != nil && !timer.Stop() {
		// The cancel fired: whatever was read is partial by the client's
		// own choice. (The AfterFunc has returned: cancel() ran before
		// the read could fail, and Stop reporting false happens after.)
		<-ctx.Done()
		res.Outcome, res.CancelAt = OutcomeCancelled, cancelAt
		c.add(res)
		return
	}
	res.Outcome, res.Reason = Judge(a)
	for _, k := range c.keys {
		if bytes.Contains(a.Body, []byte(k)) {
			res.Outcome, res.Reason = OutcomeBad, "a pool key in the answer"
		}
	}
	c.add(res)
}

func (c *client) add(r Result) {
	c.mu.Lock()
	c.results = append(c.results, r)
	c.mu.Unlock()
}

// Results returns every request made, in completion order.
func (c *client) Results() []Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Result(nil), c.results...)
}
