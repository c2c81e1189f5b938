hook "blocklist" {
  module = "examples/hooks/blocklist/blocklist.wasm"
  phases = ["request"]
  tokens = ["public-*"] # only for the public-facing client tokens
  fail   = "closed"
  config = {
    phrases = ["internal codename", "ignore previous instructions"]
    message = "This request contains a phrase that is not allowed."
  }
}
