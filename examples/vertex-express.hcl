# Vertex AI Express keys first, Gemini API keys when they run out: the
# express pool serves every model call on Vertex's own paths
# (aiplatform.googleapis.com/v1/publishers/google/models/…); when all of
# its keys are cooling for a model (429) or quarantined, the request moves
# to the "paid" Gemini pool, and the next requests come back to Vertex as
# soon as a key recovers. Stats and status name the pool that served.
#
#   export VERTEX_KEYS="AQ....,AQ...."  PAID_KEY="AIza..."  BALANCE_TOKEN="sk-..."

upstream "vertex" {
  base_url = "https://aiplatform.googleapis.com" # the host only: balance adds /v1/publishers/google/models/…
  kind     = "vertex_express"
}

upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
}

pool "express" {
  upstream = "vertex"
  keys     = compact(split(",", env("VERTEX_KEYS")))
  fallback = ["paid"] # a Gemini pool; the request path is rebuilt for it

  cooldown {
    base = "60s" # Vertex's 429 carries no retry delay: this is how long a key rests
    max  = "10m"
  }

  probe {
    model = "gemini-2.5-flash" # quarantined keys are re-checked with countTokens on this model
  }
}

pool "paid" {
  upstream = "google"
  keys     = [env("PAID_KEY")]
}

token "app" {
  secret = env("BALANCE_TOKEN")
  # The first pool is the default. A fallback pool must be listed here too:
  # a token never spills into a pool it may not use.
  pools = ["express", "paid"]
}

# Vertex AI Express serves no Gemini-shaped embeddings and no models list:
# embeddings go to the Gemini pool.
model "gemini-embedding-001" {
  pool = "paid"
}

# Vertex AI Express lists no models, so GET /v1/models on the express pool
# answers the models declared here (listed) without an upstream call.
model "gemini-2.5-flash" {
  listed = true
}

# Pro the other way round: the Gemini pool first, Vertex while its key
# cools. A model rule's fallback replaces its pool's.
model "gemini-2.5-pro" {
  listed   = true
  pool     = "paid"
  fallback = ["express"]
}
