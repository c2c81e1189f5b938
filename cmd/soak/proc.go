package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// balanceProc is bin/balance running as a child process, so its memory
// and goroutines are its own, not mixed with the soak's.
type balanceProc struct {
	cmd         *exec.Cmd
	base        string
	statusToken string
	logPath     string
	logFile     *os.File
	http        *http.Client
	exited      chan struct{}
	exitErr     error
}

func startBalance(bin, config, base, statusToken, logPath string) (*balanceProc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "-config", config)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &balanceProc{cmd: cmd, base: base, statusToken: statusToken, logPath: logPath, logFile: lf,
		http: &http.Client{Timeout: 10 * time.Second}, exited: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("balance exited at start (%v); see %s", p.exitErr, logPath)
		default:
		}
		if resp, err := p.http.Get(base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop(time.Second)
			return nil, fmt.Errorf("balance did not answer /health within 30s; see %s", logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the exit (SIGKILL after wait).
func (p *balanceProc) stop(wait time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(wait):
		_ = p.cmd.Process.Kill()
		<-p.exited
		p.logFile.Close()
		return fmt.Errorf("balance did not exit within %s of SIGTERM; killed", wait)
	}
	p.logFile.Close()
	return p.exitErr
}

// statusDoc is the part of balance's status JSON the soak reads.
type statusDoc struct {
	Generation uint64 `json:"generation"`
	Reloads    []struct {
		Time  time.Time `json:"time"`
		Error string    `json:"error"`
	} `json:"reloads"`
	Store *struct {
		OK            bool   `json:"ok"`
		Queued        int    `json:"queued"`
		Pending       int    `json:"pending"`
		Written       uint64 `json:"written"`
		Dropped       uint64 `json:"dropped"`
		FailedBatches uint64 `json:"failed_batches"`
	} `json:"store"`
}

func (p *balanceProc) status(ctx context.Context) (*statusDoc, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/status?period=1m", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.statusToken)
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status: HTTP %d", resp.StatusCode)
	}
	var d statusDoc
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return &d, nil
}

// goroutines scrapes go_goroutines from balance's Prometheus endpoint.
func (p *balanceProc) goroutines() (int, error) {
	resp, err := p.http.Get(p.base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return 0, errors.New("metrics: no go_goroutines")
}

// rssBytes reads VmRSS of the process from /proc.
func (p *balanceProc) rssBytes() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// Sample is one reading of balance's resource use.
type Sample struct {
	At         time.Duration // since the soak started
	RSS        int64
	Goroutines int
}

// sampler reads RSS and goroutines every interval until ctx ends.
type sampler struct {
	mu      sync.Mutex
	samples []Sample
}

func (s *sampler) run(ctx context.Context, p *balanceProc, start time.Time, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rss, err1 := p.rssBytes()
			g, err2 := p.goroutines()
			if err1 != nil || err2 != nil {
				continue
			}
			s.mu.Lock()
			s.samples = append(s.samples, Sample{At: time.Since(start), RSS: rss, Goroutines: g})
			s.mu.Unlock()
		}
	}
}

func (s *sampler) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.samples...)
}

// findSecrets reports which of secrets occur in r, with a count each.
func findSecrets(r io.Reader, secrets []string) (map[string]int, error) {
	found := map[string]int{}
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		for _, s := range secrets {
			if n := bytes.Count(line, []byte(s)); n > 0 {
				found[s] += n
			}
		}
		if errors.Is(err, io.EOF) {
			return found, nil
		}
		if err != nil {
			return found, err
		}
	}
}

// logFacts is what the soak reads from balance's log besides secrets.
type logFacts struct {
	Lines, Warn, Error int
	Panics             []string
}

func scanLog(path string, secrets []string) (logFacts, map[string]int, error) {
	var lf logFacts
	b, err := os.ReadFile(path)
	if err != nil {
		return lf, nil, err
	}
	found, err := findSecrets(bytes.NewReader(b), secrets)
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		lf.Lines++
		switch {
		case bytes.Contains(line, []byte("level=WARN")):
			lf.Warn++
		case bytes.Contains(line, []byte("level=ERROR")):
			lf.Error++
		}
		if bytes.HasPrefix(line, []byte("panic:")) || bytes.HasPrefix(line, []byte("fatal error:")) || bytes.Contains(line, []byte("DATA RACE")) {
			lf.Panics = append(lf.Panics, string(line))
		}
	}
	return lf, found, err
}
