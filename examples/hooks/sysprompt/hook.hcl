# Every generation request gets the house system prompt first: native
# Gemini generateContent and streamGenerateContent, and OpenAI chat. Not
# embedContent or countTokens, whose bodies have no system prompt.
hook "house-style" {
  module = "examples/hooks/sysprompt/sysprompt.wasm"
  phases = ["request"]
  routes = [
    "/v1beta/models/*:generateContent",
    "/v1beta/models/*:streamGenerateContent",
    "/v1/chat/completions",
  ]
  timeout = "50ms"
  fail    = "open" # a style prompt is not worth failing requests for
  config = {
    prompt = "Answer concisely. Use British English."
  }
}
