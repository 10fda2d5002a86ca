//go:build race

package linalg

// raceEnabled: the race detector makes sync.Pool drop values at random.
const raceEnabled = true
