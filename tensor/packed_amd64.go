//go:build amd64 && !purego

package tensor

import "unsafe"

// The packed kernels of packed_amd64.s (see packed.go).

// Every packed kernel of a 32-element type has one of two signatures: one
// input, whose quants, block scales and quant sums are y, yd and is; or four
// inputs ystride bytes apart, their scales and sums interleaved (d4, is4:
// four per block), outputs ostride bytes apart, weights prefetched pf
// bytes ahead. Kernels of weights without an offset (Q8_0 on AVX2) ignore
// the sums. The VNNI four- and eight-input kernels read their inputs'
// scales and offset terms from records instead (e8: see qacts); the
// eight-input ones take sets sets of eight inputs, one after the other,
// over the same groups.
type (
	packedOneAsm   func(w *byte, groups, nb int, y *int8, yd *float32, is *int32, out *float32)
	packedFourAsm  func(w *byte, groups, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride, pf int)
	packedVNNI4Asm func(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)
	packedVNNI8Asm func(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)
)

//go:noescape
func packedQ4_0AVX2(w *byte, groups, nb int, y *int8, yd *float32, is *int32, out *float32)

//go:noescape
func packedQ4_0x4AVX2(w *byte, groups, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride, pf int)

//go:noescape
func packedQ8_0AVX2(w *byte, groups, nb int, y *int8, yd *float32, is *int32, out *float32)

//go:noescape
func packedQ8_0x4AVX2(w *byte, groups, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride, pf int)

//go:noescape
func packedQ4_0VNNI(w *byte, groups, nb int, y *int8, yd *float32, is *int32, out *float32)

//go:noescape
func packedQ8_0VNNI(w *byte, groups, nb int, y *int8, yd *float32, is *int32, out *float32)

//go:noescape
func packedQ4_0x4VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)

//go:noescape
func packedQ8_0x4VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)

//go:noescape
func packedQ4_0x8VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)

//go:noescape
func packedQ8_0x8VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)

//go:noescape
func packedQ5_0AVX2(w *byte, groups, nb int, y *int8, yd *float32, is *int32, out *float32)

//go:noescape
func packedQ5_0x4AVX2(w *byte, groups, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride, pf int)

//go:noescape
func packedQ5_0VNNI(w *byte, groups, nb int, y *int8, yd *float32, is *int32, out *float32)

//go:noescape
func packedQ5_0x4VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)

//go:noescape
func packedQ5_0x8VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)

//go:noescape
func packedQ4_1AVX2(w *byte, groups, nb int, y *int8, yd *float32, s *int32, out *float32)

//go:noescape
func packedQ4_1x4AVX2(w *byte, groups, nb int, y *int8, ystride int, d4 *float32, s4 *int32, out *float32, ostride, pf int)

//go:noescape
func packedQ4_1VNNI(w *byte, groups, nb int, y *int8, yd *float32, s *int32, out *float32)

//go:noescape
func packedQ4_1x4VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)

//go:noescape
func packedQ4_1x8VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)

//go:noescape
func packedQ5_1AVX2(w *byte, groups, nb int, y *int8, yd *float32, s *int32, out *float32)

//go:noescape
func packedQ5_1x4AVX2(w *byte, groups, nb int, y *int8, ystride int, d4 *float32, s4 *int32, out *float32, ostride, pf int)

//go:noescape
func packedQ5_1VNNI(w *byte, groups, nb int, y *int8, yd *float32, s *int32, out *float32)

//go:noescape
func packedQ5_1x4VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)

//go:noescape
func packedQ5_1x8VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)

