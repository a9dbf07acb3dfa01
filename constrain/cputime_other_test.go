//go:build !linux

package constrain

import "time"

var cpuEpoch = time.Now()

// threadCPU falls back to wall time where thread CPU time is not available.
func threadCPU() time.Duration { return time.Since(cpuEpoch) }
