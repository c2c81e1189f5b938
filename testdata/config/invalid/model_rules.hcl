upstream "google" { base_url = "https://generativelanguage.googleapis.com" }
pool "main" {
  upstream = "google"
  keys     = ["AIzaSyRulesKey0000000000000000000000001"]
}
token "t" {
  secret = "sk-rules-token-0001"
  pools  = ["main"]
  stream_pacing {
    interval  = "5s"
    max_delay = "2m"
  }
}
model "gemini-*" {
  variants = ["search", "serch", "non-thinking"]
  stream_pacing {
    chunk_chars = 0
  }
}
