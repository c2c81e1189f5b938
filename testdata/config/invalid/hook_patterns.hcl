# Hook filters that could never select anything as written.
upstream "google" { base_url = "https://generativelanguage.googleapis.com" }

pool "main" {
  upstream = "google"
  keys     = ["AIzaSyHOOKPATTERNS00000000000000000000001"]
}

token "app" {
  secret = "sk-hook-patterns-token1"
  pools  = ["main"]
}

hook "filters" {
  module = "../valid/noop.wasm"
  routes = ["generateContent", "/v1beta/**flash", "/v1/chat?x=1", "/v1beta"]
  models = ["gemini-[2"]
  tokens = ["app", "team-\\"]
}
