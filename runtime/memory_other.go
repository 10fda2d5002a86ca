//go:build !linux

package runtime

func physicalMemory() int64 { return 0 }
