# Keys from a file and from the environment, merged into one pool
# (duplicates are dropped). The keys file may be any text: balance pulls
# out everything shaped like a Google API key, so a pasted spreadsheet
# column or a file with comments works. Saving the keys file while
# balance runs reloads it: new keys start serving, removed keys stop.
#
#   export EXTRA_KEYS="AIza...,AIza..."  BALANCE_TOKEN=...
#   # and: one key per line in examples/keys.example.txt (or your own file)

upstream "google" {
  base_url = "https://generativelanguage.googleapis.com"
}

pool "main" {
  upstream  = "google"
  keys_file = "keys.example.txt"
  keys      = compact(split(",", env("EXTRA_KEYS", "")))

  # A key that may take more traffic than the others.
  key {
    value  = env("BIG_KEY", "AIzaSyEXAMPLEbigkey00000000000000000000")
    weight = 3
  }
}

token "app" {
  # The token itself can come from a file, e.g. a mounted secret.
  secret = file("token.example.txt")
  pools  = ["main"]
}