// The Q4_1 and Q5_1 kernels take the inputs' Q8_1 sums (float32) where
// the others take the quant sums, and their VNNI records carry those sums
// where the others' carry offset terms (see qacts.e8).
var (
	avx2Packed     = asmPacked(144, false, packedQ4_0AVX2, packedQ4_0x4AVX2)
	avx2PackedQ4_1 = asmPacked(160, true, packedQ4_1AVX2, packedQ4_1x4AVX2)
	avx2PackedQ5_0 = asmPacked(176, false, packedQ5_0AVX2, packedQ5_0x4AVX2)
	avx2PackedQ5_1 = asmPacked(192, true, packedQ5_1AVX2, packedQ5_1x4AVX2)
	avx2PackedQ8_0 = asmPacked(272, false, packedQ8_0AVX2, packedQ8_0x4AVX2)
	vnniPackedQ4_0 = vnniPacked(144, 8, false, packedQ4_0VNNI, packedQ4_0x4VNNI, packedQ4_0x8VNNI)
	vnniPackedQ4_1 = vnniPacked(160, 0, true, packedQ4_1VNNI, packedQ4_1x4VNNI, packedQ4_1x8VNNI)
	vnniPackedQ5_0 = vnniPacked(176, 16, false, packedQ5_0VNNI, packedQ5_0x4VNNI, packedQ5_0x8VNNI)
	vnniPackedQ5_1 = vnniPacked(192, 0, true, packedQ5_1VNNI, packedQ5_1x4VNNI, packedQ5_1x8VNNI)
	vnniPackedQ8_0 = vnniPacked(272, 128, false, packedQ8_0VNNI, packedQ8_0x4VNNI, packedQ8_0x8VNNI)
)

// packedEmpty clears the outputs of a call with no groups or no blocks,
// which the assembly loops cannot take, and reports whether it did: the
// inputs' outputs are ostride apart.
func packedEmpty(out []float32, ostride, inputs, groups, nb int) bool {
	if groups > 0 && nb > 0 {
		return false
	}
	for k := 0; k < inputs; k++ {
		clear(out[k*ostride : k*ostride+groups*packRows])
	}
	return true
}

// asmPacked wraps the AVX2 assembly kernels of a type of bb bytes per
// group and block (with a minimum: Q8_1 sums for quant sums). The slice
// expressions here and in asmOne check every bound the assembly relies on.
func asmPacked(bb int, minimum bool, one packedOneAsm, four packedFourAsm) *packedKernels {
	return &packedKernels{
		one: asmOne(bb, minimum, one),
		four: func(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i int) {
			if packedEmpty(out, ostride, 4, groups, nb) {
				return
			}
			cols := a.cols
			out = out[:3*ostride+groups*packRows]
			w = w[:groups*nb*bb]
			y := a.qs[i*cols : 3*cols+i*cols+32*nb]
			d4 := a.d4[i*nb : (i+4)*nb]
			sums := unsafe.SliceData(a.is4[i*nb : (i+4)*nb])
			if minimum {
				sums = (*int32)(unsafe.Pointer(unsafe.SliceData(a.s4[i*nb : (i+4)*nb])))
			}
			four(unsafe.SliceData(w), groups, nb, unsafe.SliceData(y), cols, unsafe.SliceData(d4), sums, unsafe.SliceData(out), 4*ostride, prefetchDistance(len(w)))
		},
	}
}

// vnniPacked wraps the VNNI assembly kernels of a type of bb bytes per
// group and block, whose quants carry offset off (or which has a minimum):
// four and eight read the eight-input records (see packedKernels).
func vnniPacked(bb int, off int32, minimum bool, one packedOneAsm, four packedVNNI4Asm, eight packedVNNI8Asm) *packedKernels {
	return &packedKernels{
		one:    asmOne(bb, minimum, one),
		four:   vnniFour(bb, 32, q8RecordWords, four),
		eight:  vnniEight(bb, 32, q8RecordWords, eight),
		offset: off,
		route:  "vnni",
	}
}

