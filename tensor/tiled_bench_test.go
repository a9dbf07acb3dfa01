package tensor

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/kiln-llm/kiln/internal/cputime"
	"github.com/kiln-llm/kiln/parallel"
)

// BenchmarkPrefillTiled compares the integer route of a batch of n inputs
// (512: prefill; 64: below the K-quants' threshold) with and without the
// tiled kernels (tiled=off is the eight- and four-input kernel path they
// replace), for the types that have tiled kernels on this host, on 1 and 2
// workers. It reports GFLOP/s (2 per weight per input) and, with one
// worker, the same per second of the benchmark thread's CPU time
// (cpuGFLOP/s), steadier on a shared machine.
func BenchmarkPrefillTiled(b *testing.B) {
	const rows, cols = 2048, 768
	without := *activeKernels
	without.tiled = nil
	for typ := range activeKernels.tiled {
		for _, n := range []int{64, 512} {
			for _, workers := range []int{1, 2} {
				for _, ks := range []*kernelSet{activeKernels, &without} {
					name := "on"
					if ks.tiled == nil {
						name = "off"
					}
					b.Run(fmt.Sprintf("%s/n=%d/w=%d/tiled=%s", typ, n, workers, name), func(b *testing.B) {
						benchPrefill(b, typ, rows, cols, n, workers, ks, false)
					})
				}
			}
		}
	}
}

// BenchmarkPacked measures the packed kernels of every host kernel set on
// one worker, on batches of 8 and 64 inputs (the eight- and four-input
// kernels: a decode step of many streams, a prompt chunk) and one input.
func BenchmarkPacked(b *testing.B) {
	const rows, cols = 2048, 768
	for _, typ := range []Type{Q4_0, Q8_0, Q4_K, Q5_K, Q6_K} {
		for _, n := range []int{1, 8, 64} {
			for _, ks := range hostKernels() {
				b.Run(fmt.Sprintf("%s/n=%d/%s", typ, n, ks.name), func(b *testing.B) {
					benchPrefill(b, typ, rows, cols, n, 1, ks, true)
				})
			}
		}
	}
}

func benchPrefill(b *testing.B, typ Type, rows, cols, n, workers int, ks *kernelSet, repack bool) {
	rng := rand.New(rand.NewPCG(5, uint64(typ)))
	m, err := NewMatrix(typ, rows, cols, randomRow(rng, typ, rows*cols))
	if err != nil {
		b.Fatal(err)
	}
	if repack {
		m, _ = Repack(m)
	}
	x := make([]float32, n*cols)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	dst := make([]float32, n*rows)
	p := parallel.New(workers)
	defer p.Close()
	if workers == 1 {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	cpu0 := cputime.Thread()
	for b.Loop() {
		matMul(dst, m, x, n, p, ks, true)
	}
	flops := 2 * float64(n*rows*cols) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu := (cputime.Thread() - cpu0).Seconds(); workers == 1 && cpu > 0 {
		b.ReportMetric(flops/cpu/1e9, "cpuGFLOP/s")
	}
}

// BenchmarkPackedStream measures the packed kernels as a decode step uses
// them: a run of matrices four times the size of a large L3 cache, so the
// weights come from memory, on 1 and 2 workers, for one input (one stream)
// and eight (eight streams). It reports the weight bytes read per second:
// a decode step is bound by it as long as the kernels keep up.
func BenchmarkPackedStream(b *testing.B) {
	const rows, cols, total = 2048, 1536, 128 << 20
	for _, typ := range []Type{Q4_0, Q8_0, Q4_K, Q6_K} {
		rng := rand.New(rand.NewPCG(9, uint64(typ)))
		one, err := NewMatrix(typ, rows, cols, randomRow(rng, typ, rows*cols))
		if err != nil {
			b.Fatal(err)
		}
		var ms []Matrix
		for size := 0; size < total; size += len(one.Data) {
			m := one
			m.Data = append([]byte(nil), one.Data...)
			m, _ = Repack(m)
			ms = append(ms, m)
		}
		for _, n := range []int{1, 8} {
			x := make([]float32, n*cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			dst := make([]float32, n*rows)
			for _, workers := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/n=%d/w=%d", typ, n, workers), func(b *testing.B) {
					p := parallel.New(workers)
					defer p.Close()
					for b.Loop() {
						for _, m := range ms {
							matMul(dst, m, x, n, p, activeKernels, true)
						}
					}
					b.ReportMetric(float64(len(ms)*len(one.Data))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
				})
			}
		}
	}
}
