// Package cputime reads the CPU time of the calling OS thread, for
// benchmarks on shared machines: wall time counts whatever other processes
// took from the core, thread CPU time only the benchmark's own work.
package cputime

import "time"

// Thread returns the CPU time the calling OS thread has used, or 0 where the
// platform cannot tell (callers then skip their CPU-time figures). The caller
// locks its goroutine to the thread (runtime.LockOSThread) around what it
// measures.
func Thread() time.Duration { return thread() }
