# The config docker-compose.yml mounts: stats and shared key state in
# MySQL, status page on, everything secret from the environment.

server {
  listen = "0.0.0.0:8000"
}

upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
}

pool "main" {
  upstream = "google"
  keys     = compact(split(",", env("GEMINI_KEYS")))
}

token "app" {
  secret = env("BALANCE_TOKEN")
  pools  = ["main"]
}

status {
  path  = "/status"
  token = env("BALANCE_STATUS_TOKEN")
}

store {
  driver   = "mysql"
  dsn      = env("BALANCE_MYSQL_DSN")
  required = false # keep serving if MySQL is down; stats resume when it is back
}
