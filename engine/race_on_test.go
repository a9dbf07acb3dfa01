//go:build race

package engine

// raceEnabled trims the heaviest tests under the race detector.
const raceEnabled = true
