package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mattn/go-sqlite3"
)

const (
	batchTimeout   = 30 * time.Second
	minBackoff     = 50 * time.Millisecond
	maxBackoff     = 5 * time.Second
	maxRejections  = 5 // failures of one batch while the database answers pings
	logEvery       = 10 * time.Second
	bytesPerInsert = 1 << 20
	fillPoll       = 10 * time.Millisecond // see fill
)

// Column limits, in characters, matching the MySQL schema. SQLite would
// take anything, but both engines must hold the same data.
const (
	lenID      = 64
	lenName    = 128
	lenShort   = 16
	lenPool    = 64
	lenFP      = 64
	lenClass   = 64
	lenReason  = 512
	lenKeyHash = 64
)

// batch is what one writer transaction commits.
type batch struct {
	reqs     []Request
	ks       []KeyState
	resps    []*pendingResponse
	prepared bool
	tries    int

	// Scratch space reused by every commit, so a steady stream of
	// batches does not allocate argument slices or aggregation maps.
	args   []any
	sizes  []int
	roll   rollupAgg    // minute groups
	roll1h rollupAgg    // hour groups, summed from roll
	enc    chunkEncoder // the batch's raw request rows, one body per chunk
	clips  [8]lastClip  // per string column clipped in prepare
}

// lastClip remembers the last string clip took and what it returned.
// Consecutive requests mostly share their token, route, protocol, models,
// pool and key, so a repeat costs one comparison (of identical pointers,
// usually) instead of a UTF-8 scan.
type lastClip struct {
	in, out string
	ok      bool
}

func (l *lastClip) clip(s string, n int) string {
	if !l.ok || s != l.in {
		l.in, l.out, l.ok = s, clip(s, n), true
	}
	return l.out
}

func (b *batch) empty() bool { return len(b.reqs) == 0 && len(b.ks) == 0 && len(b.resps) == 0 }

func (b *batch) reset() {
	clear(b.reqs) // drop string references so bodies can be collected
	clear(b.clips[:])
	b.reqs = b.reqs[:0]
	b.ks = b.ks[:0]
	clear(b.resps)
	b.resps = b.resps[:0]
	b.prepared, b.tries = false, 0
}

