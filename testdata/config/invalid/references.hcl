# Every reference between blocks is checked, with suggestions.
upstream "google" {
  base_url    = "https://generativelanguage.googleapis.com"
  proxy_group = "egres"
}

proxy "egress" {
  urls = ["http://10.0.0.1:3128"]
}

pool "main" {
  upstream = "gogle"
  keys     = ["AIzaSyREF00000000000000000000000000000001"]
  hooks    = ["nope"]
}

token "app" {
  secret = "sk-references-token1"
  pools  = ["mian", "paid"]
}

model "pro" {
  target = "gemini-2.5-pro"
  pool   = "man"
}

locals {
  base = local.missing
}

status {
  token = var.status_token
}
