# Per-team tokens with their own limits, model allowlists, expiry and
# labels (labels show up in stats, so usage can be charged back).
#
#   export GEMINI_KEYS="AIza...,AIza..."
#   export TEAM_SEARCH_TOKEN=... TEAM_SEARCH_TOKEN_OLD=... TEAM_BATCH_TOKEN=... INTERN_TOKEN=...
#   export BALANCE_STATUS_TOKEN=...

upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
}

pool "shared" {
  upstream = "google"
  keys     = compact(split(",", env("GEMINI_KEYS")))
}

token "search" {
  # Two secrets during a rotation: the new one and the one being retired.
  secrets     = [env("TEAM_SEARCH_TOKEN"), env("TEAM_SEARCH_TOKEN_OLD")]
  pools       = ["shared"]
  models      = ["gemini-2.5-*", "gemini-embedding-001"]
  rpm         = 120
  concurrency = 16
  labels      = { team = "search", cost_center = "cc-1042" }
}

token "batch" {
  secret         = env("TEAM_BATCH_TOKEN")
  pools          = ["shared"]
  models         = ["gemini-2.5-flash*"]
  concurrency    = 4
  tokens_per_day = 5000000
  labels         = { team = "batch" }
}

token "intern" {
  secret  = env("INTERN_TOKEN")
  pools   = ["shared"]
  models  = ["gemini-2.5-flash-lite"]
  rpm     = 10
  expires = "2026-09-30"
  labels  = { team = "interns" }
}

# Defaults filled in only when a request does not set them itself.
model "gemini-2.5-flash-lite" {
  generation_config = { temperature = 0.3, maxOutputTokens = 2048 }
  safety_settings = [
    { category = "HARM_CATEGORY_HARASSMENT", threshold = "BLOCK_MEDIUM_AND_ABOVE" },
    { category = "HARM_CATEGORY_DANGEROUS_CONTENT", threshold = "BLOCK_MEDIUM_AND_ABOVE" },
  ]
}

status {
  path  = "/status"
  token = env("BALANCE_STATUS_TOKEN")
}

store {
  driver = "sqlite"
  path   = "data/balance.db"
}
