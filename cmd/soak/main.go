// Command soak runs balance (bin/balance, as a child process) for a
// bounded time under everything that goes wrong at once, and fails unless
// nothing leaked, nothing was lost and nothing was cut silently:
//
//   - mixed client traffic (Gemini and OpenAI, unary and streams, a share
//     cancelled by the client mid-flight) through balance to the mock
//     upstream, which injects every fault kind on a moving set of keys;
//   - the config rewritten every few seconds, good and broken, and the
//     hook module swapped;
//   - the MySQL store made unreachable (a cuttable TCP proxy) for a while
//     and brought back.
//
// At the end it checks that every request got a 2xx or a clean error in
// its protocol, that every request is in the store, that no pool key or
// token is in the log or the database, that RSS and goroutines stayed
// flat after warm-up, and measures how long upstream calls ran on after
// their client cancelled. `make soak` runs it (DURATION=2m for a short
// run); it is not part of `make test`. Loopback only.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/balanceproxy/balance/internal/mockgemini"
	"github.com/balanceproxy/balance/internal/netcut"
)

type options struct {
	duration      time.Duration
	balance       string
	repo          string
	mysqlDSN      string
	concurrency   int
	cancelShare   float64
	rewriteEvery  time.Duration
	faultEvery    time.Duration
	requireCancel bool
	keep          bool
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "how long traffic runs")
	flag.StringVar(&o.balance, "balance", "bin/balance", "the balance binary to soak (make soak builds it)")
	flag.StringVar(&o.repo, "repo", ".", "repository root (hook guests are built from it)")
	flag.StringVar(&o.mysqlDSN, "mysql", "root@tcp(127.0.0.1:3306)/", "MySQL/MariaDB admin DSN; the soak creates and drops a database of its own")
	flag.IntVar(&o.concurrency, "concurrency", 6, "client requests in flight")
	flag.Float64Var(&o.cancelShare, "cancel", 0.10, "share of requests the client cancels mid-flight")
	flag.DurationVar(&o.rewriteEvery, "rewrite-every", 3*time.Second, "how often the config is rewritten")
	flag.DurationVar(&o.faultEvery, "fault-every", 2*time.Second, "how often the faulted keys change")
	flag.BoolVar(&o.requireCancel, "require-cancel", true, "fail when an upstream call outlives its cancelled client by more than 100ms (false: report only)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (config, log) and the database")
	flag.Parse()
	if o.duration < 20*time.Second {
		fmt.Fprintln(os.Stderr, "soak: -duration must be at least 20s (the outage alone takes 10s)")
		os.Exit(2)
	}
	r, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	r.Print(os.Stdout)
	if len(r.Failures()) > 0 {
		os.Exit(1)
	}
}

