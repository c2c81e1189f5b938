-- 0004: ownership of stateful Gemini resources (files, cached contents,
-- batches and open resumable uploads). Each belongs to the key (Google
-- project) that created it and to the client token that asked for it;
-- the engine pins every later request naming it to that key. The key is
-- named by its sha256 and fingerprint, never by its value. meta is the
-- resource as Google described it, served back in merged lists.
CREATE TABLE IF NOT EXISTS resources (
  name       TEXT    NOT NULL PRIMARY KEY,
  kind       TEXT    NOT NULL,
  key_hash   TEXT    NOT NULL,
  key_fp     TEXT    NOT NULL DEFAULT '',
  token      TEXT    NOT NULL,
  size_bytes INTEGER NOT NULL DEFAULT 0,
  mime       TEXT    NOT NULL DEFAULT '',
  model      TEXT    NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL DEFAULT 0,
  meta       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS resources_token ON resources (token, kind, name);
CREATE INDEX IF NOT EXISTS resources_expires ON resources (expires_ms);
