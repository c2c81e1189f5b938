# Mask PII in prompts before they reach Gemini. fail = "closed": if the
# hook breaks, refuse the request rather than leak what it should mask.
hook "redact" {
  module        = "examples/hooks/redact/redact.wasm"
  phases        = ["request"]
  timeout       = "50ms"
  max_instances = 4
  memory        = "32MiB"
  fail          = "closed"
  config = {
    email = true
    phone = true
    card  = true
    # mask = "[REDACTED]"   # one placeholder for every kind
  }
}
