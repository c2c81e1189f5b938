# An unset env() is one error, naming the variable: no "Pool has no keys"
# or "Weak token secret" echo after it.
locals {
  status_token = env("TEST_UNSET_STATUS")
}

upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
}

pool "main" {
  upstream = "google"
  keys     = compact(split(",", env("TEST_UNSET_KEYS")))
}

token "app" {
  secret = env("TEST_UNSET_TOKEN")
  pools  = ["main"]
}

status {
  token = local.status_token
}
