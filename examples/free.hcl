# One free pool: a handful of free-tier keys from the environment, one
# client token. The smallest config worth running.
#
#   export GEMINI_KEYS="AIza...,AIza..."   BALANCE_TOKEN="sk-..."
#   bin/balance -config examples/free.hcl

upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
}

pool "free" {
  upstream = "google"
  keys     = compact(split(",", env("GEMINI_KEYS")))

  # Free-tier keys allow about 10 requests a minute per model; spreading
  # below that avoids most 429s before Google sends them.
  limits {
    rpm = 10
  }
}

token "me" {
  secret = env("BALANCE_TOKEN")
  pools  = ["free"]
}

store {
  driver = "sqlite"
  path   = "data/balance.db"
}
