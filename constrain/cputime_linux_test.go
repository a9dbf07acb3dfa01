package constrain

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time of the calling OS thread (the caller locks
// it), so that a benchmark on a shared machine measures its own work rather
// than the time other processes held the core.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
