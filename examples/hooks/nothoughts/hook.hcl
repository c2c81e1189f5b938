hook "no-thoughts" {
  module = "examples/hooks/nothoughts/nothoughts.wasm"
  phases = ["response", "chunk"] # chunk: once per streamed event
  fail   = "open"
  config = {
    hide_usage = false
  }
}
