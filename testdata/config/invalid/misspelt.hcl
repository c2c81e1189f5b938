# Misspelt attribute and block names get a "did you mean".
upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
  timout   = "5s"
}

pool "main" {
  upstream = "google"
  kyes     = ["AIzaSyMISSPELT0000000000000000000000001"]
  stratgy  = "random"

  cooldwn {
    base = "10s"
  }
}

tokn "app" {
  secret = "sk-misspelt-token-01"
  pools  = ["main"]
}
