# A pool with no keys at all, and a keys_file without keys in it.
upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
}

pool "empty" {
  upstream = "google"
  keys     = []
}

pool "nokeys" {
  upstream  = "google"
  keys_file = "empty_pool.hcl"
}

token "app" {
  pools = ["empty"]
}

store {
  driver = "mysql"
}

status {
  path = "/status"
}
