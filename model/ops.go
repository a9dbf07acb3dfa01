package model

import (
	"fmt"
	"math"
	"runtime/debug"
	"sync"
)

// rmsNorm writes x / rms(x) * w to dst (which may alias x). The sum of
// squares is accumulated in float64, as ggml does, so long rows lose nothing.
func rmsNorm(dst, x, w []float32, eps float32) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	scale := float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
	for i, v := range x {
		dst[i] = v * scale * w[i]
	}
}

// ropeFreqs returns, per rotated pair i, the angle advanced per position:
// scale * base^(-2i/dims) / factors[i]. factors (rope_freqs.weight, Llama 3
// style scaling) may be nil.
func ropeFreqs(dims int, base, scale float64, factors []float32) []float64 {
	f := make([]float64, dims/2)
	for i := range f {
		f[i] = scale * math.Pow(base, -2*float64(i)/float64(dims))
		if factors != nil {
			f[i] /= float64(factors[i])
		}
	}
	return f
}

// rope rotates the first 2*len(freqs) dimensions of each head of x (heads
// consecutive rows of headDim) by the angles of position pos. Interleaved mode
// rotates pairs (2i, 2i+1); neox mode rotates (i, i+half).
func rope(x []float32, heads, headDim int, freqs []float64, pos int, neox bool, cs []float32) {
	half := len(freqs)
	cos, sin := cs[:half], cs[half:2*half]
	for i, f := range freqs {
		s, c := math.Sincos(float64(pos) * f)
		cos[i], sin[i] = float32(c), float32(s)
	}
	for h := 0; h < heads; h++ {
		v := x[h*headDim : (h+1)*headDim]
		if neox {
			for i := 0; i < half; i++ {
				a, b := v[i], v[i+half]
				v[i] = a*cos[i] - b*sin[i]
				v[i+half] = a*sin[i] + b*cos[i]
			}
		} else {
			for i := 0; i < half; i++ {
				a, b := v[2*i], v[2*i+1]
				v[2*i] = a*cos[i] - b*sin[i]
				v[2*i+1] = a*sin[i] + b*cos[i]
			}
		}
	}
}

// geluTanh is the tanh approximation of GELU, evaluated exactly (no lookup
// table) in float64.
func geluTanh(x float32) float32 {
	const c = 0.7978845608028654 // sqrt(2/pi)
	v := float64(x)
	return float32(0.5 * v * (1 + math.Tanh(c*(v+0.044715*v*v*v))))
}

func silu(x float32) float32 {
	return float32(float64(x) / (1 + math.Exp(-float64(x))))
}

// parallel runs fn over [0, n) split into at most workers contiguous chunks,
// passing the chunk index so callers can keep per-chunk scratch space.
// Small n or one worker runs on the caller's goroutine. A panic in fn always
// reaches the caller's goroutine (see workerPanic), so that the engine's
// recover around Forward sees it instead of the process dying.
func parallel(n, workers int, fn func(chunk, lo, hi int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		caught *workerPanic
	)
	for w := 0; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		if lo == hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					// The stack must be taken here, while the panicking
					// frames are still on it.
					p := &workerPanic{value: r, stack: debug.Stack()}
					mu.Lock()
					if caught == nil {
						caught = p
					}
					mu.Unlock()
				}
			}()
			fn(w, lo, hi)
		}()
	}
	wg.Wait()
	if caught != nil {
		panic(caught)
	}
}

// workerPanic is a panic carried from a worker goroutine to the goroutine
// that started it. Its message holds the original value and the worker's
// stack, which is otherwise lost once the panic moves goroutines.
type workerPanic struct {
	value any
	stack []byte
}

func (p *workerPanic) Error() string {
	return fmt.Sprintf("%v [panic in a model worker goroutine]\n%s", p.value, p.stack)
}

// Unwrap exposes an error value (such as a runtime.Error) to errors.As.
func (p *workerPanic) Unwrap() error {
	err, _ := p.value.(error)
	return err
}
