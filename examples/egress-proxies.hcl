# Egress proxies: every key is pinned to one proxy of its group (the same
# key always leaves through the same address), so Google sees a stable
# IP per key. Proxy passwords come from the environment; `balance config`
# masks them.
#
#   export GEMINI_KEYS=...  PROXY_PASSWORD=...  BALANCE_TOKEN=...  PAID_KEY=...   # PAID_KEY optional
#   bin/balance -config examples/egress-proxies.hcl

proxy "datacenter" {
  urls = [
    "http://balance:${env("PROXY_PASSWORD")}@10.0.0.11:3128",
    "http://balance:${env("PROXY_PASSWORD")}@10.0.0.12:3128",
    "socks5://10.0.0.13:1080",
  ]
}

upstream "google" {
  base_url    = "https://generativelanguage.googleapis.com"
  proxy_group = "datacenter"
}

# A second route to Google without the proxies, for a pool that must not
# depend on them.
upstream "direct" {
  base_url = "https://generativelanguage.googleapis.com"
  headers  = { "X-Goog-User-Project" = "my-billing-project" }
}

pool "proxied" {
  upstream = "google"
  keys     = compact(split(",", env("GEMINI_KEYS")))
}

pool "direct" {
  upstream = "direct"
  keys     = [env("PAID_KEY", "AIzaSyEXAMPLEpaidkey0000000000000000000")]
  # A pool may also set proxies (or proxy_group) of its own, which then
  # replace its upstream's.
}

token "app" {
  secret = env("BALANCE_TOKEN")
  pools  = ["proxied", "direct"]
}

model "gemini-2.5-pro" {
  pool = "direct"
}