// writer is the single goroutine that owns the database writes. It takes a
// batch off the queue, commits it in one transaction, and on failure keeps
// the batch and retries with backoff while Record keeps filling (and, once
// full, dropping from) the queue. On stop it drains what is queued within
// Close's deadline.
func (s *Store) writer() {
	defer s.wg.Done()
	b := &batch{reqs: make([]Request, 0, s.cfg.BatchSize)}
	fill := time.NewTimer(time.Hour)
	fill.Stop()
	tick := time.NewTicker(logEvery)
	defer tick.Stop()
	var lastDropped uint64
	backoff := minBackoff
	for {
		if b.empty() {
			select {
			case r := <-s.queue:
				b.reqs = append(b.reqs, r)
			case k := <-s.ksQueue:
				b.ks = append(b.ks, k)
			case p := <-s.respQueue:
				b.resps = append(b.resps, p)
			case <-tick.C:
				lastDropped = s.logDrops(lastDropped)
				continue
			case <-s.stop:
				s.drain(b)
				return
			}
			if !s.fill(b, fill) {
				s.drain(b)
				return
			}
		}
		s.hold(b)
		err := s.writeBatch(context.Background(), b)
		if err == nil {
			backoff = minBackoff
			continue
		}
		select {
		case <-time.After(backoff):
		case <-s.stop:
			s.drain(b)
			return
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// fill tops b up to BatchSize within FlushInterval of the batch's first
// record, so quiet periods still flush promptly and a record waits at most
// about FlushInterval.
//
// It polls the queue every fillPoll rather than waiting on it record by
// record: a writer parked on the channel must be woken by every Record,
// which costs the proxy's request goroutine a wake-up and the machine a
// context switch per request, while a writer that sleeps on a timer and
// then drains the queue in one go costs a few wake-ups per batch. The
// queue (65536 by default) holds far more than one poll's worth of
// records. It returns false if stop fired.
func (s *Store) fill(b *batch, t *time.Timer) bool {
	deadline := time.Now().Add(s.cfg.FlushInterval)
	for {
		s.take(b)
		if len(b.reqs) >= s.cfg.BatchSize {
			return true
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return true
		}
		t.Reset(min(wait, fillPoll))
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			return false
		}
	}
}

// take moves what is queued into b without waiting, up to BatchSize
// records (key states and kept responses are always taken: they are few,
// bounded by their queues).
func (s *Store) take(b *batch) {
	for len(b.reqs) < s.cfg.BatchSize {
		select {
		case r := <-s.queue:
			b.reqs = append(b.reqs, r)
			continue
		default:
		}
		break
	}
	for {
		select {
		case k := <-s.ksQueue:
			b.ks = append(b.ks, k)
			continue
		case p := <-s.respQueue:
			b.resps = append(b.resps, p)
			continue
		default:
		}
		return
	}
}

// hold publishes the batch about to be written for Health.
func (s *Store) hold(b *batch) {
	s.pending.Store(int64(len(b.reqs)))
	if len(b.reqs) > 0 {
		s.oldestMs.Store(b.reqs[0].Time.UnixMilli())
	} else {
		s.oldestMs.Store(0)
	}
}

// drain writes everything still queued after Close, bounded by Close's ctx.
func (s *Store) drain(b *batch) {
	ctx := s.closeCtx
	if ctx == nil {
		ctx = context.Background()
	}
	backoff := minBackoff
	for {
		for len(b.reqs) < s.cfg.BatchSize {
			select {
			case r := <-s.queue:
				b.reqs = append(b.reqs, r)
				continue
			case k := <-s.ksQueue:
				b.ks = append(b.ks, k)
				continue
			case p := <-s.respQueue:
				b.resps = append(b.resps, p)
				continue
			default:
			}
			break
		}
		if b.empty() {
			s.hold(b)
			return
		}
		s.hold(b)
		if err := s.writeBatch(ctx, b); err == nil {
			backoff = minBackoff
			continue
		}
		select {
		case <-time.After(backoff):
			backoff = min(backoff*2, maxBackoff)
		case <-ctx.Done():
			lost := len(b.reqs) + len(s.queue)
			s.dropped.Add(uint64(lost))
			s.ksDropped.Add(uint64(len(b.ks) + len(s.ksQueue)))
			s.log.Error("stats store closing with unwritten records", "dropped", lost, "responses", len(b.resps)+len(s.respQueue), "err", ctx.Err())
			s.forgetResponses(b.resps)
			b.reset()
			s.hold(b)
			return
		}
	}
}

func (s *Store) logDrops(last uint64) uint64 {
	d := s.dropped.Load()
	if d > last {
		s.log.Warn("stats queue full or database behind: records dropped",
			"dropped_total", d, "dropped_since_last", d-last, "queue_cap", cap(s.queue))
	}
	return d
}

// writeBatch commits b in one transaction and resets it on success. On
// failure b is kept for a retry, unless the database is reachable and has
// rejected it maxRejections times: then it is data the database will never
// take, and it is discarded (counted as dropped) so it cannot wedge the
// writer.
func (s *Store) writeBatch(parent context.Context, b *batch) error {
	if !b.prepared {
		s.prepare(b)
	}
	ctx, cancel := context.WithTimeout(parent, batchTimeout)
	defer cancel()
	err := s.commit(ctx, b)
	if err == nil {
		n := uint64(len(b.reqs))
		s.written.Add(n)
		s.lastOKMs.Store(time.Now().UnixMilli())
		if s.failing.Swap(false) {
			s.log.Info("stats database writable again; catching up", "backlog", len(s.queue))
		}
		if len(b.resps) > 0 {
			s.settleResponses(ctx, b.resps)
		}
		b.reset()
		s.hold(b)
		return nil
	}
	s.failedBatches.Add(1)
	b.tries++
	wasFailing := s.failing.Load()
	if !wasFailing || time.Since(time.UnixMilli(s.lastErrMs.Load())) > logEvery {
		s.log.Warn("stats batch write failed; will retry", "rows", len(b.reqs), "try", b.tries, "err", err)
	}
	s.setErr(err)
	if !s.d.transient(err) && b.tries >= maxRejections && parent.Err() == nil {
		pctx, pcancel := context.WithTimeout(parent, 2*time.Second)
		perr := s.wdb.PingContext(pctx)
		pcancel()
		if perr == nil {
			s.log.Error("stats batch rejected repeatedly by a reachable database; discarding it",
				"rows", len(b.reqs), "err", err)
			s.dropped.Add(uint64(len(b.reqs)))
			s.ksDropped.Add(uint64(len(b.ks)))
			s.forgetResponses(b.resps)
			b.reset()
			s.hold(b)
		}
	}
	return err
}

// prepare normalises a batch once, before its first attempt: fills in the
// effective model and error class and clips every string to its column so
// strict-mode MySQL never rejects a row for length or bad UTF-8.
func (s *Store) prepare(b *batch) {
	for i := range b.reqs {
		r := &b.reqs[i]
		c := &b.clips
		r.RequestID = clip(r.RequestID, lenID)
		r.Token = c[0].clip(r.Token, lenName)
		r.Route = c[1].clip(r.Route, lenName)
		r.Protocol = c[2].clip(r.Protocol, lenShort)
		r.ModelAsked = c[3].clip(r.ModelAsked, lenName)
		r.ModelSent = c[4].clip(r.ModelSent, lenName)
		r.Pool = c[5].clip(r.Pool, lenPool)
		r.KeyFP = c[6].clip(r.KeyFP, lenFP)
		if r.ErrorClass == "" && r.Status >= 400 {
			r.ErrorClass = "http_" + strconv.Itoa(r.Status)
		}
		r.ErrorClass = c[7].clip(r.ErrorClass, lenClass)
		if r.ErrorClass != "" {
			r.ErrorBody = clipBytes(r.ErrorBody, s.cfg.MaxBodyBytes)
			r.RequestBody = clipBytes(r.RequestBody, s.cfg.MaxBodyBytes)
		}
		for j := range r.FailedAttempts {
			a := &r.FailedAttempts[j]
			a.KeyFP = clip(a.KeyFP, lenFP)
			a.ErrorClass = clip(a.ErrorClass, lenClass)
			a.ErrorBody = clipBytes(a.ErrorBody, s.cfg.MaxBodyBytes)
		}
	}
	// Keep only the newest update per key: one row per key per statement
	// keeps the upsert's outcome independent of row order.
	if len(b.ks) > 1 {
		sort.SliceStable(b.ks, func(i, j int) bool { return b.ks[i].UpdatedAt.Before(b.ks[j].UpdatedAt) })
		seen := make(map[[2]string]int, len(b.ks))
		out := b.ks[:0]
		for _, k := range b.ks {
			id := [2]string{k.KeyHash, k.Model}
			if j, ok := seen[id]; ok {
				out[j] = k
				continue
			}
			seen[id] = len(out)
			out = append(out, k)
		}
		b.ks = out
	}
	for i := range b.ks {
		k := &b.ks[i]
		k.KeyHash = clip(k.KeyHash, lenKeyHash)
		k.Fingerprint = clip(k.Fingerprint, lenFP)
		k.Pool = clip(k.Pool, lenPool)
		k.Model = clip(k.Model, lenName)
		k.State = clip(k.State, lenShort)
		k.Reason = clip(k.Reason, lenReason)
		k.Instance = clip(k.Instance, lenName)
	}
	b.prepared = true
}

// clip returns s as valid UTF-8 of at most n characters.
func clip(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	i, count := 0, 0
	for i < len(s) && count < n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		count++
	}
	return s[:i]
}

// clipBytes returns s as valid UTF-8 of at most n bytes, cut on a rune
// boundary.
func clipBytes(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func effectiveModel(r *Request) string {
	if r.ModelSent != "" {
		return r.ModelSent
	}
	return r.ModelAsked
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

var (
	requestChunkCols = []string{"ts_first", "ts_last", "n", "instance", "body"}
	errorCols        = []string{"ts", "request_id", "token", "route", "protocol", "model_asked", "model_sent", "model",
		"pool", "key_fp", "status", "error_class", "attempts", "latency_ms", "streamed", "error_body",
		"request_body", "instance", "attempt"}
	rollupKeyCols = []string{"bucket", "key_fp", "model", "token", "pool", "error_class"}
	rollupSumCols = []string{"requests", "streamed", "attempts", "prompt_tokens", "completion_tokens",
		"thought_tokens", "cached_tokens", "latency_ms_sum", "ttfb_ms_sum", "ttfb_count", "uploads", "upload_bytes",
		"h00", "h01", "h02", "h03", "h04", "h05", "h06", "h07", "h08", "h09", "h10", "h11", "h12", "h13", "h14", "h15"}
	keyStateCols    = []string{"key_hash", "model", "fingerprint", "pool", "state", "reason", "until_ms", "updated_ms", "instance"}
	keyStateUpdated = []string{"fingerprint", "pool", "state", "reason", "until_ms", "instance", "updated_ms"}
)

// commit writes the raw rows, their rollups and key states in one
// transaction, so the rollups always agree with the rows they summarise.
func (s *Store) commit(ctx context.Context, b *batch) error {
	if s.lite != nil {
		return s.commitSQLite(ctx, b)
	}
	tx, err := s.wdb.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := s.writeRows(ctx, b, sqlTx{tx, s.text}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// commitSQLite is commit on the SQLite driver connection itself (see
// sqliteConn), which database/sql lends for the whole transaction.
func (s *Store) commitSQLite(ctx context.Context, b *batch) error {
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("writer connection: %w", err)
	}
	defer conn.Close()
	defer s.lite.release()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("sqlite writer connection is a %T", dc)
		}
		s.lite.on(c)
		tx, err := c.BeginTx(ctx, driver.TxOptions{})
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		if err := s.writeRows(ctx, b, s.lite); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
}

// writeRows inserts b's raw rows, error rows, rollup upserts and key-state
// upserts through ins, inside the caller's transaction. Argument slices
// live in b and are reused from batch to batch.
func (s *Store) writeRows(ctx context.Context, b *batch, w inserter) error {
	inst := s.instance // boxed once, not once per row
	ins := &s.ins
	if len(b.reqs) > 0 {
		if err := s.writeChunks(ctx, b, w); err != nil {
			return err
		}
		args := b.args[:0]
		sizes := b.sizes[:0]
		for i := range b.reqs {
			r := &b.reqs[i]
			for j := range r.FailedAttempts {
				a := &r.FailedAttempts[j]
				args = append(args, a.Time.UnixMilli(), r.RequestID, r.Token, r.Route, r.Protocol, r.ModelAsked,
					r.ModelSent, effectiveModel(r), r.Pool, a.KeyFP, int64(a.Status), a.ErrorClass, int64(r.Attempts),
					a.Latency.Milliseconds(), int64(b2i(r.Streamed)), a.ErrorBody, "", inst, int64(j+1))
				sizes = append(sizes, len(a.ErrorBody)+256)
			}
			if r.ErrorClass == "" {
				continue
			}
			args = append(args, r.Time.UnixMilli(), r.RequestID, r.Token, r.Route, r.Protocol, r.ModelAsked,
				r.ModelSent, effectiveModel(r), r.Pool, r.KeyFP, int64(r.Status), r.ErrorClass, int64(r.Attempts),
				r.Latency.Milliseconds(), int64(b2i(r.Streamed)), r.ErrorBody, r.RequestBody, inst, int64(0))
			sizes = append(sizes, len(r.ErrorBody)+len(r.RequestBody)+256)
		}
		b.sizes = sizes
		if len(sizes) > 0 {
			if err := insertChunks(ctx, w, &ins.errors, args, sizes); err != nil {
				return err
			}
		}
		// Hour groups are summed from the minute groups (a hundred or so)
		// rather than from the rows again: one hashing pass per row.
		b.roll.aggregate(b.reqs, time.Minute)
		b.roll1h.coarsen(&b.roll, time.Hour)
		for _, g := range []struct {
			spec *insertSpec
			agg  *rollupAgg
		}{{&ins.rollup1m, &b.roll}, {&ins.rollup1h, &b.roll1h}} {
			args = g.agg.args(args[:0])
			if err := insertChunks(ctx, w, g.spec, args, nil); err != nil {
				return err
			}
		}
		b.args = args[:0]
		clear(args[:cap(args)]) // drop string references until the next batch
	}
	if len(b.resps) > 0 {
		args := make([]any, 0, len(b.resps)*len(responseCols))
		sizes := make([]int, 0, len(b.resps))
		for _, p := range b.resps {
			r := &p.r
			args = responseArgs(r, args)
			sizes = append(sizes, len(r.History)+len(r.Input)+len(r.Response)+256)
		}
		if err := insertChunks(ctx, w, &ins.responses, args, sizes); err != nil {
			return err
		}
	}
	if len(b.ks) > 0 {
		args := make([]any, 0, len(b.ks)*len(keyStateCols))
		for i := range b.ks {
			k := &b.ks[i]
			args = append(args, k.KeyHash, k.Model, k.Fingerprint, k.Pool, k.State, k.Reason,
				unixMilliOrZero(k.Until), k.UpdatedAt.UnixMilli(), k.Instance)
		}
		if err := insertChunks(ctx, w, &ins.keyState, args, nil); err != nil {
			return err
		}
	}
	return nil
}

// writeChunks encodes b's raw request rows into request_chunks rows (see
// chunks.go): one INSERT of four values per chunk, usually one per batch.
func (s *Store) writeChunks(ctx context.Context, b *batch, w inserter) error {
	e := &b.enc
	e.reset()
	args := b.args[:0]
	flush := func() error {
		if e.n == 0 {
			return nil
		}
		// A string, not []byte: the views expand it as JSON text (SQLite
		// would take a BLOB for JSONB). It shares e's buffer, so e is
		// reset only once the insert has returned, and args let go of it.
		args = append(args[:0], e.first, e.last, int64(e.n), s.instance, e.bodyString())
		err := insertChunks(ctx, w, &s.ins.chunks, args, nil)
		clear(args)
		e.reset()
		return err
	}
	for i := range b.reqs {
		r := &b.reqs[i]
		if !e.fits(r.Time.UnixMilli()) {
			if err := flush(); err != nil {
				return err
			}
		}
		e.add(r)
	}
	err := flush()
	b.args = args[:0]
	clear(args[:cap(args)])
	return err
}

// inserts are the Store's INSERT statements, with their dialect's upsert
// clauses, built once at Open.
type inserts struct {
	chunks, errors, rollup1m, rollup1h, keyState, responses insertSpec
}

func newInserts(d dialect) inserts {
	rollupCols := append(rollupKeyCols[:len(rollupKeyCols):len(rollupKeyCols)], rollupSumCols...)
	add := d.upsertAdd(rollupKeyCols, rollupSumCols)
	return inserts{
		chunks:    insertSpec{table: "request_chunks", cols: requestChunkCols},
		errors:    insertSpec{table: "errors", cols: errorCols},
		rollup1m:  insertSpec{table: "rollup_1m", cols: rollupCols, suffix: add},
		rollup1h:  insertSpec{table: "rollup_1h", cols: rollupCols, suffix: add},
		responses: insertSpec{table: "stored_responses", cols: responseCols},
		keyState: insertSpec{table: "key_state", cols: keyStateCols,
			suffix: d.upsertNewer([]string{"key_hash", "model"}, keyStateUpdated)},
	}
}

func unixMilliOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

type rollupKey struct {
	bucket                         int64
	key, model, token, pool, class string
}

// rollupSums is how many of rollupSumCols come before the histogram.
const rollupSums = 12

type rollupVal struct {
	sums [rollupSums]int64 // in rollupSumCols order, before the histogram
	hist Histogram
}

// rollupAgg aggregates a batch into rollup groups. It keeps its map and
// slices between batches, so a steady stream of batches allocates nothing
// for aggregation.
type rollupAgg struct {
	m    map[rollupKey]int // index into vals
	keys []rollupKey
	vals []rollupVal
}

// start empties a for a new batch, keeping its storage.
func (a *rollupAgg) start() {
	if a.m == nil {
		a.m = make(map[rollupKey]int)
	}
	clear(a.m)
	a.keys, a.vals = a.keys[:0], a.vals[:0]
}

// group returns the value of group k, adding it if new.
func (a *rollupAgg) group(k rollupKey) *rollupVal {
	j, ok := a.m[k]
	if !ok {
		j = len(a.vals)
		a.m[k] = j
		a.keys = append(a.keys, k)
		a.vals = append(a.vals, rollupVal{})
	}
	return &a.vals[j]
}

// aggregate groups reqs by bucket (of width) × key × model × token × pool
// × error class.
func (a *rollupAgg) aggregate(reqs []Request, width time.Duration) {
	a.start()
	w := width.Milliseconds()
	for i := range reqs {
		r := &reqs[i]
		ts := r.Time.UnixMilli()
		v := a.group(rollupKey{bucket: ts - ((ts%w)+w)%w, key: r.KeyFP, model: effectiveModel(r), token: r.Token, pool: r.Pool, class: r.ErrorClass})
		v.sums[0]++
		v.sums[1] += int64(b2i(r.Streamed))
		v.sums[2] += int64(r.Attempts)
		v.sums[3] += int64(r.PromptTokens)
		v.sums[4] += int64(r.CompletionTokens)
		v.sums[5] += int64(r.ThoughtTokens)
		v.sums[6] += int64(r.CachedTokens)
		v.sums[7] += r.Latency.Milliseconds()
		if r.TTFB > 0 {
			v.sums[8] += r.TTFB.Milliseconds()
			v.sums[9]++
		}
		v.sums[10] += int64(r.Uploads)
		v.sums[11] += r.UploadBytes
		v.hist[bucketOf(r.Latency)]++
	}
}

// coarsen groups src's groups into buckets of width, a multiple of src's:
// the same sums aggregate would compute from the rows.
func (a *rollupAgg) coarsen(src *rollupAgg, width time.Duration) {
	a.start()
	w := width.Milliseconds()
	for i, k := range src.keys {
		k.bucket -= ((k.bucket % w) + w) % w
		v, sv := a.group(k), &src.vals[i]
		for j, x := range sv.sums {
			v.sums[j] += x
		}
		v.hist.add(&sv.hist)
	}
}

// args appends a's groups to dst as flat insert arguments, sorted so
// concurrent instances upsert rows in the same order (no lock-order
// deadlocks on MySQL).
func (a *rollupAgg) args(dst []any) []any {
	keys := a.keys
	sort.Slice(keys, func(i, j int) bool {
		a, b := &keys[i], &keys[j]
		if a.bucket != b.bucket {
			return a.bucket < b.bucket
		}
		if a.key != b.key {
			return a.key < b.key
		}
		if a.model != b.model {
			return a.model < b.model
		}
		if a.token != b.token {
			return a.token < b.token
		}
		if a.pool != b.pool {
			return a.pool < b.pool
		}
		return a.class < b.class
	})
	for _, k := range keys {
		v := &a.vals[a.m[k]]
		dst = append(dst, k.bucket, k.key, k.model, k.token, k.pool, k.class)
		for _, x := range v.sums {
			dst = append(dst, x)
		}
		for _, x := range v.hist {
			dst = append(dst, x)
		}
	}
	clear(a.keys) // drop string references until the next batch
	return dst
}
