//go:build amd64 && !purego

package attention

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// Assembly kernels (kernels_amd64.s). d must be a multiple of 8 (qb for
// dequantQ8AVX2); the Go wrappers below send other shapes to the portable
// code. Strides are in elements.

//go:noescape
func scoresF32AVX2(out *float32, q *float32, k *float32, n, d int)

//go:noescape
func scoresF16AVX2(out *float32, q *float32, k *uint16, n, d int)

//go:noescape
func scoresF16x3AVX2(out *float32, stride int, q *float32, k *uint16, n, d int)

//go:noescape
func scoresF16x2AVX2(out *float32, stride int, q *float32, np int, k *uint16, n, d int)

//go:noescape
func accumF32AVX2(out *float32, w *float32, stride, nh int, v *float32, n, d int)

//go:noescape
func accumF16AVX2(out *float32, w *float32, stride, nh int, v *uint16, n, d int)

//go:noescape
func scoresF32x2AVX2(out *float32, stride int, q *float32, np int, k *float32, n, d int)

//go:noescape
func accumF32x2AVX2(out *float32, w *float32, stride, np int, v *float32, n, d int)

//go:noescape
func widenF16AVX2(x *float32, h *uint16, n int)

//go:noescape
func dequantQ8AVX2(x *float32, q *int8, s *uint16, nb, qb int)

//go:noescape
func toF16AVX2(h *uint16, x *float32, n int)

func cpuidECX1() uint32

// hasF16C reports the F16C extension (CPUID.1:ECX bit 29), which
// golang.org/x/sys/cpu does not expose.
func hasF16C() bool { return cpuidECX1()&(1<<29) != 0 }

func avx2OK() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA && hasF16C() }

var avx2 = &kernels{
	name: "avx2",
	scoresF32: func(out []float32, stride int, q []float32, nh int, k []float32, n, d int) {
		if d%8 != 0 {
			scoresF32Go(out, stride, q, nh, k, n, d)
			return
		}
		// Pairs of heads through the register tile, an odd last head alone.
		h := 0
		if np := nh / 2; np > 0 {
			scoresF32x2AVX2(unsafe.SliceData(out), stride, unsafe.SliceData(q), np, unsafe.SliceData(k), n, d)
			h = 2 * np
		}
		for ; h < nh; h++ {
			scoresF32AVX2(&out[h*stride], &q[h*d], unsafe.SliceData(k), n, d)
		}
	},
	scoresF16: func(out []float32, stride int, q []float32, nh int, k []uint16, n, d int, tmp []float32) {
		if d%8 != 0 {
			scoresF16Go(out, stride, q, nh, k, n, d, tmp)
			return
		}
		// Heads in threes and, for the last two or four, in pairs, each
		// key row widened once per set; a lone head by itself.
		h := 0
		for nh-h >= 2 {
			if r := nh - h; r == 2 || r == 4 {
				scoresF16x2AVX2(&out[h*stride], stride, &q[h*d], r/2, unsafe.SliceData(k), n, d)
				h += r
			} else {
				scoresF16x3AVX2(&out[h*stride], stride, &q[h*d], unsafe.SliceData(k), n, d)
				h += 3
			}
		}
		if h < nh {
			scoresF16AVX2(&out[h*stride], &q[h*d], unsafe.SliceData(k), n, d)
		}
	},
	accumF32: func(out, w []float32, stride, nh int, v []float32, n, d int) {
		if d%8 != 0 {
			accumF32Go(out, w, stride, nh, v, n, d)
			return
		}
		if np := nh / 2; np > 0 {
			accumF32x2AVX2(unsafe.SliceData(out), unsafe.SliceData(w), stride, np, unsafe.SliceData(v), n, d)
		}
		if h := nh - 1; nh%2 == 1 {
			accumF32AVX2(&out[h*d], &w[h*stride], stride, 1, unsafe.SliceData(v), n, d)
		}
	},
	accumF16: func(out, w []float32, stride, nh int, v []uint16, n, d int, tmp []float32) {
		if d%8 != 0 {
			accumF16Go(out, w, stride, nh, v, n, d, tmp)
			return
		}
		accumF16AVX2(unsafe.SliceData(out), unsafe.SliceData(w), stride, nh, unsafe.SliceData(v), n, d)
	},
	dequantQ8: func(x []float32, q []int8, s []uint16, qb int) {
		if qb%8 != 0 || len(s) == 0 {
			dequantQ8Go(x, q, s, qb)
			return
		}
		_ = x[len(s)*qb-1]
		_ = q[len(s)*qb-1]
		dequantQ8AVX2(unsafe.SliceData(x), unsafe.SliceData(q), unsafe.SliceData(s), len(s), qb)
	},
	toF16: func(h []uint16, x []float32) {
		n8 := len(x) &^ 7
		if n8 > 0 {
			toF16AVX2(unsafe.SliceData(h), unsafe.SliceData(x), n8)
		}
		toF16Go(h[n8:], x[n8:])
	},
	widenF16: func(x []float32, h []uint16) {
		n8 := len(h) &^ 7
		if n8 > 0 {
			widenF16AVX2(unsafe.SliceData(x), unsafe.SliceData(h), n8)
		}
		widen(x[n8:], h[n8:])
	},
}

//go:noescape
func accumF32x4AVX512(out *float32, w *float32, stride, nq int, v *float32, n, d int)

func avx512OK() bool { return avx2OK() && cpu.X86.HasAVX512F }

// avx512 is avx2 with the weighted sum of float32 value rows for many heads
// (a prompt's tiles) in four-head tiles of 512-bit registers: 4-8% more
// arithmetic a second than avx2's two-head tiles in BenchmarkTile's
// accum runs, the same sums bit for bit. (Four-head tiles of the scores in
// the 32 registers measured no faster than avx2's: their horizontal sums,
// not their loads, bound them.)
var avx512 = func() *kernels {
	k := *avx2
	k.name = "avx512"
	k.accumF32 = func(out, w []float32, stride, nh int, v []float32, n, d int) {
		if d%8 != 0 {
			accumF32Go(out, w, stride, nh, v, n, d)
			return
		}
		h := nh &^ 3
		if h > 0 {
			accumF32x4AVX512(unsafe.SliceData(out), unsafe.SliceData(w), stride, h/4, unsafe.SliceData(v), n, d)
		}
		if h < nh {
			avx2.accumF32(out[h*d:], w[h*stride:], stride, nh-h, v, n, d)
		}
	}
	return &k
}()

var active = hostKernels()[0]

// hostKernels lists the implementations this host can run, fastest first.
func hostKernels() []*kernels {
	switch {
	case avx512OK():
		return []*kernels{avx512, avx2, portable}
	case avx2OK():
		return []*kernels{avx2, portable}
	}
	return []*kernels{portable}
}

//go:noescape
func prefetchAMD64(p unsafe.Pointer, n int)

func prefetch(p unsafe.Pointer, n int) { prefetchAMD64(p, n) }
