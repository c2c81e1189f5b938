pool "main" {
  upstream = "google"
  keys = ["a", "b"
}
