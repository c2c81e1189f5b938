-- 0005: Responses API answers kept for previous_response_id and
-- GET /v1/responses/{id}. token_hash is the sha256 of the client token
-- (never the token itself): a response is found only with the token that
-- made it. history, input and response are JSON; expires_ms drives
-- retention (openai.response_retention).
CREATE TABLE IF NOT EXISTS stored_responses (
  id         VARCHAR(64)  NOT NULL,
  token_hash CHAR(64)     NOT NULL,
  created_ms BIGINT       NOT NULL,
  expires_ms BIGINT       NOT NULL,
  model      VARCHAR(128) NOT NULL DEFAULT '',
  history    LONGTEXT     NOT NULL,
  input      LONGTEXT     NOT NULL,
  response   LONGTEXT     NOT NULL,
  PRIMARY KEY (id),
  INDEX stored_responses_expires (expires_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
