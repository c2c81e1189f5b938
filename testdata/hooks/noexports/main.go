//go:build wasip1

// Command noexports is a valid wasip1 reactor that exports none of the hook
// functions; loading it must fail with a clear error.
package main

//go:wasmexport something_else
func somethingElse() int32 { return 7 }

func main() {}
