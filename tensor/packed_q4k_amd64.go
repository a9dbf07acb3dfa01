//go:build amd64 && !purego

package tensor

import "unsafe"

// The packed Q4_K kernels of packed_q4k_amd64.s (see packed_q4k.go).

//go:noescape
func packedQ4KAVX2(w *byte, groups, nb int, y *int8, yd *float32, bs *int16, out *float32)

//go:noescape
func packedQ4Kx4AVX2(w *byte, groups, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)

//go:noescape
func packedQ5KAVX2(w *byte, groups, nb int, y *int8, yd *float32, bs *int16, out *float32)

//go:noescape
func packedQ5Kx4AVX2(w *byte, groups, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)

//go:noescape
func packedQ5Kx4VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)

//go:noescape
func packedQ5Kx8VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)

//go:noescape
func packedQ4Kx4VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)

//go:noescape
func packedQ4Kx8VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)

// The AVX2 K-quant packed kernels have one of two signatures: one input,
// whose quants, block scales and Q8_K sums of 16 are y, yd and bs; or four
// inputs ystride bytes apart, their scales and sums in the k4 records (see
// qacts), outputs ostride bytes apart.
type (
	kOneAsm  func(w *byte, groups, nb int, y *int8, yd *float32, bs *int16, out *float32)
	kFourAsm func(w *byte, groups, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)
)

var (
	avx2PackedQ4K = avx2PackedK(q4kGroupBytes, packedQ4KAVX2, packedQ4Kx4AVX2)
	avx2PackedQ5K = avx2PackedK(q5kGroupBytes, packedQ5KAVX2, packedQ5Kx4AVX2)
)

// avx2PackedK wraps the AVX2 kernels of a K-quant of gb bytes per group and
// block. The slice expressions check every bound the assembly relies on.
func avx2PackedK(gb int, one kOneAsm, four kFourAsm) *packedKernels {
	return &packedKernels{
		one: func(out []float32, w []byte, groups, nb int, a actView) {
			if packedEmpty(out, 0, 1, groups, nb) {
				return
			}
			out = out[:groups*packRows]
			w = w[:groups*nb*gb]
			y, d, bs := a.qs[:256*nb], a.d[:nb], a.bs[:16*nb]
			one(unsafe.SliceData(w), groups, nb, unsafe.SliceData(y), unsafe.SliceData(d), unsafe.SliceData(bs), unsafe.SliceData(out))
		},
		four: func(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i int) {
			if packedEmpty(out, ostride, 4, groups, nb) {
				return
			}
			cols := a.cols
			out = out[:3*ostride+groups*packRows]
			w = w[:groups*nb*gb]
			y := a.qs[i*cols : 3*cols+i*cols+256*nb]
			k4 := a.k4[i/4*nb*144 : (i/4+1)*nb*144]
			four(unsafe.SliceData(w), groups, nb, unsafe.SliceData(y), cols, unsafe.SliceData(k4), unsafe.SliceData(out), 4*ostride)
		},
	}
}

// vnniPackedQ5K are the packed Q5_K kernels of CPUs with AVX512-VNNI: the
// AVX2 one-input kernel and the Q4_K VNNI kernels' four- and eight-input
// steps with the fifth bit.
var vnniPackedQ5K = vnniPackedK(q5kGroupBytes, avx2PackedQ5K.one, packedQ5Kx4VNNI, packedQ5Kx8VNNI)

// vnniPackedQ4K are the packed Q4_K kernels of CPUs with AVX512-VNNI:
// the AVX2 one-input kernel, and four- and eight-input kernels that give
// the AVX2 kernels' outputs bit for bit at about one and a half times the
// rate of vpmaddubsw in prompts and batches.
var vnniPackedQ4K = vnniPackedK(q4kGroupBytes, avx2PackedQ4K.one, packedQ4Kx4VNNI, packedQ4Kx8VNNI)

// vnniPackedK wraps the VNNI kernels of a K-quant of gb bytes per group
// and block, whose four- and eight-input kernels read the Q8_K e8 records
// (see qacts).
func vnniPackedK(gb int, one func(out []float32, w []byte, groups, nb int, a actView), four packedVNNI4Asm, eight packedVNNI8Asm) *packedKernels {
	return &packedKernels{
		one:   one,
		four:  vnniFour(gb, 256, q8kRecordWords, four),
		eight: vnniEight(gb, 256, q8kRecordWords, eight),
		route: "vnni",
	}
}
