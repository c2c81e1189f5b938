# Live API session limits on a token.
upstream "google" { base_url = "https://generativelanguage.googleapis.com" }

pool "free" {
  upstream = "google"
  keys     = ["AIzaSyLIVEKEY00000000000000000000000001"]
}

token "voice" {
  secret            = "sk-voice-app-000001"
  pools             = ["free"]
  live_sessions     = 2
  live_max_duration = "15m"
}
