//go:build amd64 && !purego

package tensor

// The packed Q6_K kernels of packed_q6k_amd64.s (see packed_q6k.go).

//go:noescape
func packedQ6KAVX2(w *byte, groups, nb int, y *int8, yd *float32, bs *int16, out *float32)

//go:noescape
func packedQ6Kx4AVX2(w *byte, groups, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)

//go:noescape
func packedQ6Kx4VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)

//go:noescape
func packedQ6Kx8VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)

// avx2PackedQ6K are the packed Q6_K kernels of the AVX2 set.
var avx2PackedQ6K = avx2PackedK(q6kGroupBytes, packedQ6KAVX2, packedQ6Kx4AVX2)

// vnniPackedQ6K are the packed Q6_K kernels of CPUs with AVX512-VNNI (see
// vnniPackedQ4K).
var vnniPackedQ6K = vnniPackedK(q6kGroupBytes, avx2PackedQ6K.one, packedQ6Kx4VNNI, packedQ6Kx8VNNI)
