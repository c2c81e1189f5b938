-- 0004: ownership of stateful Gemini resources (files, cached contents,
-- batches and open resumable uploads). Each belongs to the key (Google
-- project) that created it and to the client token that asked for it;
-- the engine pins every later request naming it to that key. The key is
-- named by its sha256 and fingerprint, never by its value. meta is the
-- resource as Google described it, served back in merged lists.
CREATE TABLE IF NOT EXISTS resources (
  name       VARCHAR(255) NOT NULL,
  kind       VARCHAR(16)  NOT NULL,
  key_hash   VARCHAR(64)  NOT NULL,
  key_fp     VARCHAR(64)  NOT NULL DEFAULT '',
  token      VARCHAR(128) NOT NULL,
  size_bytes BIGINT       NOT NULL DEFAULT 0,
  mime       VARCHAR(255) NOT NULL DEFAULT '',
  model      VARCHAR(128) NOT NULL DEFAULT '',
  created_ms BIGINT       NOT NULL,
  expires_ms BIGINT       NOT NULL DEFAULT 0,
  meta       MEDIUMTEXT   NOT NULL,
  PRIMARY KEY (name),
  INDEX resources_token (token, kind, name),
  INDEX resources_expires (expires_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
