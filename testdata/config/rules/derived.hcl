# A rule may name a derived model (a name with virtual suffixes): it
# applies to requests for that name, before every rule of the base model,
# and each attribute it leaves alone still comes from the base's rules.
upstream "google" { base_url = "https://generativelanguage.googleapis.com" }
pool "free" {
  upstream = "google"
  keys     = ["AIzaSyDerivedFree00000000000000000000001"]
}
pool "paid" {
  upstream = "google"
  keys     = ["AIzaSyDerivedPaid00000000000000000000001"]
}
token "team" {
  secret = "sk-derived-team-token-01"
  pools  = ["free", "paid"]
}

# Matches every name, asked or base: always the least specific.
model "*" {
  safety_settings = [{ category = "HARM_CATEGORY_HARASSMENT", threshold = "BLOCK_ONLY_HIGH" }]
}
model "gemini-*" {
  generation_config = { temperature = 0.7 }
  code_execution    = true
}
model "gemini-2.5-flash" {
  pool            = "free"
  thinking_budget = 1024
}
# Only the derived names match these two.
model "*-search" {
  generation_config = { temperature = 0.2 }
}
model "gemini-2.5-flash-search" {
  pool           = "paid"
  code_execution = false
}
