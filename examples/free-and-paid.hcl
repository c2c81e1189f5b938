# Free and paid pools with model routing: cheap flash traffic rides the
# free keys, pro goes to the paid key, and the free pool falls back on
# nothing (a 429 there cools the key, never spends paid quota).
#
#   export FREE_KEYS="AIza...,AIza..."  PAID_KEY="AIza..."  BALANCE_TOKEN="sk-..."

locals {
  google = "https://generativelanguage.googleapis.com"
}

upstream "google" {
  base_url = local.google
  timeout  = "10m"
}

pool "free" {
  upstream = "google"
  keys     = compact(split(",", env("FREE_KEYS")))
  strategy = "round_robin"

  cooldown {
    base  = "60s"
    max   = "1h"
    daily = "8h" # a per-day quota ran out: rest the key until Pacific midnight-ish
  }
}

pool "paid" {
  upstream    = "google"
  keys        = [env("PAID_KEY")]
  max_retries = 1

  probe {
    enabled = false # one key: nothing to fail over to, do not spend it on probes
  }
}

token "app" {
  secret = env("BALANCE_TOKEN")
  # The first pool is the default; model rules pick the other.
  pools = ["free", "paid"]
}

# Pro models always go to the paid pool.
model "gemini-2.5-pro" {
  pool            = "paid"
  thinking_budget = 8192
}

# An alias clients can ask for; "fast-search" gets Google Search grounding.
model "fast" {
  target = "gemini-2.5-flash-lite"
  listed = true
}

model "fast-search" {
  target = "gemini-2.5-flash"
  search = true
  listed = true
}

store {
  driver = "sqlite"
  path   = "data/balance.db"
}
