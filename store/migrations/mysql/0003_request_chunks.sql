-- 0003: raw request rows are stored a writer batch at a time.
--
-- One request_chunks row per batch (up to 65536 requests, one minute and
-- 512 KiB) holds the batch's requests as a JSON array of arrays (see
-- chunks.go): the writer sends 5 values per batch instead of 21 per
-- request. Nothing but RecentRequests and retention reads raw request
-- rows; ts_last orders the newest-first walk and drives retention.
--
-- The old table becomes requests_legacy (kept, read, and pruned until
-- retention empties it, so an upgrade loses nothing) and requests becomes
-- a view over both, so SQL written against the old table still works.
-- Row ids from chunks are 2^52 + chunk id * 65536 + index, as in Go.
-- DDL commits implicitly, so every step is repeatable: the rename runs
-- only while requests is still a base table.
SET @balance_ren = (SELECT IF(COUNT(*) > 0, 'RENAME TABLE requests TO requests_legacy', 'DO 0')
  FROM information_schema.tables
  WHERE table_schema = DATABASE() AND table_name = 'requests' AND table_type = 'BASE TABLE');
PREPARE balance_ren_stmt FROM @balance_ren;
EXECUTE balance_ren_stmt;
DEALLOCATE PREPARE balance_ren_stmt;
CREATE TABLE IF NOT EXISTS request_chunks (
  id       BIGINT       NOT NULL AUTO_INCREMENT,
  ts_first BIGINT       NOT NULL,
  ts_last  BIGINT       NOT NULL,
  n        INT          NOT NULL,
  instance VARCHAR(128) NOT NULL DEFAULT '',
  body     MEDIUMTEXT   NOT NULL,
  PRIMARY KEY (id),
  INDEX request_chunks_ts_last (ts_last)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE OR REPLACE VIEW requests AS
  SELECT id, ts, request_id, token, route, protocol, model_asked, model_sent, model, pool, key_fp, status,
         error_class, attempts, latency_ms, ttfb_ms, prompt_tokens, completion_tokens, thought_tokens,
         cached_tokens, streamed, instance
    FROM requests_legacy
  UNION ALL
  SELECT 4503599627370496 + c.id * 65536 + j.ord - 1, j.ts, j.request_id, j.token, j.route, j.protocol,
         j.model_asked, j.model_sent, IF(j.model_sent <> '', j.model_sent, j.model_asked), j.pool, j.key_fp,
         j.status, j.error_class, j.attempts, j.latency_ms, j.ttfb_ms, j.prompt_tokens, j.completion_tokens,
         j.thought_tokens, j.cached_tokens, j.streamed, c.instance
    FROM request_chunks c, JSON_TABLE(c.body, '$[*]' COLUMNS (
      ord FOR ORDINALITY,
      ts BIGINT PATH '$[0]', request_id VARCHAR(64) PATH '$[1]', token VARCHAR(128) PATH '$[2]',
      route VARCHAR(128) PATH '$[3]', protocol VARCHAR(16) PATH '$[4]', model_asked VARCHAR(128) PATH '$[5]',
      model_sent VARCHAR(128) PATH '$[6]', pool VARCHAR(64) PATH '$[7]', key_fp VARCHAR(64) PATH '$[8]',
      error_class VARCHAR(64) PATH '$[9]', status INT PATH '$[10]', attempts INT PATH '$[11]',
      latency_ms BIGINT PATH '$[12]', ttfb_ms BIGINT PATH '$[13]', prompt_tokens BIGINT PATH '$[14]',
      completion_tokens BIGINT PATH '$[15]', thought_tokens BIGINT PATH '$[16]', cached_tokens BIGINT PATH '$[17]',
      streamed TINYINT PATH '$[18]')) j;
