# A Vertex AI Express pool that falls back to a Gemini API pool; model
# rules set their own fallback, or none.
upstream "google" { base_url = "https://generativelanguage.googleapis.com" }

upstream "vertex" {
  base_url = "https://aiplatform.googleapis.com"
  kind     = "vertex_express"
}

pool "express" {
  upstream = "vertex"
  keys     = ["AQ.vertex-express-key-000000000000001"]
  fallback = ["paid"]
}

pool "paid" {
  upstream = "google"
  keys     = ["AIzaSyPAID00000000000000000000000000001"]
}

token "app" {
  secret = "sk-app-token-0001"
  pools  = ["express", "paid"]
}

model "gemini-embedding-001" { pool = "paid" }

# Pro goes to the Gemini pool first and to Vertex when its keys cool.
model "gemini-2.5-pro" {
  pool     = "paid"
  fallback = ["express"]
}

# Lite never leaves Vertex.
model "gemini-2.5-flash-lite" { fallback = [] }
