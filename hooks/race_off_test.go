//go:build !race

package hooks

// reloads is the reload count of TestReloadUnderLoad.
const reloads = 200

const raceEnabled = false
