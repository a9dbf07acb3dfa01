package cputime

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestThread checks that busy work advances the thread's clock by about its
// wall time and sleeping does not.
func TestThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		if Thread() != 0 {
			t.Fatal("Thread is not 0 where it is documented as unavailable")
		}
		t.Skip("thread CPU time is read on Linux only")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	c0, w0 := Thread(), time.Now()
	x := 1.0
	for time.Since(w0) < 50*time.Millisecond {
		x = x*1.0000001 + 1e-9
	}
	busy, wall := Thread()-c0, time.Since(w0)
	if busy <= 0 || busy > wall+time.Millisecond {
		t.Errorf("busy loop of %v wall: thread CPU %v, want in (0, wall]", wall, busy)
	}
	c1 := Thread()
	time.Sleep(30 * time.Millisecond)
	if slept := Thread() - c1; slept > 5*time.Millisecond {
		t.Errorf("sleeping 30ms used %v of thread CPU", slept)
	}
	_ = x
}
