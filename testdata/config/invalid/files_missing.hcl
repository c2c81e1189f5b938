# Unreadable files name the file; nothing is silently empty.
upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
}

pool "main" {
  upstream  = "google"
  keys_file = "no-such-keys.txt"
}

token "app" {
  secret = file("no-such-secret.txt")
  pools  = ["main"]
}

hook "h" {
  module = "no-such-hook.wasm"
}

hook "notwasm" {
  module = "files_missing.hcl"
}
