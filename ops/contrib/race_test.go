//go:build race

package contrib_test

// raceEnabled: the race detector makes sync.Pool drop values at random.
const raceEnabled = true
