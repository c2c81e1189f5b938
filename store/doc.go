// Package store persists what the proxy saw: one row per request, error
// records with their (redacted) upstream bodies, per-minute and per-hour
// rollups for the status view, and the cooldown/quarantine state of keys.
// It runs on SQLite (default; one file, WAL) or MySQL/MariaDB (shared by a
// fleet of instances).
//
// # Never on the request path
//
// The request path only ever calls Record and SaveKeyState. Both copy a
// small struct into a bounded channel with a non-blocking send and return;
// they never touch the database, take no lock and allocate nothing. When
// the channel is full the record is dropped and counted (Health.Dropped),
// because a proxy that stalls its clients to keep statistics complete has
// its priorities backwards. The seed system inserted synchronously on the
// hot path; this package exists largely so that cannot happen again.
//
// # One writer, one transaction per batch
//
// A single writer goroutine takes up to BatchSize records (waiting at most
// FlushInterval for a batch to fill) and commits, in ONE transaction:
//   - the raw request rows, encoded compactly into one request_chunks row
//     per batch (chunks.go, migration 0003),
//   - an error row for each failed request,
//   - the minute and hour rollup upserts for the batch, aggregated in Go
//     first (hours from the minute groups) so a batch of thousands of
//     requests touches a handful of rollup rows,
//   - the key-state upserts queued meanwhile.
//
// Raw request rows are a chunk per batch because nothing but
// RecentRequests reads them: storing them as one SQL row each cost the
// writer ~21 bound values through cgo plus a B-tree insert per request,
// most of its CPU, for rows nobody queries by column. A chunk is one
// INSERT of five values; RecentRequests decodes chunks newest first and
// filters in Go. The body is JSON so the database can expand it too:
// requests is a view (json_each on SQLite, JSON_TABLE on MySQL) over the
// chunks and requests_legacy, the pre-0003 table, which RecentRequests
// and retention keep reading until it is empty. SQL written against the
// old table keeps working, slowly.
//
// On SQLite each other INSERT has a fixed number of rows (64, 8 or 1; a
// batch is split greedily), so the writer needs a handful of statements
// per table, prepared once; re-preparing SQL whose shape changed with
// every batch cost as much CPU as the commits. MySQL takes up to 100 rows
// per statement (each one is a round trip) from SQL text cached per size.
// On SQLite the writer works on the driver connection itself
// (database/sql's per-statement argument copies cost about 1 KB per row)
// and its statements stay prepared there for the Store's life. Argument
// slices and rollup maps are reused from batch to batch. Defaults (4096
// rows, 500 ms) favour few, large transactions: a batch's rollup upserts
// and commit cost about the same whatever its size, so at saturation
// (where batches fill before the interval) 4096 rows per commit cost
// half the CPU per request of 1024; below ~8000 requests/s the interval
// decides and statistics lag by at most half a second.
//
// A SQLite database the store creates has 16 KiB pages (sqlitePageSize)
// rather than SQLite's 4 KiB: a batch is mostly one request chunk of a
// few hundred KB, and it takes a quarter as many WAL frames and
// checkpoint writes. BenchmarkWriterSQLiteProxyShape, 4 and 16 KiB
// interleaved: on a quiet machine, median 1.94 → 1.85 µs per row over 10
// pairs (the 16 KiB runs split between 1.4–1.5 and 1.8–2.1 µs); on a busy
// one, 2.7–3.4 → 1.7–2.2 µs. A database created before keeps 4 KiB pages,
// because WAL fixes the page size; to convert one, stop balance and run
// sqlite3 FILE 'PRAGMA journal_mode=DELETE; PRAGMA page_size=16384;
// VACUUM; PRAGMA journal_mode=WAL'.
//
// One writer matches SQLite's single-writer model (no SQLITE_BUSY between
// our own goroutines) and batching amortises the fsync/round trip that
// dominates per-row inserts on both engines. Raw rows and rollups commit
// together, so the status view's numbers always agree with the raw log.
//
// If a batch fails the writer keeps it and retries with capped exponential
// backoff; Record keeps queueing, then dropping once the queue is full, and
// the proxy keeps serving. Health reports the last error, failed batches,
// drops and the lag of the oldest unwritten record; the writer logs the
// first failure, then at most every 10 s, and logs recovery. When the
// database comes back the writer catches up from the queue. A batch that a
// reachable database rejects five times (it should not happen: strings
// are clipped to their columns and made valid UTF-8 first) is discarded and
// counted so it cannot wedge the writer. Close drains the queue within its
// context's deadline.
//
// # Rollups
//
// Rollup rows are keyed by bucket start (unix ms) × key fingerprint ×
// model (as sent, else as asked) × client token × pool × error class (""
// for success), and hold sums: requests, streamed, upstream attempts, the
// four token counts, latency and TTFB sums, uploads and their bytes
// (migration 0010) and a fixed 16-bucket latency
// histogram (LatencyBounds). Because the buckets are fixed, percentiles for
// any period are a sum of counters plus an interpolation: no raw rows are
// read for Summary or Series. Summaries over more than 6 h read whole
// hours from rollup_1h and only the first partial hour from rollup_1m, so
// "last 30 days" reads ~720 buckets per group rather than 43,200.
//
// # Retention
//
// A pruner goroutine deletes expired rows every PruneInterval in batches of
// 1000 (16 request chunks) with a short pause between them, so it never
// holds SQLite's write lock (or InnoDB row locks) for long. A request
// chunk goes when its newest row expires; a chunk spans at most a minute,
// so raw request rows outlive their retention by at most that.
//
// # Shared key state
//
// SaveKeyState upserts (key_hash, model) rows through the same writer; a
// newer UpdatedAt wins regardless of arrival order. LoadKeyStates returns
// the keys still cooling or quarantined at start. WatchKeyStates polls for
// rows changed by other instances (updated_ms beyond the last seen, minus a
// 30 s overlap to tolerate clock skew, deduplicated), which with MySQL lets
// a fleet share what any one instance learned about a dead key within one
// poll interval.
//
// # Resource ownership
//
// The resources table (migration 0004) says which key and client token
// own each Gemini file, cached content, batch and open upload. It is
// written before the resource's name reaches the client, so any instance
// on the database can route it. Instances keep the records they use in
// memory and re-read one at most every few seconds (engine/resources.go),
// so a record deleted or cut short through a peer stops routing within
// that bound without a read per request. Expired records are skipped by
// every read and deleted by the pruner.
//
// # Schema
//
// Numbered migrations live in migrations/<dialect>/NNNN_name.sql, are
// embedded, and run at Open under a cross-instance lock (GET_LOCK on
// MySQL). schema_migrations records the version. Every statement is
// idempotent because MySQL commits DDL implicitly. Times are unix
// milliseconds in integer columns, the one representation both engines
// compare and index identically. Every query the status view makes has an
// index: rollups by bucket (primary key prefix) and by (key|model|token|
// pool, bucket); error rows by ts and by (filter column, ts). Raw request
// rows, read only by RecentRequests (not by the status view), live in
// request_chunks indexed by ts_last only; RecentRequests walks chunks
// newest first and filters as it goes, so a rare filter value walks
// further back.
//
// The only SQL that differs between the engines (connection setup, the
// upsert clause, batched DELETE, and which errors are transient) lives in
// dialect.go.
package store
