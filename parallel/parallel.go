// Package parallel runs loops over a fixed set of long-lived worker
// goroutines.
//
// A decode step of a small model is a few hundred short loops (one per
// weight matrix, attention, ...), each worth tens of microseconds. Starting
// goroutines and waking them through the scheduler for each would cost a
// noticeable share of that, so the workers of a Pool stay alive between
// loops: after a loop they spin briefly on an atomic for the next one, then
// park on a channel so that an idle server burns no CPU.
//
// Each worker starts on its own contiguous share of a loop and walks it
// front to back in pieces; a worker that runs out takes pieces from the back
// of the others' shares. Contiguous shares keep each worker's weight reads
// one stream the hardware prefetcher follows, and the pieces shrink as a
// share runs low, so that workers finish within a piece of each other.
// With four round-robin chunks per worker instead, one worker sat idle
// through the last 10-15% of a loop, time lost in a compute-bound prefill.
// A worker the OS deschedules (the machine is shared) has the rest of its
// share taken over, so it delays a loop by one piece.
package parallel

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// spinTime is how long an idle worker polls for the next loop before it
// parks. Waking a parked goroutine goes through the Go scheduler, which
// leaves it queued behind the waker for tens of microseconds: long enough
// to miss a whole matrix product of a decode step. So workers spin through
// the gaps of a forward pass and between the steps of a busy engine, and
// park only when the model has been idle for a while; they yield to other
// goroutines while spinning.
const spinTime = 500 * time.Microsecond

// spinCheck is how many polls pass between looks at the clock.
const spinCheck = 1024

// Pool is a set of workers. Its zero value and a nil *Pool are valid and run
// every loop on the caller's goroutine. A Pool may be used by several
// goroutines: a loop started while another is running runs on its caller
// alone rather than waiting.
type Pool struct {
	*pool
}

type pool struct {
	workers int // including the caller of For
	busy    sync.Mutex
	cur     atomic.Pointer[loop]
	wake    []chan struct{} // one per helper goroutine
	parked  []atomic.Bool
	closed  atomic.Bool
}

// loop is one call of For. It is never reused, so a worker that wakes late
// and still holds it only finds its share taken.
type loop struct {
	fn       func(worker, lo, hi int)
	n, grain int
	shares   []share      // one per worker, in units of grain
	left     atomic.Int64 // units not yet finished, or finished by a worker still running
	waiting  atomic.Bool  // the caller parked on done
	done     chan struct{}
	mu       sync.Mutex
	caught   *WorkerPanic
}

// share is the units of a loop not yet claimed from one worker's share,
// [front, back), packed as front<<32 | back so that its owner (taking from
// the front) and other workers (taking from the back) agree through one
// compare-and-swap. It fills a cache line, so that owners claiming their
// own pieces do not contend.
type share struct {
	v atomic.Uint64
	_ [56]byte
}

// pieceDiv sets a claimed piece to 1/pieceDiv of the units left in a share
// (at least one): large early, so claims are few, and small at the end, so
// that no worker is left with a long piece while the others idle.
const pieceDiv = 8

// claim takes a piece of s, from the back if steal is set, and reports
// its units [lo, hi); ok is false once s is empty.
func (s *share) claim(steal bool) (lo, hi int, ok bool) {
	for {
		old := s.v.Load()
		f, b := old>>32, old&0xffffffff
		if f >= b {
			return 0, 0, false
		}
		k := max(1, (b-f)/pieceDiv)
		nv := (f+k)<<32 | b
		if steal {
			nv = f<<32 | (b - k)
			f = b - k
		}
		if s.v.CompareAndSwap(old, nv) {
			return int(f), int(f + k), true
		}
	}
}

// New returns a pool of workers goroutines in all: the caller of For and
// workers-1 helpers. workers <= 0 means runtime.NumCPU(). The helpers are
// stopped by Close, or when the Pool becomes unreachable.
func New(workers int) *Pool {
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	p := &pool{workers: workers}
	for i := 1; i < workers; i++ {
		p.wake = append(p.wake, make(chan struct{}, 1))
	}
	p.parked = make([]atomic.Bool, len(p.wake))
	for i := range p.wake {
		go p.work(i)
	}
	wrapper := &Pool{p}
	runtime.AddCleanup(wrapper, func(p *pool) { p.close() }, p)
	return wrapper
}

// Workers is the number of goroutines a loop may run on (1 for a nil Pool).
func (p *Pool) Workers() int {
	if p == nil || p.pool == nil {
		return 1
	}
	return p.workers
}

// Close stops the helpers; later loops run on the caller alone.
func (p *Pool) Close() {
	if p != nil && p.pool != nil {
		p.close()
	}
}

