# The demo: balance in front of the bundled mock Gemini upstream
# (cmd/mockgemini), with no real keys. `make demo` runs it.

server {
  listen = "127.0.0.1:8000"
}

upstream "mock" {
  base_url = "http://127.0.0.1:9100"
}

pool "demo" {
  upstream = "mock"
  # The mock rate-limits keys named *-429-* and rejects *-invalid-*, so the
  # demo shows a cooldown and a quarantine in /status after a few calls.
  keys = [
    "demo-key-0001",
    "demo-key-0002",
    "demo-429-key-0003",
    "demo-invalid-key-0004",
  ]
}

token "demo" {
  secret = "sk-demo-token"
  pools  = ["demo"]
}

model "fast" {
  target = "gemini-2.5-flash"
}

status {
  path  = "/status"
  token = "status-demo-token"
}

store {
  driver = "none"
}
