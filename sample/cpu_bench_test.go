//go:build unix

package sample

import (
	"syscall"
	"testing"
	"time"
)

// cpuTimer reports the process CPU time per operation ("cpu-ns/op") next to
// the wall time, because the shared test machines are often oversubscribed
// and wall time then measures the neighbours as much as the code.
type cpuTimer struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuTimer { return cpuTimer{cpuNow()} }

func (c cpuTimer) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(cpuNow()-c.start)/float64(b.N), "cpu-ns/op")
	}
}
