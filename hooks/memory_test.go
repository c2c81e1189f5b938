package hooks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The guest-memory scenario of issue 10: six callers run a guest that
// allocates until it hits its 32 MiB cap, through a hook with
// max_instances = 2. At most two instances exist at any time, so guest
// memory may add at most 2 × 32 MiB to the process, plus a small constant
// for the host's own bookkeeping.
const (
	memScenarioCallers   = 6
	memScenarioInstances = 2
	memScenarioCap       = 32 << 20
	memScenarioCalls     = 5 // per caller: 30 instances fill up and die
	// memScenarioSlack is the host's share: wazero's per-instance
	// structures, envelope buffers, goroutines and Go heap noise.
	memScenarioSlack = 32 << 20
	memChildEnv      = "BALANCE_HOOKS_MEMORY_CHILD"
	memResultPrefix  = "hooks-memory-result:"
)

// TestGuestMemoryIsBoundedByCaps runs the scenario in a fresh process (a
// test binary shares its peak RSS with every test that ran before) and
// asserts that the process's peak RSS grew by no more than the guests'
// caps plus a small constant. The figures are printed with -v:
//
//	go test -run TestGuestMemoryIsBoundedByCaps -v ./hooks
func TestGuestMemoryIsBoundedByCaps(t *testing.T) {
	if os.Getenv(memChildEnv) != "" {
		runMemoryScenario(t)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("measures RSS through /proc/self")
	}
	if testing.Short() {
		t.Skip("fills 30 guest memories")
	}
	if raceEnabled {
		// The race detector shadows the Go heap and inflates every
		// figure; the bound is about the host, measured without it.
		t.Skip("RSS is not meaningful under the race detector")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGuestMemoryIsBoundedByCaps$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), memChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scenario process: %v\n%s", err, out)
	}
	var base, peak, after, calls int64
	found := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, memResultPrefix); i >= 0 {
			_, err := fmt.Sscanf(line[i+len(memResultPrefix):], " base=%d peak=%d after=%d calls=%d", &base, &peak, &after, &calls)
			found = err == nil
		}
	}
	if !found {
		t.Fatalf("no result line in the scenario's output:\n%s", out)
	}
	caps := int64(memScenarioInstances * memScenarioCap)
	growth := peak - base
	t.Logf("%d callers, max_instances %d, cap %d MiB, %d calls that filled their guest: RSS %d MiB before, peak %d MiB: +%d MiB for %d MiB of caps (%.2f×); %d MiB after",
		memScenarioCallers, memScenarioInstances, memScenarioCap>>20, calls, base>>20, peak>>20, growth>>20, caps>>20, float64(growth)/float64(caps), after>>20)
	if growth > caps+memScenarioSlack {
		t.Errorf("peak RSS grew by %d MiB, more than the caps (%d MiB) plus %d MiB", growth>>20, caps>>20, memScenarioSlack>>20)
	}
	// Every instance died of OOM and was discarded: its memory must be
	// back with the OS, not waiting for a garbage collection.
	if after-base > memScenarioSlack {
		t.Errorf("RSS stayed %d MiB above the baseline after the guests were discarded", (after-base)>>20)
	}
}

func runMemoryScenario(t *testing.T) {
	rt := newTestRuntime(t)
	h := load(t, rt, Spec{MaxInstances: memScenarioInstances, MemoryLimitBytes: memScenarioCap, Timeout: time.Minute})
	// Warm-up: one instance fills up and dies, so the host's one-time
	// costs (code, pools, first goroutines) are in the baseline.
	if _, err := h.Call(context.Background(), PhaseRequest, withMode("hog")); err == nil {
		t.Fatal("hog call succeeded")
	}
	runtime.GC()
	debug.FreeOSMemory()
	base := rssBytes(t, "VmRSS")
	// Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var calls int64
	for range memScenarioCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range memScenarioCalls {
				_, err := h.Call(context.Background(), PhaseRequest, withMode("hog"))
				var ce *CallError
				if !errors.As(err, &ce) || ce.Kind != KindOOM {
					t.Errorf("hog call: %v, want an oom CallError", err)
					return
				}
				mu.Lock()
				calls++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	peak := rssBytes(t, "VmHWM")
	after := rssBytes(t, "VmRSS")
	fmt.Printf("%s base=%d peak=%d after=%d calls=%d\n", memResultPrefix, base, peak, after, calls)
}

// rssBytes reads a field of /proc/self/status, in bytes.
func rssBytes(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// TestRuntimeCloseWaitsForRunningGuests: closing the runtime frees every
// instance's memory, so it must wait for guest code still running (here
// until the call's timeout stops it) rather than unmap memory under it;
// calls after Close fail as closed.
func TestRuntimeCloseWaitsForRunningGuests(t *testing.T) {
	rt := newTestRuntime(t)
	const timeout = 300 * time.Millisecond
	h := load(t, rt, Spec{MaxInstances: 2, Timeout: timeout})
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := h.Call(context.Background(), PhaseRequest, withMode("spin"))
		errc <- err
	}()
	for h.Stats().Calls == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(30 * time.Millisecond) // the pre-warmed instance is spinning
	if err := rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed := time.Since(start)
	err := <-errc
	var ce *CallError
	if errors.As(err, &ce) && ce.Kind == KindClosed {
		t.Skip("the guest had not started when Close ran")
	}
	callErr(t, err, KindTimeout)
	// A lower bound only: the guest cannot stop before its timeout.
	if closed < timeout {
		t.Errorf("Close returned %v after the call started, before the guest's %v timeout stopped it", closed, timeout)
	}
	_, err = h.Call(context.Background(), PhaseRequest, withMode("continue"))
	callErr(t, err, KindClosed)
}
