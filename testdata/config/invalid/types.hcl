# Type errors name the attribute.
upstream "google" {
  base_url  = "https://generativelanguage.googleapis.com"
  max_conns = "many"
}

pool "main" {
  upstream    = "google"
  keys        = "AIzaSyTYPES0000000000000000000000000001"
  max_retries = true
}

token "app" {
  secret = ["sk-types-token-0001"]
  pools  = ["main"]
  rpm    = "sixty"
}
