//go:build amd64 && !purego

package tensor

import "unsafe"

// The packed Q6_K kernels of packed_q6k_amd64.s (see packed_q6k.go).

//go:noescape
func packedQ6KAVX2(w *byte, groups, nb int, y *int8, yd *float32, bs *int16, out *float32)

//go:noescape
func packedQ6Kx4AVX2(w *byte, groups, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)

//go:noescape
func packedQ6Kx4VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)

//go:noescape
func packedQ6Kx8VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)

// avx2PackedQ6K are the packed Q6_K kernels of the AVX2 set. The slice
// expressions check every bound the assembly relies on.
var avx2PackedQ6K = &packedKernels{
	one: func(out []float32, w []byte, groups, nb int, a actView) {
		if packedEmpty(out, 0, 1, groups, nb) {
			return
		}
		out = out[:groups*packRows]
		w = w[:groups*nb*q6kGroupBytes]
		y, d, bs := a.qs[:256*nb], a.d[:nb], a.bs[:16*nb]
		packedQ6KAVX2(unsafe.SliceData(w), groups, nb, unsafe.SliceData(y), unsafe.SliceData(d), unsafe.SliceData(bs), unsafe.SliceData(out))
	},
	four: func(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i int) {
		if packedEmpty(out, ostride, 4, groups, nb) {
			return
		}
		cols := a.cols
		out = out[:3*ostride+groups*packRows]
		w = w[:groups*nb*q6kGroupBytes]
		y := a.qs[i*cols : 3*cols+i*cols+256*nb]
		k4 := a.k4[i/4*nb*144 : (i/4+1)*nb*144]
		packedQ6Kx4AVX2(unsafe.SliceData(w), groups, nb, unsafe.SliceData(y), cols, unsafe.SliceData(k4), unsafe.SliceData(out), 4*ostride)
	},
}

// vnniPackedQ6K are the packed Q6_K kernels of CPUs with AVX512-VNNI (see
// vnniPackedQ4K).
var vnniPackedQ6K = vnniPackedK(q6kGroupBytes, avx2PackedQ6K.one, packedQ6Kx4VNNI, packedQ6Kx8VNNI)
