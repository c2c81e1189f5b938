# Model rules merge per attribute: each attribute comes from the most
# specific matching rule that sets it (exact name, then longer globs).
upstream "google" { base_url = "https://generativelanguage.googleapis.com" }
pool "free" {
  upstream = "google"
  keys     = ["AIzaSyMergeFree000000000000000000000001"]
}
pool "paid" {
  upstream = "google"
  keys     = ["AIzaSyMergePaid000000000000000000000001"]
}
token "team" {
  secret = "sk-merge-team-token-0001"
  pools  = ["free", "paid"]
}

# The global default: applies wherever a more specific rule leaves the
# attribute alone.
model "*" {
  safety_settings = [{ category = "HARM_CATEGORY_HARASSMENT", threshold = "BLOCK_ONLY_HIGH" }]
  variants        = ["search"]
}
model "gemini-*" {
  generation_config = { temperature = 0.7 }
}
model "gemini-2.5-*" {
  thinking_budget = 1024
  code_execution  = true
}
# 15 literal characters: more specific than "gemini-2.5-*" (11).
model "gemini-?.5-flash" {
  url_context = true
}
model "gemini-2.5-pro" {
  pool            = "paid"
  thinking_budget = 4096
  variants        = ["search", "non_thinking"]
}
model "gemini-2.5-flash-lite" { hidden = true }
model "imagen-*" {
  safety_settings = []
  variants        = []
}
model "fast" {
  target = "gemini-2.5-flash"
  stream_pacing {
    chunk_chars = 3
  }
}
