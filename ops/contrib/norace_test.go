//go:build !race

package contrib_test

const raceEnabled = false
