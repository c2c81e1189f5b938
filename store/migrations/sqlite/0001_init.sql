-- 0001: raw request and error rows, minute and hour rollups, shared key state.
-- Times are unix milliseconds (INTEGER) so both engines compare plain numbers.

CREATE TABLE IF NOT EXISTS requests (
  id                INTEGER PRIMARY KEY,
  ts                INTEGER NOT NULL,
  request_id        TEXT    NOT NULL DEFAULT '',
  token             TEXT    NOT NULL DEFAULT '',
  route             TEXT    NOT NULL DEFAULT '',
  protocol          TEXT    NOT NULL DEFAULT '',
  model_asked       TEXT    NOT NULL DEFAULT '',
  model_sent        TEXT    NOT NULL DEFAULT '',
  model             TEXT    NOT NULL DEFAULT '',
  pool              TEXT    NOT NULL DEFAULT '',
  key_fp            TEXT    NOT NULL DEFAULT '',
  status            INTEGER NOT NULL DEFAULT 0,
  error_class       TEXT    NOT NULL DEFAULT '',
  attempts          INTEGER NOT NULL DEFAULT 0,
  latency_ms        INTEGER NOT NULL DEFAULT 0,
  ttfb_ms           INTEGER NOT NULL DEFAULT 0,
  prompt_tokens     INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  thought_tokens    INTEGER NOT NULL DEFAULT 0,
  cached_tokens     INTEGER NOT NULL DEFAULT 0,
  streamed          INTEGER NOT NULL DEFAULT 0,
  instance          TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
CREATE INDEX IF NOT EXISTS requests_key_ts ON requests (key_fp, ts);
CREATE INDEX IF NOT EXISTS requests_model_ts ON requests (model, ts);
CREATE INDEX IF NOT EXISTS requests_token_ts ON requests (token, ts);
CREATE INDEX IF NOT EXISTS requests_status_ts ON requests (status, ts);

CREATE TABLE IF NOT EXISTS errors (
  id           INTEGER PRIMARY KEY,
  ts           INTEGER NOT NULL,
  request_id   TEXT    NOT NULL DEFAULT '',
  token        TEXT    NOT NULL DEFAULT '',
  route        TEXT    NOT NULL DEFAULT '',
  protocol     TEXT    NOT NULL DEFAULT '',
  model_asked  TEXT    NOT NULL DEFAULT '',
  model_sent   TEXT    NOT NULL DEFAULT '',
  model        TEXT    NOT NULL DEFAULT '',
  pool         TEXT    NOT NULL DEFAULT '',
  key_fp       TEXT    NOT NULL DEFAULT '',
  status       INTEGER NOT NULL DEFAULT 0,
  error_class  TEXT    NOT NULL DEFAULT '',
  attempts     INTEGER NOT NULL DEFAULT 0,
  latency_ms   INTEGER NOT NULL DEFAULT 0,
  streamed     INTEGER NOT NULL DEFAULT 0,
  error_body   TEXT    NOT NULL DEFAULT '',
  request_body TEXT    NOT NULL DEFAULT '',
  instance     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS errors_ts ON errors (ts);
CREATE INDEX IF NOT EXISTS errors_key_ts ON errors (key_fp, ts);
CREATE INDEX IF NOT EXISTS errors_model_ts ON errors (model, ts);
CREATE INDEX IF NOT EXISTS errors_token_ts ON errors (token, ts);
CREATE INDEX IF NOT EXISTS errors_class_ts ON errors (error_class, ts);
CREATE INDEX IF NOT EXISTS errors_status_ts ON errors (status, ts);

CREATE TABLE IF NOT EXISTS rollup_1m (
  bucket            INTEGER NOT NULL,
  key_fp            TEXT    NOT NULL,
  model             TEXT    NOT NULL,
  token             TEXT    NOT NULL,
  pool              TEXT    NOT NULL,
  error_class       TEXT    NOT NULL,
  requests          INTEGER NOT NULL DEFAULT 0,
  streamed          INTEGER NOT NULL DEFAULT 0,
  attempts          INTEGER NOT NULL DEFAULT 0,
  prompt_tokens     INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  thought_tokens    INTEGER NOT NULL DEFAULT 0,
  cached_tokens     INTEGER NOT NULL DEFAULT 0,
  latency_ms_sum    INTEGER NOT NULL DEFAULT 0,
  ttfb_ms_sum       INTEGER NOT NULL DEFAULT 0,
  ttfb_count        INTEGER NOT NULL DEFAULT 0,
  h00 INTEGER NOT NULL DEFAULT 0, h01 INTEGER NOT NULL DEFAULT 0, h02 INTEGER NOT NULL DEFAULT 0, h03 INTEGER NOT NULL DEFAULT 0,
  h04 INTEGER NOT NULL DEFAULT 0, h05 INTEGER NOT NULL DEFAULT 0, h06 INTEGER NOT NULL DEFAULT 0, h07 INTEGER NOT NULL DEFAULT 0,
  h08 INTEGER NOT NULL DEFAULT 0, h09 INTEGER NOT NULL DEFAULT 0, h10 INTEGER NOT NULL DEFAULT 0, h11 INTEGER NOT NULL DEFAULT 0,
  h12 INTEGER NOT NULL DEFAULT 0, h13 INTEGER NOT NULL DEFAULT 0, h14 INTEGER NOT NULL DEFAULT 0, h15 INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, key_fp, model, token, pool, error_class)
);
CREATE INDEX IF NOT EXISTS rollup_1m_key ON rollup_1m (key_fp, bucket);
CREATE INDEX IF NOT EXISTS rollup_1m_model ON rollup_1m (model, bucket);
CREATE INDEX IF NOT EXISTS rollup_1m_token ON rollup_1m (token, bucket);
CREATE INDEX IF NOT EXISTS rollup_1m_pool ON rollup_1m (pool, bucket);

CREATE TABLE IF NOT EXISTS rollup_1h (
  bucket            INTEGER NOT NULL,
  key_fp            TEXT    NOT NULL,
  model             TEXT    NOT NULL,
  token             TEXT    NOT NULL,
  pool              TEXT    NOT NULL,
  error_class       TEXT    NOT NULL,
  requests          INTEGER NOT NULL DEFAULT 0,
  streamed          INTEGER NOT NULL DEFAULT 0,
  attempts          INTEGER NOT NULL DEFAULT 0,
  prompt_tokens     INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  thought_tokens    INTEGER NOT NULL DEFAULT 0,
  cached_tokens     INTEGER NOT NULL DEFAULT 0,
  latency_ms_sum    INTEGER NOT NULL DEFAULT 0,
  ttfb_ms_sum       INTEGER NOT NULL DEFAULT 0,
  ttfb_count        INTEGER NOT NULL DEFAULT 0,
  h00 INTEGER NOT NULL DEFAULT 0, h01 INTEGER NOT NULL DEFAULT 0, h02 INTEGER NOT NULL DEFAULT 0, h03 INTEGER NOT NULL DEFAULT 0,
  h04 INTEGER NOT NULL DEFAULT 0, h05 INTEGER NOT NULL DEFAULT 0, h06 INTEGER NOT NULL DEFAULT 0, h07 INTEGER NOT NULL DEFAULT 0,
  h08 INTEGER NOT NULL DEFAULT 0, h09 INTEGER NOT NULL DEFAULT 0, h10 INTEGER NOT NULL DEFAULT 0, h11 INTEGER NOT NULL DEFAULT 0,
  h12 INTEGER NOT NULL DEFAULT 0, h13 INTEGER NOT NULL DEFAULT 0, h14 INTEGER NOT NULL DEFAULT 0, h15 INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, key_fp, model, token, pool, error_class)
);
CREATE INDEX IF NOT EXISTS rollup_1h_key ON rollup_1h (key_fp, bucket);
CREATE INDEX IF NOT EXISTS rollup_1h_model ON rollup_1h (model, bucket);
CREATE INDEX IF NOT EXISTS rollup_1h_token ON rollup_1h (token, bucket);
CREATE INDEX IF NOT EXISTS rollup_1h_pool ON rollup_1h (pool, bucket);

CREATE TABLE IF NOT EXISTS key_state (
  key_hash    TEXT    NOT NULL,
  model       TEXT    NOT NULL,
  fingerprint TEXT    NOT NULL DEFAULT '',
  pool        TEXT    NOT NULL DEFAULT '',
  state       TEXT    NOT NULL,
  reason      TEXT    NOT NULL DEFAULT '',
  until_ms    INTEGER NOT NULL DEFAULT 0,
  updated_ms  INTEGER NOT NULL,
  instance    TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (key_hash, model)
);
CREATE INDEX IF NOT EXISTS key_state_updated ON key_state (updated_ms);
