//go:build !linux

package tensor

import "time"

// threadCPU is unavailable here: benchmarks skip their CPU-time rates.
func threadCPU() time.Duration { return 0 }
