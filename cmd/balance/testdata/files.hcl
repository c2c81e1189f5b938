# minimal.hcl with a files block: `balance config` shows it.
upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
}

pool "free" {
  upstream = "google"
  keys     = ["AIzaSyMINIMAL000000000000000000000000001"]
}

token "me" {
  secret = "sk-minimal-token-0001"
  pools  = ["free"]
}

files {
  max_upload = "512MiB"
}
