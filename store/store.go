package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// Defaults applied by Open to zero Config fields.
const (
	DefaultQueueSize     = 65536
	DefaultBatchSize     = 4096
	DefaultFlushInterval = 500 * time.Millisecond
	DefaultPruneInterval = time.Minute
	DefaultMaxBodyBytes  = 64 << 10

	defaultKeyStateQueue = 4096
	pruneBatch           = 1000
	pruneChunkBatch      = 16
)

// Retention says how long each kind of row is kept. Zero fields take the
// defaults (7 days of raw requests, 30 days of errors, 90 days of hourly
// rollups, 8 days of minute rollups). A negative value keeps rows forever.
type Retention struct {
	Requests      time.Duration
	Errors        time.Duration
	Rollups       time.Duration // hourly rollups
	MinuteRollups time.Duration // minute rollups; at least 2h so Summary can stitch hours and minutes
}

// Config configures Open. Only Driver and DSN matter in practice; the rest
// has defaults sized for a busy proxy.
type Config struct {
	Driver        string        // "sqlite" (default) or "mysql"
	DSN           string        // sqlite: file path (":memory:" for tests); mysql: go-sql-driver DSN
	QueueSize     int           // bounded queue between Record and the writer; default 65536
	BatchSize     int           // rows per writer transaction; default 4096
	FlushInterval time.Duration // longest a record waits for its batch to fill; default 500ms
	PruneInterval time.Duration // how often retention runs; default 1m
	MaxBodyBytes  int           // hard cap on stored error/request bodies; default 64 KiB
	Retention     Retention
	InstanceID    string // names this process in shared key state; default host-pid-random
	Logger        *slog.Logger
}

// Request is one finished proxied request as the engine saw it. Strings are
// copied by value, so callers must hand over Go strings, never views of
// fasthttp buffers. Secrets must already be fingerprinted or redacted.
type Request struct {
	Time             time.Time // when the request finished; zero means now
	RequestID        string
	Token            string // client token name, never the token
	Route            string
	Protocol         string // "gemini" or "openai"
	ModelAsked       string
	ModelSent        string
	Pool             string
	KeyFP            string // secret.KeyFingerprint of the key, never the key
	Status           int
	ErrorClass       string // "" for success
	Attempts         int
	Latency          time.Duration
	TTFB             time.Duration
	PromptTokens     int
	CompletionTokens int
	ThoughtTokens    int
	CachedTokens     int
	Streamed         bool
	// Uploads is 1 for a request that finished a Files API upload (a
	// multipart upload, or the chunk that finalized a resumable one);
	// UploadBytes is the upload body bytes it carried to Google. Both are
	// summed in the rollups, not kept in the raw request rows.
	Uploads     int
	UploadBytes int64
	ErrorBody   string // upstream error body, already redacted by the caller
	RequestBody string // optional, already capped and redacted by the caller
	// FailedAttempts are the upstream attempts that failed before the
	// last one (which the fields above describe): each is an error-log
	// row of its own, under its key, but no request of its own in counts
	// and rollups.
	FailedAttempts []Attempt
}

// Attempt is one failed upstream attempt of a request that went on to
// another key.
type Attempt struct {
	Time       time.Time // when the attempt ended
	KeyFP      string
	Status     int    // the upstream HTTP status; 0 when no answer came
	ErrorClass string // the verdict on the answer
	Latency    time.Duration
	ErrorBody  string // the upstream error (or transport failure), redacted by the caller
}

// Failed reports whether r counts as a failure: it has an error class or
// an HTTP status of 400 or above.
func (r *Request) Failed() bool { return r.ErrorClass != "" || r.Status >= 400 }

// Health is a snapshot of the writer's state for the status view and logs.
type Health struct {
	Driver          string
	Queued          int // records waiting in the queue
	QueueCap        int
	Pending         int    // records held by the writer (a batch being written or retried)
	Written         uint64 // request records committed
	Dropped         uint64 // request records lost: queue full, store closed, or discarded after repeated rejection
	KeyStateDropped uint64 // key-state updates lost because their queue was full
	FailedBatches   uint64 // batch transactions that failed (each is retried)
	LastError       string
	LastErrorAt     time.Time
	LastSuccessAt   time.Time
	Lag             time.Duration // age of the oldest record not yet written; 0 when caught up
	OK              bool          // the last batch attempt succeeded (or none failed yet)
}

// Store records request stats and shared key state. Its writer and pruner
// goroutines are owned by the Store and stopped by Close.
type Store struct {
	cfg      Config
	d        dialect
	wdb      *sqlx.DB // the single writer connection (SQLite) or the pool (MySQL)
	rdb      *sqlx.DB // readers; equals wdb where a second pool makes no sense
	log      *slog.Logger
	queue    chan Request
	ksQueue  chan KeyState
	ins      inserts     // INSERT statements in this dialect
	instance any         // cfg.InstanceID as an INSERT argument
	text     sqlText     // their SQL per chunk size (MySQL); owned by the writer goroutine
	lite     *sqliteConn // SQLite: prepared statements on the writer connection; owned by the writer

	closed   atomic.Bool
	stop     chan struct{} // closed by Close: writer drains, pruner and watchers exit
	closeCtx context.Context
	wg       sync.WaitGroup // writer + pruner + watchers
	mu       sync.Mutex     // orders WatchKeyStates' wg.Add before Close's wg.Wait

	written       atomic.Uint64
	dropped       atomic.Uint64
	ksDropped     atomic.Uint64
	failedBatches atomic.Uint64
	pending       atomic.Int64
	oldestMs      atomic.Int64 // Time of the oldest held record, unix ms; 0 when none
	lastOKMs      atomic.Int64
	lastErrMs     atomic.Int64
	failing       atomic.Bool
	lastErr       atomic.Pointer[string]

	// respQueue carries kept responses to the writer; respPending holds
	// them (by id) until committed, for read-your-writes (responses.go).
	respQueue   chan *pendingResponse
	respMu      sync.Mutex
	respPending map[string]*pendingResponse
}

