//go:build !race

package testkit

// RaceEnabled reports whether the test binary was built with -race, which slows everything in
// it several times over: timing targets are then printed but not asserted.
const RaceEnabled = false
