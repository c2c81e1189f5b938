//go:build race

package hooks

// reloads is the reload count of TestReloadUnderLoad: under the race
// detector one reload costs ~20× more, so fewer keep the package fast.
const reloads = 30

const raceEnabled = true
