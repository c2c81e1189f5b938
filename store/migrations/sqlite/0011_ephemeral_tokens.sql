-- 0011: Live API ephemeral tokens minted through balance, bound to the
-- key that minted them (Google knows a token only in that key's
-- project), the client token that asked and the pool. token_hash is the
-- sha256 of the ephemeral token: the token itself is a credential and is
-- never stored; a session presents it, and balance looks up its hash.
-- expires_ms is Google's expireTime; the pruner drops what is past it.
CREATE TABLE IF NOT EXISTS ephemeral_tokens (
  token_hash TEXT    NOT NULL PRIMARY KEY,
  token      TEXT    NOT NULL,
  pool       TEXT    NOT NULL,
  key_hash   TEXT    NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ephemeral_tokens_expires ON ephemeral_tokens (expires_ms);