// secretText returns a random alphanumeric string of n characters.
func secretText(prefix string, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte(prefix)
	for len(b) < n {
		i, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b = append(b, alphabet[i.Int64()])
	}
	return string(b)
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// outageWindow places the MySQL outage (a tenth of the run, at least
// 10 s and at most a minute) in the third quarter of the run, so that the
// quarters the flatness check compares are outside it (runs under about
// 100 s are too short for that).
func outageWindow(d time.Duration) (from, length time.Duration) {
	length = min(max(d/10, 10*time.Second), time.Minute)
	from = d * 55 / 100
	if from+length > d*3/4 {
		from = max(d*3/4-length, d/2)
	}
	return from, length
}

func run(o options) (*Report, error) {
	bin, err := filepath.Abs(o.balance)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("balance binary: %w (run `make build` or pass -balance)", err)
	}
	dir, err := os.MkdirTemp("", "balance-soak-")
	if err != nil {
		return nil, err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	setup, cancelSetup := context.WithTimeout(context.Background(), time.Minute)
	defer cancelSetup()

	db, err := createDB(setup, o.mysqlDSN)
	if err != nil {
		return nil, err
	}
	defer func() {
		if o.keep {
			fmt.Printf("kept: %s and database %s\n", dir, db.name)
			return
		}
		if err := db.drop(); err != nil {
			fmt.Fprintln(os.Stderr, "soak: drop database:", err)
		}
	}()
	cut, err := netcut.Listen(db.cfg.Addr)
	if err != nil {
		return nil, err
	}
	defer cut.Cut()

	up, err := startUpstream(mockgemini.Options{StreamChunks: 8, StreamDelay: 40 * time.Millisecond, DisableRecording: true})
	if err != nil {
		return nil, err
	}
	upClosed := false
	defer func() {
		if !upClosed {
			up.Close()
		}
	}()

	if err := os.MkdirAll(filepath.Join(dir, "hooks"), 0o700); err != nil {
		return nil, err
	}
	modules, err := hookModules(o.repo, dir)
	if err != nil {
		return nil, err
	}
	listen, err := freePort()
	if err != nil {
		return nil, err
	}
	w := &world{dir: dir, listen: listen, mockURL: up.url, dsn: db.dsnVia(cut.Addr()),
		statusToken: secretText("st-", 32), hookPath: filepath.Join(dir, "hooks", "hook.wasm")}
	for i := 0; i < 12; i++ {
		w.keys = append(w.keys, secretText("AIzaSoak", 39))
	}
	for i := 0; i < 2; i++ {
		w.tokens = append(w.tokens, "sk-soak-"+randHex(12))
	}
	secrets := append(append(append([]string(nil), w.keys...), w.tokens...), w.statusToken)
	if err := writeAtomically(w.hookPath, modules[0]); err != nil {
		return nil, err
	}
	first := goodVariant(0, w.keys)
	first.keys = w.keys
	if err := writeAtomically(w.configPath(), w.render(first)); err != nil {
		return nil, err
	}

	base := "http://" + listen
	bal, err := startBalance(bin, w.configPath(), base, w.statusToken, filepath.Join(dir, "balance.log"))
	if err != nil {
		return nil, err
	}
	balStopped := false
	defer func() {
		if !balStopped {
			_ = bal.stop(10 * time.Second)
		}
	}()

	rep := &Report{Planned: o.duration, Concurrency: o.concurrency, RequireCancel: o.requireCancel}
	start := time.Now()
	bg, stopBG := context.WithCancel(context.Background())
	var bgDone = make(chan struct{}, 4)
	smp := &sampler{}
	go func() { smp.run(bg, bal, start, 2*time.Second); bgDone <- struct{}{} }()
	flt := newFaulter(up.mock, w.keys, 4)
	go func() { flt.run(bg, o.faultEvery); bgDone <- struct{}{} }()
	rw := &rewriter{w: w, bal: bal, modules: modules, rev: 0}
	go func() { rw.run(bg, o.rewriteEvery); bgDone <- struct{}{} }()
	outFrom, outLen := outageWindow(o.duration)
	go func() {
		defer func() { bgDone <- struct{}{} }()
		select {
		case <-bg.Done():
			return
		case <-time.After(time.Until(start.Add(outFrom))):
		}
		cut.Cut()
		rep.OutageFrom = time.Since(start)
		// Half-way through, note what status says about the store.
		select {
		case <-bg.Done():
		case <-time.After(outLen / 2):
			if st, err := bal.status(bg); err == nil && st.Store != nil {
				rep.OutageStoreStatus = fmt.Sprintf("ok=%t queued=%d failed_batches=%d dropped=%d", st.Store.OK, st.Store.Queued, st.Store.FailedBatches, st.Store.Dropped)
			} else {
				rep.OutageStoreStatus = fmt.Sprintf("status unavailable: %v", err)
			}
			select {
			case <-bg.Done():
			case <-time.After(outLen - outLen/2):
			}
		}
		if err := cut.Restore(); err != nil {
			rep.Problems = append(rep.Problems, "restore the MySQL proxy: "+err.Error())
		}
		rep.OutageTo = time.Since(start)
	}()

	cl := newClient(base, w.tokens, w.keys, o.concurrency, o.cancelShare)
	traffic, stopTraffic := context.WithTimeout(context.Background(), o.duration)
	cl.run(traffic, o.concurrency)
	stopTraffic()
	rep.Elapsed = time.Since(start)
	stopBG()
	for i := 0; i < 4; i++ {
		<-bgDone
	}
	rep.Results = cl.Results()
	rep.Faults = flt.injected
	rep.Reloads = rw.stats
	rep.Samples = smp.Samples()

	// Every upstream call ends within balance's upstream timeout (4s);
	// the watchers give up after a minute.
	up.Close()
	upClosed = true
	rep.Cancel = cancelFigure(rep.Results, up.Calls)

	rep.Store = settleStore(bal, db, len(rep.Results))
	balStopped = true
	if err := bal.stop(20 * time.Second); err != nil {
		rep.Problems = append(rep.Problems, "balance did not stop cleanly: "+err.Error())
	}
	var lerr error
	rep.Log, rep.LogSecrets, lerr = scanLog(bal.logPath, secrets)
	if lerr != nil {
		rep.Problems = append(rep.Problems, "read balance's log: "+lerr.Error())
	}
	scan, cancelScan := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelScan()
	var derr error
	rep.DBSecrets, rep.DBValuesScanned, derr = db.secretsInTables(scan, secrets)
	if derr != nil {
		rep.Problems = append(rep.Problems, "scan the database: "+derr.Error())
	}
	rep.judge()
	return rep, nil
}

// settleStore waits (up to two minutes) for balance to record every
// request and for its store to write them, then counts the rows.
func settleStore(bal *balanceProc, db *soakDB, requests int) StoreFacts {
	f := StoreFacts{ClientRequests: requests}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		st, err := bal.status(ctx)
		if err == nil && st.Store != nil {
			s := st.Store
			f.Written, f.Dropped, f.FailedBatches, f.OK = s.Written, s.Dropped, s.FailedBatches, s.OK
			if s.Queued == 0 && s.Pending == 0 && s.Written+s.Dropped >= uint64(requests) {
				break
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	c, err := db.counts(context.Background())
	f.Counts = c
	if err != nil {
		f.CountErr = err.Error()
	}
	return f
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
