# A duplicate label says where the first one was.
upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
}

upstream "google" {
  base_url = "https://example.com"
}

pool "main" {
  upstream = "google"
  keys     = ["AIzaSyDUP00000000000000000000000000000001"]
}

pool "main" {
  upstream = "google"
  keys     = ["AIzaSyDUP00000000000000000000000000000002"]
  strategy = "fastest"
}

token "app" {
  secret = "sk-duplicate-token-1"
  pools  = ["main"]
}

token "app" {
  secret = "sk-duplicate-token-2"
  pools  = ["main"]
}

token "other" {
  secret = "sk-duplicate-token-1"
  pools  = ["main"]
}

model "fast" {
  target = "gemini-2.5-flash"
}

model "models/fast" {
  target = "gemini-2.5-flash-lite"
}

locals {
  a = 1
}

locals {
  a = 2
}
