-- 0005: Responses API answers kept for previous_response_id and
-- GET /v1/responses/{id}. token_hash is the sha256 of the client token
-- (never the token itself): a response is found only with the token that
-- made it. history, input and response are JSON; expires_ms drives
-- retention (openai.response_retention).
CREATE TABLE IF NOT EXISTS stored_responses (
  id         TEXT    NOT NULL PRIMARY KEY,
  token_hash TEXT    NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  model      TEXT    NOT NULL DEFAULT '',
  history    TEXT    NOT NULL,
  input      TEXT    NOT NULL,
  response   TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS stored_responses_expires ON stored_responses (expires_ms);
