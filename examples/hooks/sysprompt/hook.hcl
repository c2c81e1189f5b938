# Every request gets the house system prompt first.
hook "house-style" {
  module  = "examples/hooks/sysprompt/sysprompt.wasm"
  phases  = ["request"]
  routes  = ["/v1beta", "/v1"]
  timeout = "50ms"
  fail    = "open" # a style prompt is not worth failing requests for
  config = {
    prompt = "Answer concisely. Use British English."
  }
}
