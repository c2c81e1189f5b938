-- 0011: Live API ephemeral tokens minted through balance, bound to the
-- key that minted them (Google knows a token only in that key's
-- project), the client token that asked and the pool. token_hash is the
-- sha256 of the ephemeral token: the token itself is a credential and is
-- never stored; a session presents it, and balance looks up its hash.
-- expires_ms is Google's expireTime; the pruner drops what is past it.
CREATE TABLE IF NOT EXISTS ephemeral_tokens (
  token_hash CHAR(64)     NOT NULL,
  token      VARCHAR(128) NOT NULL,
  pool       VARCHAR(128) NOT NULL,
  key_hash   VARCHAR(64)  NOT NULL,
  created_ms BIGINT       NOT NULL,
  expires_ms BIGINT       NOT NULL,
  PRIMARY KEY (token_hash),
  INDEX ephemeral_tokens_expires (expires_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
