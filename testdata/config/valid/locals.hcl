# Locals may refer to each other in any order; env() takes a default.
locals {
  pool_keys = [for i in range(3) : format("AIzaSyLOCAL%028d", i)]
  base      = "https://${local.host}"
  host      = lower(env("TEST_UNSET_HOST", "GENERATIVELANGUAGE.googleapis.com"))
  suffix    = trimspace("  -lite  ")
}

upstream "google" {
  base_url = local.base
}

pool "main" {
  upstream = "google"
  keys     = local.pool_keys
}

token "app" {
  secret = env("TEST_TOKEN")
  pools  = ["main"]
  models = ["gemini-2.5-flash${local.suffix}"]
}
