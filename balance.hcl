# balance.hcl — the default config, for real use with `make run`.
# Secrets come from the environment so this file can live in git:
#
#   export GEMINI_KEYS="AIza...,AIza..."     # comma-separated keys
#   export BALANCE_TOKEN="sk-..."            # what your clients send
#   export BALANCE_STATUS_TOKEN="..."        # for /status
#
# `bin/balance validate -config balance.hcl` checks it; saving it while
# balance runs applies it within a second (or the old config keeps serving
# and the log says why). The README has the full reference.

server {
  listen           = "127.0.0.1:8000"
  max_request_body = "32MiB"
}

upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
  timeout  = "10m"
}

pool "main" {
  upstream = "google"
  keys     = compact(split(",", env("GEMINI_KEYS")))
  strategy = "round_robin"

  # 429s cool a key for that model, honouring Google's retryDelay.
  cooldown {
    base = "60s"
    max  = "1h"
  }
}

token "default" {
  secret = env("BALANCE_TOKEN")
  pools  = ["main"]
}

status {
  path  = "/status"
  token = env("BALANCE_STATUS_TOKEN")
}

store {
  driver = "sqlite"
  path   = "data/balance.db"
}
