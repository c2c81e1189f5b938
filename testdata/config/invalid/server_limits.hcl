# Server and upstream limits that cannot hold, headers balance owns, and
# error class names that are not classes (blame and retry_on take only the classes they can act on).
server {
  max_request_body = "64MiB"
  max_body_memory  = "16MiB"
}

upstream "google" {
  base_url          = "https://generativelanguage.googleapis.com"
  max_response_body = "1KiB"
  headers           = { "X-Goog-Api-Key" = "AIzaSyNOPE", "Bad Name" = "x" }
}

pool "main" {
  upstream = "google"
  keys     = ["AIzaSyLIM00000000000000000000000000000001"]
  blame    = ["rate_limited", "client_error"]
  retry_on = ["server_errors"]
}

token "app" {
  secret = "sk-limits-token-1"
  pools  = ["main"]
}
