locals {
  a = "${local.b}-x"
  b = "${local.a}-y"
}

upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
}

pool "main" {
  upstream = "google"
  keys     = [local.a]
}

token "app" {
  secret = "sk-locals-cycle-token"
  pools  = ["main"]
}
