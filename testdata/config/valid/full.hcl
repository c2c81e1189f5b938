# Every block and most attributes, with values other than the defaults.
locals {
  google = "https://generativelanguage.googleapis.com"
  keys   = compact(split(",", env("TEST_KEYS")))
}

server {
  listen              = "0.0.0.0:9000"
  max_request_body    = "16MiB"
  read_timeout        = "20s"
  idle_timeout        = "2m"
  shutdown_grace      = "45s"
  stream_idle_timeout = "3m"
  data_dir            = "state"
  log_level           = "debug"
  log_requests        = true
}

proxy "egress" {
  urls = ["http://proxyuser:proxypass@10.0.0.1:3128", "socks5://10.0.0.2:1080"]
}

upstream "google" {
  base_url    = local.google
  timeout     = "5m"
  headers     = { "X-Team" = "ml", "X-Api-Token" = "header-secret-value" }
  proxy_group = "egress"
  max_conns   = 512
}

upstream "direct" {
  base_url = "${local.google}/"
  proxies  = ["http://10.0.0.9:8080"]
}

pool "free" {
  upstream     = "google"
  keys         = local.keys
  keys_file    = "keys.txt"
  keys_pattern = "AIza[0-9A-Za-z_]{35}"
  strategy     = "least_recently_used"
  max_retries  = 5
  retry_on     = ["server_error", "timeout"]
  hooks        = ["noop"]

  key {
    value  = "AIzaSyWEIGHTED00000000000000000000000001"
    weight = 3
  }

  cooldown {
    base       = "30s"
    max        = "2h"
    multiplier = 1.5
    daily      = "12h"
  }

  probe {
    enabled  = false
    interval = "1m"
    max      = "1h"
    model    = "models/gemini-2.0-flash"
  }

  limits {
    rpm = 10
    rpd = 1500
    tpm = 250000
  }
}

pool "paid" {
  upstream = "direct"
  keys     = ["AIzaSyPAID000000000000000000000000000001"]
  strategy = "random"
}

token "team-a" {
  secrets        = ["sk-team-a-current-0001", "sk-team-a-previous-001"]
  pools          = ["free", "paid"]
  models         = ["gemini-2.5-*", "fast"]
  rpm            = 60
  concurrency    = 4
  tokens_per_day = 2000000
  expires        = "2030-01-31"
  labels         = { team = "a", cost_center = "42" }
  hooks          = ["noop"]
}

token "ci" {
  secret  = file("ci-token.txt")
  pools   = ["free"]
  expires = "2030-06-30T12:00:00Z"
  stream_pacing {
    enabled = false
  }
}

model "fast" {
  target = "gemini-2.5-flash-lite"
  listed = true
}

model "gemini-2.5-pro" {
  pool            = "paid"
  thinking_budget = 2048
  include_thoughts = true
  safety_settings = [{ category = "HARM_CATEGORY_HARASSMENT", threshold = "BLOCK_ONLY_HIGH" }]
  generation_config = { temperature = 0.2, maxOutputTokens = 8192 }
}

model "gemini-2.5-flash-search" {
  target = "gemini-2.5-flash"
  search = true
  listed = true
}

model "gemini-2.0-flash-lite" {
  hidden = true
}

model "gemini-3-*" {
  code_execution = true
  url_context    = true
  variants       = ["search", "image"]
  stream_pacing {
    chunk_chars = 8
    interval    = "30ms"
    max_delay   = "1s"
  }
}

hook "noop" {
  module        = "noop.wasm"
  phases        = ["request", "response"]
  routes        = ["/v1beta/models/*:generateContent"]
  models        = ["gemini-*"]
  timeout       = "250ms"
  max_instances = 8
  memory        = "32MiB"
  fail          = "open"
  config        = { greeting = "hi", api_key = "hook-config-secret" }
}

store {
  driver            = "mysql"
  dsn               = "balance:db-p@ss:word@tcp(mysql:3306)/balance?parseTime=true"
  required          = true
  record_request_bodies = true
  max_body          = "128KiB"
  retain_requests   = "3d"
  retain_errors     = "14d"
  retain_rollups    = "60d"
  key_state_refresh = "5s"
}

files {
  max_upload = "512MiB"
}

status {
  path  = "/_status"
  token = "status-token-0001"
}

metrics {
  path  = "/_metrics"
  token = "metrics-token-0001"
}

openai {
  search_suffix       = "-web"
  image_suffix        = "-img"
  non_thinking_suffix = "-fast"
  show_thinking       = true
  image_output        = "data_url"
  search_links        = false
  keep_alive          = "15s"
  max_n               = 4

  image_fetch {
    enabled   = false
    timeout   = "5s"
    max_bytes = "5MiB"
  }
}