// vnniFour and vnniEight wrap the VNNI kernels of a type of bb bytes per
// group and be elements per block, whose input records have rw words per
// block: four runs on inputs i..i+3, eight on the sets groups of eight
// from i (i a multiple of 8 in both), reading the records of the groups of
// eight from the one i starts.
func vnniFour(bb, be, rw int, k packedVNNI4Asm) func(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i int) {
	return func(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i int) {
		if packedEmpty(out, ostride, 4, groups, nb) {
			return
		}
		pw, py, pe, po := vnniArgs(out, ostride, w, groups, nb, a, i, 4, bb, be, rw)
		k(pw, groups, nb, py, a.cols, pe, po, 4*ostride, prefetchDistance(groups*nb*bb))
	}
}

func vnniEight(bb, be, rw int, k packedVNNI8Asm) func(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i, sets int) {
	return func(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i, sets int) {
		if sets <= 0 || packedEmpty(out, ostride, 8*sets, groups, nb) {
			return
		}
		pw, py, pe, po := vnniArgs(out, ostride, w, groups, nb, a, i, 8*sets, bb, be, rw)
		k(pw, groups, nb, py, a.cols, pe, po, 4*ostride, prefetchDistance(groups*nb*bb), sets)
	}
}

// vnniArgs are the pointers a VNNI kernel takes for the inputs i..i+n-1,
// after slice expressions that check every bound the assembly relies on.
func vnniArgs(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i, n, bb, be, rw int) (*byte, *int8, *uint32, *float32) {
	cols := a.cols
	out = out[:(n-1)*ostride+groups*packRows]
	w = w[:groups*nb*bb]
	y := a.qs[i*cols : (n-1)*cols+i*cols+be*nb]
	e8 := a.e8[i/8*nb*rw : (i+n+7)/8*nb*rw]
	return unsafe.SliceData(w), unsafe.SliceData(y), unsafe.SliceData(e8), unsafe.SliceData(out)
}

// asmOne wraps a one-input assembly kernel of a type of bb bytes per group
// and block (with a minimum: the input's Q8_1 sums for its quant sums).
func asmOne(bb int, minimum bool, one packedOneAsm) func(out []float32, w []byte, groups, nb int, a actView) {
	return func(out []float32, w []byte, groups, nb int, a actView) {
		if packedEmpty(out, 0, 1, groups, nb) {
			return
		}
		out = out[:groups*packRows]
		w = w[:groups*nb*bb]
		y, d := a.qs[:32*nb], a.d[:nb]
		sums := unsafe.SliceData(a.is[:nb])
		if minimum {
			sums = (*int32)(unsafe.Pointer(unsafe.SliceData(a.s[:nb])))
		}
		one(unsafe.SliceData(w), groups, nb, unsafe.SliceData(y), unsafe.SliceData(d), sums, unsafe.SliceData(out))
	}
}

// prefetchDistance is how far ahead of its reads a four- or eight-input
// kernel prefetches weights: one tile, so that while a batch makes its
// passes over a tile in L1 the next tile comes in from memory (with a
// prefetch a few lines ahead, the first pass over every tile waited for
// memory and the other passes left it idle: 8-sequence decode steps of a
// Q8_0 model +12% in the median of 8 alternating runs).
//
// The 32-element types' kernels and all 512-bit VNNI kernels prefetch into
// L2 (PREFETCHT1), not L1. A
// prefetch into L1 holds one of the core's few L1 miss buffers for the
// whole trip to memory; once a kernel computes for long enough per byte
// that it no longer waits on memory alone, those prefetches ran out of
// buffers, the loads behind them stalled, and fetching and computing took
// turns. Prefetched into L2 they overlap: BenchmarkPackedStream, Q8_0,
// eight inputs, 11-12 -> 17-20 GB/s on one core and 20-22 -> 27-32 on
// two (the bandwidth the one-input kernel reaches); decode steps of 8
// sequences of SmolLM2-135M Q8_0 +25-30%. The AVX2 K-quant kernels
// measured slower with it and keep PREFETCHT0.
func prefetchDistance(tile int) int { return max(512, tile) }
