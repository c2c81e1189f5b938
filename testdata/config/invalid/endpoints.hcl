# Status and metrics that clash with a client or with each other.
upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
}

pool "main" {
  upstream = "google"
  keys     = ["AIzaSyENDPOINTS00000000000000000000000001"]
}

token "app" {
  secret = "sk-shared-with-status"
  pools  = ["main"]
}

token "ci" {
  secrets = ["sk-ci-own-secret-0001", "sk-shared-with-metrics"]
  pools   = ["main"]
}

status {
  path  = "/ops"
  token = "sk-shared-with-status"
}

metrics {
  path  = "/ops/metrics"
  token = "sk-shared-with-metrics"
}
