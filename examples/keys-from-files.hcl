# Keys from a file and from the environment, merged into one pool
# (duplicates are dropped). The keys file may be any text: balance pulls
# out everything shaped like a Google API key, so a pasted spreadsheet
# column or a file with comments works. Saving the keys file while
# balance runs reloads it: new keys start serving, removed keys stop.
#
#   export EXTRA_KEYS="AIza...,AIza..."  BIG_KEY="AIza..."   # both optional
#   bin/balance -config examples/keys-from-files.hcl
#
# The keys file is examples/keys.example.txt (put your own keys there, or
# point keys_file at your file); the client token is read from
# examples/token.example.txt.

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
