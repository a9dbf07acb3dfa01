// Package bench measures the two physical limits of a CPU that bound LLM
// inference: memory read bandwidth, which bounds decoding (every weight is
// read once per token), and arithmetic throughput, which bounds prefill
// (every weight is multiplied with every prompt token): float32 FMA for
// float weights, 8-bit integer multiply-adds (PeakInt8, or PeakVNNI where
// the kernels use AVX512-VNNI) for quantized weights on the integer route. Kiln's own speed is reported as a share of
// these limits measured on the same machine at the same thread count,
// because absolute tokens/s mean little across machines.
package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// scanAlign is the granularity of a bandwidth scan: the assembly kernel reads
// four 32-byte vectors per iteration.
const scanAlign = 128

// Bandwidth returns the best read bandwidth, in bytes per second, of passes
// scans over a buffer of size bytes split into threads equal parts, one
// goroutine per part. The buffer must be much larger than the last-level cache
// (1 GiB is the convention of the peer figures) or the result measures the
// cache instead of DRAM. It is filled before timing because untouched pages
// all map the shared zero page, which would be read from cache.
func Bandwidth(ctx context.Context, threads, size, passes int) (float64, error) {
	if threads < 1 || passes < 1 {
		return 0, fmt.Errorf("bench: bandwidth: threads %d and passes %d must be positive", threads, passes)
	}
	part := size / threads / scanAlign * scanAlign
	if part == 0 {
		return 0, fmt.Errorf("bench: bandwidth: buffer of %d bytes is too small for %d threads", size, threads)
	}
	buf := make([]byte, part*threads)
	for i := range buf {
		buf[i] = byte(i)
	}
	best := 0.0
	sums := make([]uint64, threads)
	for range passes {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("bench: bandwidth: %w", err)
		}
		d := runParallel(threads, func(t int) {
			sums[t] = scan(buf[t*part : (t+1)*part])
		})
		if bw := float64(len(buf)) / d.Seconds(); bw > best {
			best = bw
		}
	}
	// The sums are checked so a scan that skipped memory cannot go unnoticed.
	var total uint64
	for _, s := range sums {
		total += s
	}
	if want := scanGeneric(buf); total != want {
		return 0, fmt.Errorf("bench: bandwidth: scan checksum %d, want %d", total, want)
	}
	return best, nil
}

// Peak returns the float32 multiply-add throughput, in FLOP/s (a fused
// multiply-add counts as 2), of threads goroutines each running the widest
// FMA loop the CPU has for about d. The loop keeps enough independent
// accumulators to cover the FMA latency on both ports, so it approaches the
// arithmetic ceiling a matrix kernel can hope for; it touches no memory.
func Peak(ctx context.Context, threads int, d time.Duration) (float64, error) {
	return peak(ctx, "peak", threads, d, fmaChunk)
}

// PeakInt8 is Peak for the integer route of quantized weights: the
// throughput, in operations per second (an 8-bit multiply-add counts as 2,
// like an FMA lane), of the 8-bit dot-product step that route is built on
// (AVX2: vpmaddubsw, then vpmaddwd and vpaddd to widen and accumulate in
// int32), with independent chains as in Peak. Quantized prefill is measured
// against it.
func PeakInt8(ctx context.Context, threads int, d time.Duration) (float64, error) {
	return peak(ctx, "int8 peak", threads, d, int8Chunk)
}

// PeakVNNI is PeakInt8 for CPUs with AVX512-VNNI, whose vpdpbusd does an
// 8-bit dot product of four pairs into an int32 lane in one instruction
// (on 256-bit registers, as Kiln's VNNI kernels use it): the peak of the
// route quantized types with VNNI kernels take. It fails on other CPUs.
func PeakVNNI(ctx context.Context, threads int, d time.Duration) (float64, error) {
	if !hasVNNI {
		return 0, fmt.Errorf("bench: vnni peak: this CPU has no AVX512-VNNI")
	}
	return peak(ctx, "vnni peak", threads, d, vnniChunk)
}

// peak runs chunk on threads goroutines for about d and returns the total
// operations per second; chunk returns the operations it did and a result
// that must be positive (a loop whose arithmetic was skipped returns zero).
func peak(ctx context.Context, what string, threads int, d time.Duration, chunk func(n int) (float64, float32)) (float64, error) {
	if threads < 1 || d <= 0 {
		return 0, fmt.Errorf("bench: %s: threads %d and duration %v must be positive", what, threads, d)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("bench: %s: %w", what, err)
	}
	ops := make([]float64, threads)
	results := make([]float32, threads)
	elapsed := runParallel(threads, func(t int) {
		start := time.Now()
		var acc float32
		for time.Since(start) < d {
			f, r := chunk(peakChunk)
			ops[t] += f
			acc += r
		}
		results[t] = acc
	})
	var total float64
	for t, f := range ops {
		if results[t] <= 0 {
			return 0, fmt.Errorf("bench: %s: thread %d computed %v, want a positive sum", what, t, results[t])
		}
		total += f
	}
	return total / elapsed.Seconds(), nil
}

// peakChunk is the iteration count of one FMA kernel call: about 50-100 µs,
// short enough to stop near the deadline, long enough that the call and the
// clock read cost nothing.
const peakChunk = 1 << 15

// runParallel runs fn(0..threads-1) on their own goroutines, released
// together, and returns the time from release until the last one finished.
func runParallel(threads int, fn func(t int)) time.Duration {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(threads)
	done.Add(threads)
	for t := range threads {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(t)
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	return time.Since(t0)
}

// scanGeneric sums b as little-endian uint64 words (a trailing partial word
// is ignored).
// It is the portable scan and the checksum reference of the vector one.
func scanGeneric(b []byte) uint64 {
	var s0, s1, s2, s3 uint64
	i := 0
	for ; i+32 <= len(b); i += 32 {
		s0 += le64(b[i:])
		s1 += le64(b[i+8:])
		s2 += le64(b[i+16:])
		s3 += le64(b[i+24:])
	}
	for ; i+8 <= len(b); i += 8 {
		s0 += le64(b[i:])
	}
	return s0 + s1 + s2 + s3
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// int8Generic runs n iterations of 8 independent integer multiply-adds of
// 8-bit values and returns the operations done and a positive checksum.
func int8Generic(n int) (float64, float32) {
	a := [8]int32{1, 2, 3, 4, 5, 6, 7, 8}
	w := [8]int8{3, -5, 7, -11, 13, -17, 19, -23}
	for i := range n {
		x := int8(i)
		for k := range a {
			a[k] = a[k] + int32(w[k])*int32(x)&0xffff
		}
	}
	var s int64
	for _, v := range a {
		s += int64(v)
	}
	return float64(n) * 8 * 2, float32(s&0xffffff) + 1
}

// fmaGeneric runs n iterations of 8 independent multiply-adds and returns the
// FLOPs done and a sum of the accumulators (so the work is not dead code).
func fmaGeneric(n int) (float64, float32) {
	const m, c = 0.999, 1e-3
	a := [8]float32{1, 2, 3, 4, 5, 6, 7, 8}
	for range n {
		a[0] = a[0]*m + c
		a[1] = a[1]*m + c
		a[2] = a[2]*m + c
		a[3] = a[3]*m + c
		a[4] = a[4]*m + c
		a[5] = a[5]*m + c
		a[6] = a[6]*m + c
		a[7] = a[7]*m + c
	}
	var s float32
	for _, v := range a {
		s += v
	}
	return float64(n) * 8 * 2, s
}
