# Loads, with warnings: a model pattern that matches nothing known, and a
# model routed to a pool no token allowed to use it can reach.
upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
}

pool "free" {
  upstream = "google"
  keys     = ["AIzaSyWARN0000000000000000000000000000001"]
}

pool "paid" {
  upstream = "google"
  keys     = ["AIzaSyWARN0000000000000000000000000000002"]
}

token "typo" {
  secret = "sk-warnings-token-001"
  pools  = ["free"]
  models = ["gemnii-*"]
}

model "gemini-2.5-pro" {
  pool = "paid"
}

store {
  driver = "none"
}
