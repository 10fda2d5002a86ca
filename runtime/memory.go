package runtime

import "sync"

var (
	defaultLiveOnce sync.Once
	defaultLive     int64
)

// DefaultMaxLiveBytes is three quarters of physical memory (0, no bound,
// where the platform does not report it): a model that would need more fails
// with an error naming the node instead of driving the machine into swap or
// the OOM killer.
func DefaultMaxLiveBytes() int64 {
	defaultLiveOnce.Do(func() {
		if total := physicalMemory(); total > 0 {
			defaultLive = total / 4 * 3
		}
	})
	return defaultLive
}
