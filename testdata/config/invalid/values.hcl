# Impossible values.
server {
  listen           = "8000"
  max_request_body = "12"
  read_timeout     = "-5s"
  log_level        = "verbose"
}

upstream "google" {
  base_url = "generativelanguage.googleapis.com"
  timeout  = "ten minutes"
}

proxy "bad" {
  urls = ["ftp://10.0.0.1:21", "not a url"]
}

pool "main" {
  upstream    = "google"
  keys        = ["AIzaSyVALUES000000000000000000000000001"]
  strategy    = "round-robin"
  max_retries = -1
  retry_on    = ["timeout", "quota"]

  key {
    value  = "AIzaSyVALUES000000000000000000000000002"
    weight = 0
  }

  cooldown {
    base       = "2h"
    max        = "1h"
    multiplier = 0.5
  }

  limits {
    rpm = -10
  }
}

token "app" {
  secret      = "short"
  pools       = []
  models      = ["gemini-[2.5"]
  concurrency = -1
  expires     = "next tuesday"
}

model "gemini-2.5-pro" {
  target          = "gemini-*"
  thinking_budget = -2
  generation_config = ["temperature"]
}

store {
  driver = "postgres"
}

status {
  path  = "/v1beta/status"
  token = "status-token-0001"
}

openai {
  image_output = "png"
  max_n        = 100
}
