# "fast" and "smart" are stable names for clients; long prompts go to the
# long-context model on their own key pool.
hook "route" {
  module = "examples/hooks/route/route.wasm"
  phases = ["request"]
  fail   = "open" # on failure the caller's model is used as asked
  config = {
    aliases = {
      fast  = "gemini-2.5-flash"
      smart = "gemini-2.5-pro"
    }
    large = {
      above_chars = 200000
      model       = "gemini-2.5-pro"
      pool        = "long-context"
    }
  }
}
