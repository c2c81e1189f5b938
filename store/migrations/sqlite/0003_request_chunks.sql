-- 0003: raw request rows are stored a writer batch at a time.
--
-- One row per batch (up to 65536 requests, one minute and 512 KiB) holds
-- the batch's requests encoded compactly (see chunks.go); the writer binds
-- 4 values per batch instead of 21 per request. Nothing but RecentRequests
-- and retention reads raw request rows. ts_last orders the newest-first
-- walk and drives retention; the old requests table stays, read alongside
-- until retention empties it, so an upgrade loses nothing.
CREATE TABLE IF NOT EXISTS request_chunks (
  id       INTEGER PRIMARY KEY,
  ts_first INTEGER NOT NULL,
  ts_last  INTEGER NOT NULL,
  n        INTEGER NOT NULL,
  body     BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS request_chunks_ts_last ON request_chunks (ts_last);
