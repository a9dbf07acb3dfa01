package parallel

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestForCoversEveryIndexOnce(t *testing.T) {
	for _, tc := range []struct{ workers, n, grain int }{
		{1, 10, 1}, {2, 1, 1}, {2, 2, 1}, {2, 1000, 1}, {3, 1000, 7}, {4, 97, 16}, {8, 5, 1}, {2, 64, 64}, {2, 65, 64},
	} {
		p := New(tc.workers)
		for rep := 0; rep < 50; rep++ {
			hits := make([]int32, tc.n)
			p.For(tc.n, tc.grain, func(w, lo, hi int) {
				if w < 0 || w >= tc.workers {
					t.Errorf("worker %d outside [0, %d)", w, tc.workers)
				}
				if lo%tc.grain != 0 || (hi != tc.n && hi%tc.grain != 0) || lo >= hi {
					t.Errorf("range [%d, %d) is not grain %d aligned", lo, hi, tc.grain)
				}
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("workers %d n %d grain %d: index %d ran %d times", tc.workers, tc.n, tc.grain, i, h)
				}
			}
		}
		p.Close()
	}
}

// A worker index is never used by two calls at once, so per-worker scratch
// needs no lock.
// TestSharesAndStealing checks how work is shared out: each worker walks
// its own share front to back in adjacent pieces, and a worker that stalls
// has the rest of its share done by the others.
func TestSharesAndStealing(t *testing.T) {
	p := New(2)
	defer p.Close()
	const n = 1000
	var mu sync.Mutex
	var calls [2][][2]int
	total := 0
	release := make(chan struct{})
	var once sync.Once
	p.For(n, 1, func(w, lo, hi int) {
		mu.Lock()
		calls[w] = append(calls[w], [2]int{lo, hi})
		if total += hi - lo; total == n {
			close(release)
		}
		mu.Unlock()
		if w == 1 {
			// The helper stalls in its first piece until every other
			// piece has been taken.
			once.Do(func() { <-release })
		}
	})
	own := calls[0]
	for i, c := range own {
		if c[1] > n/2 {
			own = own[:i]
			break
		}
		if want := 0; i > 0 {
			want = own[i-1][1]
			if c[0] != want {
				t.Fatalf("caller's pieces %v: not adjacent front to back", own[:i+1])
			}
		}
	}
	if len(own) == 0 || own[len(own)-1][1] != n/2 {
		t.Fatalf("caller's own pieces %v do not cover its share [0, %d)", own, n/2)
	}
	if len(own) < 4 {
		t.Errorf("caller's share done in %d pieces; want several, shrinking", len(own))
	}
	if len(calls[1]) > 1 {
		t.Errorf("the stalled helper did %v; the caller should have taken over the rest of its share", calls[1])
	}
}

func TestWorkerIndexExclusive(t *testing.T) {
	p := New(4)
	defer p.Close()
	var inUse [4]atomic.Int32
	for rep := 0; rep < 200; rep++ {
		p.For(256, 1, func(w, lo, hi int) {
			if inUse[w].Add(1) != 1 {
				t.Errorf("worker %d used twice at once", w)
			}
			runtime.Gosched()
			inUse[w].Add(-1)
		})
	}
}

func TestPanicReachesCaller(t *testing.T) {
	p := New(2)
	defer p.Close()
	for _, at := range []int{0, 500, 999} {
		func() {
			defer func() {
				r := recover()
				wp, ok := r.(*WorkerPanic)
				if !ok {
					t.Fatalf("panic at %d: recovered %T %v, want *WorkerPanic", at, r, r)
				}
				var re runtime.Error
				if !errors.As(wp, &re) {
					t.Errorf("panic at %d: %v does not unwrap to the runtime.Error", at, wp)
				}
			}()
			p.For(1000, 1, func(_, lo, hi int) {
				if lo <= at && at < hi {
					var s []int
					_ = s[at]
				}
			})
		}()
		// The pool still works after a panic.
		var sum atomic.Int64
		p.For(100, 1, func(_, lo, hi int) { sum.Add(int64(hi - lo)) })
		if sum.Load() != 100 {
			t.Fatalf("after a panic: covered %d of 100", sum.Load())
		}
	}
}

// Loops from several goroutines at once all complete correctly: the ones
// that find the pool busy run alone.
func TestConcurrentCallers(t *testing.T) {
	p := New(3)
	defer p.Close()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 100; rep++ {
				var sum atomic.Int64
				p.For(300, 1, func(_, lo, hi int) {
					for i := lo; i < hi; i++ {
						sum.Add(int64(i))
					}
				})
				if sum.Load() != 300*299/2 {
					t.Errorf("sum %d, want %d", sum.Load(), 300*299/2)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestNilAndClosedPools(t *testing.T) {
	var nilPool *Pool
	closed := New(4)
	closed.Close()
	for name, p := range map[string]*Pool{"nil": nilPool, "zero": {}, "closed": closed} {
		calls := 0
		p.For(10, 1, func(w, lo, hi int) {
			calls++
			if w != 0 || lo != 0 || hi != 10 {
				t.Errorf("%s pool: call (%d, %d, %d), want (0, 0, 10)", name, w, lo, hi)
			}
		})
		if calls != 1 {
			t.Errorf("%s pool: %d calls, want 1", name, calls)
		}
	}
	if w := nilPool.Workers(); w != 1 {
		t.Errorf("nil pool has %d workers, want 1", w)
	}
}

// BenchmarkFor measures the cost of one loop with trivial work: the
// overhead every matrix multiplication of a decode step pays.
func BenchmarkFor(b *testing.B) {
	p := New(0)
	defer p.Close()
	var sink atomic.Int64
	b.ReportAllocs()
	for b.Loop() {
		p.For(64, 1, func(_, lo, hi int) { sink.Add(int64(hi - lo)) })
	}
}
