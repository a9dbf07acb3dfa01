//go:build race

package model

// raceEnabled shrinks the reference matrix under the (10x slower) race
// detector; the full matrix runs without it.
const raceEnabled = true
