//go:build !unix

package graphopt_test

import "time"

// cpuTime is not measured here; speed logs show 0.
func cpuTime() time.Duration { return 0 }
