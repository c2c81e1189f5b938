-- 0009: the error log keeps every failed upstream attempt.
--
-- A request retried on another key (a 429 on key A, served by key B) is
-- one request: one chunked row, one rollup count. Each attempt that failed
-- before the last one is also an errors row, under the key that met it,
-- with attempt = its number (1 for the first). The request's own error
-- row, written only when the request failed, keeps attempt = 0.
ALTER TABLE errors ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
