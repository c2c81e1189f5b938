-- 0003: raw request rows are stored a writer batch at a time.
--
-- One request_chunks row per batch (up to 65536 requests, one minute and
-- 512 KiB) holds the batch's requests as a JSON array of arrays (see
-- chunks.go): the writer binds 5 values per batch instead of 21 per
-- request. Nothing but RecentRequests and retention reads raw request
-- rows; ts_last orders the newest-first walk and drives retention.
--
-- The old table becomes requests_legacy (kept, read, and pruned until
-- retention empties it, so an upgrade loses nothing) and requests becomes
-- a view over both, so SQL written against the old table still works.
-- Row ids from chunks are 2^52 + chunk id * 65536 + index, as in Go.
--
-- SQLite has no conditional RENAME, so the steps run in one transaction
-- (SQLite's DDL is transactional): a crash leaves either none or all.
BEGIN IMMEDIATE;
ALTER TABLE requests RENAME TO requests_legacy;
CREATE TABLE IF NOT EXISTS request_chunks (
  id       INTEGER PRIMARY KEY,
  ts_first INTEGER NOT NULL,
  ts_last  INTEGER NOT NULL,
  n        INTEGER NOT NULL,
  instance TEXT    NOT NULL DEFAULT '',
  body     TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS request_chunks_ts_last ON request_chunks (ts_last);
CREATE VIEW IF NOT EXISTS requests AS
  SELECT id, ts, request_id, token, route, protocol, model_asked, model_sent, model, pool, key_fp, status,
         error_class, attempts, latency_ms, ttfb_ms, prompt_tokens, completion_tokens, thought_tokens,
         cached_tokens, streamed, instance
    FROM requests_legacy
  UNION ALL
  SELECT 4503599627370496 + c.id * 65536 + j.key,
         j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5, j.value ->> 6,
         CASE WHEN (j.value ->> 6) <> '' THEN j.value ->> 6 ELSE j.value ->> 5 END,
         j.value ->> 7, j.value ->> 8, j.value ->> 10, j.value ->> 9, j.value ->> 11, j.value ->> 12,
         j.value ->> 13, j.value ->> 14, j.value ->> 15, j.value ->> 16, j.value ->> 17, j.value ->> 18, c.instance
    FROM request_chunks c, json_each(c.body) j;
COMMIT;
