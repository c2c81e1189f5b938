# Upstream kinds and pool fallback: every mistake below is reported with
# its own source range.
upstream "google" { base_url = "https://generativelanguage.googleapis.com" }

upstream "vertex" {
  base_url = "https://aiplatform.googleapis.com"
  kind     = "vertex_expres"
}

upstream "vertex_path" {
  base_url = "https://aiplatform.googleapis.com/v1beta1/publishers/google"
  kind     = "vertex_express"
}

upstream "vertex_ok" {
  base_url = "https://aiplatform.googleapis.com"
  kind     = "vertex_express"
}

pool "free" {
  upstream = "google"
  keys     = ["AIzaSySHARED000000000000000000000000001"]
  fallback = ["piad"]
}

pool "express" {
  upstream = "vertex_ok"
  keys     = ["AIzaSySHARED000000000000000000000000001"]
  fallback = ["express"]
}

pool "a" {
  upstream = "vertex_ok"
  keys     = ["AQ.vertex-key-a"]
  fallback = ["b"]
}

pool "b" {
  upstream = "google"
  keys     = ["AIzaSyB0000000000000000000000000000000001"]
  fallback = ["c", "c"]
}

pool "c" {
  upstream = "google"
  keys     = ["AIzaSyC0000000000000000000000000000000001"]
  fallback = ["a"]
}

pool "paid" {
  upstream = "google"
  keys     = ["AIzaSyPAID00000000000000000000000000001"]
}

token "app" {
  secret = "sk-app-token-0001"
  pools  = ["free", "express", "a", "paid"]
}

# Model rule fallback: the same checks as a pool's list.
model "gemini-2.5-pro" {
  pool     = "express"
  fallback = ["express", "piad", "paid", "paid"]
}