// ErrClosed is returned by operations on a closed Store.
var ErrClosed = errors.New("store: closed")

// Open connects to the database, applies pending migrations and starts the
// writer and pruner. A wrong DSN or an unreachable database is reported
// here with the driver and (password-free) address, so the engine can decide
// whether to run without persistence.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = withDefaults(cfg)
	d, err := dialectFor(cfg.Driver)
	if err != nil {
		return nil, err
	}
	wdb, rdb, err := d.open(ctx, cfg.DSN)
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg:      cfg,
		d:        d,
		wdb:      wdb,
		rdb:      rdb,
		log:      cfg.Logger.With("component", "store", "driver", d.name()),
		queue:    make(chan Request, cfg.QueueSize),
		ksQueue:  make(chan KeyState, defaultKeyStateQueue),
		ins:      newInserts(d),
		text:     sqlText{},
		instance: cfg.InstanceID,
		stop:     make(chan struct{}),

		respQueue:   make(chan *pendingResponse, respQueueSize),
		respPending: map[string]*pendingResponse{},
	}
	if d.prepareInserts() {
		s.lite = newSQLiteConn()
	}
	if file := sqliteFile(cfg.DSN); d.name() == "sqlite" && file != "" {
		if loose := sqliteOpenToOthers(file); len(loose) > 0 {
			s.log.Warn("database files are open to other users (balance creates them 0600); chmod 600 them", "files", strings.Join(loose, ", "))
		}
	}
	if err := migrate(ctx, s.wdb, d); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("store: migrate %s database: %w", d.name(), err)
	}
	s.wg.Add(2)
	go s.writer()
	go s.pruner()
	return s, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Driver == "" {
		cfg.Driver = "sqlite"
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.PruneInterval <= 0 {
		cfg.PruneInterval = DefaultPruneInterval
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	r := &cfg.Retention
	if r.Requests == 0 {
		r.Requests = 7 * 24 * time.Hour
	}
	if r.Errors == 0 {
		r.Errors = 30 * 24 * time.Hour
	}
	if r.Rollups == 0 {
		r.Rollups = 90 * 24 * time.Hour
	}
	if r.MinuteRollups == 0 {
		r.MinuteRollups = 8 * 24 * time.Hour
	}
	if r.MinuteRollups > 0 && r.MinuteRollups < 2*time.Hour {
		r.MinuteRollups = 2 * time.Hour
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = defaultInstanceID()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

func defaultInstanceID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// InstanceID returns the name this Store writes into shared key state.
func (s *Store) InstanceID() string { return s.cfg.InstanceID }

// Record queues r for the writer and returns at once. It never blocks and
// never touches the database: when the queue is full, or the Store is
// closed, the record is dropped and counted in Health.Dropped.
func (s *Store) Record(r Request) {
	if s.closed.Load() {
		s.dropped.Add(1)
		return
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	select {
	case s.queue <- r:
	default:
		s.dropped.Add(1)
	}
}

// Health returns the writer's counters and its last error.
func (s *Store) Health() Health {
	h := Health{
		Driver:          s.d.name(),
		Queued:          len(s.queue),
		QueueCap:        cap(s.queue),
		Pending:         int(s.pending.Load()),
		Written:         s.written.Load(),
		Dropped:         s.dropped.Load(),
		KeyStateDropped: s.ksDropped.Load(),
		FailedBatches:   s.failedBatches.Load(),
		OK:              !s.failing.Load(),
	}
	if p := s.lastErr.Load(); p != nil {
		h.LastError = *p
	}
	if ms := s.lastErrMs.Load(); ms > 0 {
		h.LastErrorAt = time.UnixMilli(ms)
	}
	if ms := s.lastOKMs.Load(); ms > 0 {
		h.LastSuccessAt = time.UnixMilli(ms)
	}
	if ms := s.oldestMs.Load(); ms > 0 {
		h.Lag = time.Since(time.UnixMilli(ms))
	}
	return h
}

// Close stops accepting records, flushes everything queued (bounded by
// ctx), stops the writer, pruner and watchers, and closes the database.
// Records that could not be written before ctx ended are counted as dropped
// and Close returns an error saying how many.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	first := s.closed.CompareAndSwap(false, true)
	s.mu.Unlock()
	if !first {
		return ErrClosed
	}
	before := s.dropped.Load()
	s.closeCtx = ctx
	close(s.stop)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		// The writer honours ctx in every database call and gives up on
		// the rest, so it is about to exit; wait briefly rather than
		// closing the pool under it.
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			return fmt.Errorf("store: close: writer still busy after deadline: %w", ctx.Err())
		}
	}
	s.closeDBs()
	if lost := s.dropped.Load() - before; lost > 0 && ctx.Err() != nil {
		return fmt.Errorf("store: close: %d queued records could not be written: %w", lost, ctx.Err())
	}
	return nil
}

func (s *Store) closeDBs() {
	if s.lite != nil {
		s.lite.close()
	}
	if s.rdb != nil && s.rdb != s.wdb {
		_ = s.rdb.Close()
	}
	if s.wdb != nil {
		_ = s.wdb.Close()
	}
}

func (s *Store) setErr(err error) {
	msg := err.Error()
	s.lastErr.Store(&msg)
	s.lastErrMs.Store(time.Now().UnixMilli())
	s.failing.Store(true)
}
