-- 0003: raw request rows are stored a writer batch at a time.
--
-- One row per batch (up to 65536 requests, one minute and 512 KiB) holds
-- the batch's requests encoded compactly (see chunks.go); the writer sends
-- 4 values per batch instead of 21 per request. Nothing but RecentRequests
-- and retention reads raw request rows. ts_last orders the newest-first
-- walk and drives retention; the old requests table stays, read alongside
-- until retention empties it, so an upgrade loses nothing.
CREATE TABLE IF NOT EXISTS request_chunks (
  id       BIGINT     NOT NULL AUTO_INCREMENT,
  ts_first BIGINT     NOT NULL,
  ts_last  BIGINT     NOT NULL,
  n        INT        NOT NULL,
  body     MEDIUMBLOB NOT NULL,
  PRIMARY KEY (id),
  INDEX request_chunks_ts_last (ts_last)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