func (p *pool) close() {
	if p.closed.Swap(true) {
		return
	}
	for i := range p.wake {
		if p.parked[i].CompareAndSwap(true, false) {
			p.wake[i] <- struct{}{}
		}
	}
}

// For calls fn(worker, lo, hi) over disjoint ranges that cover [0, n), and
// returns when all calls have returned. Ranges are multiples of grain (the
// last may be shorter); worker is in [0, Workers()) and no two calls with the
// same worker run at once, so it can index per-worker scratch space. A panic
// in any call is re-raised on the caller's goroutine as a *WorkerPanic once
// the others have finished.
func (p *Pool) For(n, grain int, fn func(worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	if p == nil || p.pool == nil || p.workers == 1 || n <= grain || p.closed.Load() || !p.busy.TryLock() {
		fn(0, 0, n)
		return
	}
	defer p.busy.Unlock()
	units := (n + grain - 1) / grain
	if units > math.MaxUint32 {
		// A share's bounds are 32 bits: coarser units keep them so.
		grain = (n + math.MaxUint32 - 1) / math.MaxUint32
		units = (n + grain - 1) / grain
	}
	l := &loop{fn: fn, n: n, grain: grain, shares: make([]share, p.workers), done: make(chan struct{})}
	for w := range l.shares {
		lo, hi := uint64(units*w/p.workers), uint64(units*(w+1)/p.workers)
		l.shares[w].v.Store(lo<<32 | hi)
	}
	l.left.Store(int64(units))
	p.cur.Store(l)
	for i := range p.wake {
		if p.parked[i].CompareAndSwap(true, false) {
			p.wake[i] <- struct{}{}
		}
	}
	l.run(0)
	if l.left.Load() != 0 && !spin(func() bool { return l.left.Load() == 0 }) {
		l.waiting.Store(true)
		if l.left.Load() != 0 {
			<-l.done
		}
	}
	if l.caught != nil {
		panic(l.caught)
	}
}

// run works through worker's own share of l, then through what is left of
// the others'. What it did is counted off l.left once, at the end: a count
// per piece had both workers writing one cache line tens of times a loop.
func (l *loop) run(worker int) {
	done := 0
	for v := range l.shares {
		s := &l.shares[(worker+v)%len(l.shares)]
		for {
			lo, hi, ok := s.claim(v != 0)
			if !ok {
				break
			}
			l.call(worker, lo*l.grain, min(hi*l.grain, l.n))
			done += hi - lo
		}
	}
	if done > 0 && l.left.Add(int64(-done)) == 0 && l.waiting.Load() {
		close(l.done)
	}
}

func (l *loop) call(worker, lo, hi int) {
	defer func() {
		if r := recover(); r != nil {
			// The stack must be taken here, while the panicking frames are
			// still on it.
			wp := &WorkerPanic{Value: r, Stack: debug.Stack()}
			l.mu.Lock()
			if l.caught == nil {
				l.caught = wp
			}
			l.mu.Unlock()
		}
	}()
	l.fn(worker, lo, hi)
}

// work is helper i's life: wait for a loop it has not seen, help with it.
func (p *pool) work(i int) {
	var seen *loop
	for !p.closed.Load() {
		l := p.cur.Load()
		if l == seen {
			spin(func() bool { l = p.cur.Load(); return l != seen || p.closed.Load() })
		}
		if l == seen {
			p.parked[i].Store(true)
			if l = p.cur.Load(); l == seen && !p.closed.Load() {
				<-p.wake[i]
				continue
			}
			if !p.parked[i].CompareAndSwap(true, false) {
				// A waker saw the flag first and will send: take it so
				// the channel is empty for the next park.
				<-p.wake[i]
			}
			continue
		}
		seen = l
		l.run(i + 1)
	}
}

// spin polls done for up to spinTime, yielding the processor now and then
// to other goroutines, and reports whether done became true.
func spin(done func() bool) bool {
	var start time.Time
	for n := 1; ; n++ {
		if done() {
			return true
		}
		if n%spinCheck == 0 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > spinTime {
				return false
			}
			runtime.Gosched()
		}
	}
}

// WorkerPanic is a panic carried from a worker goroutine to the caller of
// For. An unrecovered panic on another goroutine would kill the process
// whatever the caller does; carried over, it stays a failure of that call,
// which the caller may recover from. The message keeps the worker's stack,
// which is otherwise lost once the panic changes goroutine.
type WorkerPanic struct {
	Value any
	Stack []byte
}

func (p *WorkerPanic) Error() string {
	return fmt.Sprintf("%v [panic in a parallel.Pool worker]\n%s", p.Value, p.Stack)
}

// Unwrap exposes an error value (such as a runtime.Error) to errors.As.
func (p *WorkerPanic) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}
