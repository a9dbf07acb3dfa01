//go:build amd64 && !purego

package tensor

import "unsafe"

// Integer-route assembly kernels (intkernels_amd64.s): rb is the byte
// stride between weight rows, nb the blocks per row; the four-input kernels
// take the byte strides between their inputs' quants (ystride), scales
// (dstride) and outputs (ostride).

//go:noescape
func idotQ8_0RowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, is *int32, out *float32)

//go:noescape
func idotQ4_0RowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, is *int32, out *float32)

//go:noescape
func idotQ8_0x4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride int)

//go:noescape
func idotQ4_0x4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride int)

// The eight-input kernels take two groups of four inputs, the second's
// interleaved scales and sums gstride bytes after the first's.

//go:noescape
func idotQ8_0x8RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, gstride int, out *float32, ostride int)

//go:noescape
func idotQ4_0x8RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, gstride int, out *float32, ostride int)

//go:noescape
func quantQ8AVX2(x *float32, nb int, qs *int8, d *float32, is *int32, s *float32, q81 bool)

// quant8AVX2 quantizes whole blocks of x to Q8_0 or Q8_1 (see quantActQ8).
func quant8AVX2(x []float32, qs []int8, d []float32, is []int32, s []float32, q81 bool) {
	nb := len(d)
	if nb == 0 {
		return
	}
	x, qs, is, s = x[:32*nb], qs[:32*nb], is[:nb], s[:nb]
	quantQ8AVX2(unsafe.SliceData(x), nb, unsafe.SliceData(qs), unsafe.SliceData(d), unsafe.SliceData(is), unsafe.SliceData(s), q81)
}

//go:noescape
func idotQ4Kx4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)

//go:noescape
func idotQ6Kx4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)

// The eight-input K-quant kernels take two groups of four inputs, the
// second's k4 records gstride bytes after the first's.

//go:noescape
func idotQ4Kx8RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, gstride int, out *float32, ostride int)

//go:noescape
func idotQ5Kx8RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, gstride int, out *float32, ostride int)

//go:noescape
func idotQ6Kx8RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, gstride int, out *float32, ostride int)

//go:noescape
func idotQ5KRowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, bs *int16, out *float32)

//go:noescape
func idotQ5Kx4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)

//go:noescape
func idotQ5_0RowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, is *int32, out *float32)

//go:noescape
func idotQ4_1RowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, is *int32, out *float32)

//go:noescape
func idotQ5_1RowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, is *int32, out *float32)

//go:noescape
func idotQ5_0x4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride int)

//go:noescape
func idotQ4_1x4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride int)

//go:noescape
func idotQ5_1x4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride int)

//go:noescape
func idotQ2KRowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, bs *int16, out *float32)

//go:noescape
func idotQ3KRowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, bs *int16, out *float32)

//go:noescape
func idotQ2Kx4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)

//go:noescape
func idotQ3Kx4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)

//go:noescape
func quantQ8KAVX2(x *float32, nb int, qs *int8, d *float32, bs *int16)

// quantKAVX2 quantizes whole blocks of x to Q8_K (see quantActQ8K).
func quantKAVX2(x []float32, qs []int8, d []float32, bs []int16) {
	nb := len(d)
	if nb == 0 {
		return
	}
	x, qs, bs = x[:256*nb], qs[:256*nb], bs[:16*nb]
	quantQ8KAVX2(unsafe.SliceData(x), nb, unsafe.SliceData(qs), unsafe.SliceData(d), unsafe.SliceData(bs))
}

//go:noescape
func idotQ4KRowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, bs *int16, out *float32)

//go:noescape
func idotQ6KRowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, bs *int16, out *float32)

// avx2IntRows, avx2IntRows4 and avx2IntRows8 are the assembly integer kernels; the other
// integer types use the portable ones.
var (
	avx2IntRows = map[Type]qRowsFn{
		Q8_0: rows32AVX2(34, false, idotQ8_0RowsAVX2),
		Q4_0: rows32AVX2(18, false, idotQ4_0RowsAVX2),
		Q5_0: rows32AVX2(22, false, idotQ5_0RowsAVX2),
		Q4_1: rows32AVX2(20, true, idotQ4_1RowsAVX2),
		Q5_1: rows32AVX2(24, true, idotQ5_1RowsAVX2),
		Q2_K: rowsKAVX2(84, idotQ2KRowsAVX2),
		Q3_K: rowsKAVX2(110, idotQ3KRowsAVX2),
		Q4_K: rowsKAVX2(144, idotQ4KRowsAVX2),
		Q5_K: rowsKAVX2(176, idotQ5KRowsAVX2),
		Q6_K: rowsKAVX2(210, idotQ6KRowsAVX2),
	}
	avx2IntRows4 = map[Type]qRows4Fn{
		Q8_0: rows4AVX2(34, 32, false, idotQ8_0x4RowsAVX2),
		Q4_0: rows4AVX2(18, 32, false, idotQ4_0x4RowsAVX2),
		Q5_0: rows4AVX2(22, 32, false, idotQ5_0x4RowsAVX2),
		Q4_1: rows4AVX2(20, 32, true, idotQ4_1x4RowsAVX2),
		Q5_1: rows4AVX2(24, 32, true, idotQ5_1x4RowsAVX2),
		Q2_K: rowsK4AVX2(84, idotQ2Kx4RowsAVX2),
		Q3_K: rowsK4AVX2(110, idotQ3Kx4RowsAVX2),
		Q4_K: rowsK4AVX2(144, idotQ4Kx4RowsAVX2),
		Q5_K: rowsK4AVX2(176, idotQ5Kx4RowsAVX2),
		Q6_K: rowsK4AVX2(210, idotQ6Kx4RowsAVX2),
	}
	avx2IntRows8 = map[Type]qRows8Fn{
		Q8_0: rows8AVX2(34, idotQ8_0x8RowsAVX2),
		Q4_0: rows8AVX2(18, idotQ4_0x8RowsAVX2),
		Q4_K: rowsK8AVX2(144, idotQ4Kx8RowsAVX2),
		Q5_K: rowsK8AVX2(176, idotQ5Kx8RowsAVX2),
		Q6_K: rowsK8AVX2(210, idotQ6Kx8RowsAVX2),
	}
)

// rows32AVX2 wraps a one-input kernel for blocks of 32 elements and bb
// bytes; its sums argument is the input block sums is, or for weights with
// a minimum the Q8_1 sums s (float32). The slice expressions check every
// bound the assembly relies on.
func rows32AVX2(bb int, minimum bool, asm func(*byte, int, int, int, *int8, *float32, *int32, *float32)) qRowsFn {
	return func(out []float32, w []byte, rb int, a actView) {
		rows, nb := len(out), rb/bb
		if rows == 0 || nb == 0 {
			clear(out)
			return
		}
		w = w[:rows*rb]
		y, yd := a.qs[:32*nb], a.d[:nb]
		var sums *int32
		if minimum {
			sums = (*int32)(unsafe.Pointer(unsafe.SliceData(a.s[:nb])))
		} else {
			sums = unsafe.SliceData(a.is[:nb])
		}
		asm(unsafe.SliceData(w), rb, rows, nb, unsafe.SliceData(y), unsafe.SliceData(yd), sums, unsafe.SliceData(out))
	}
}

// rowsKAVX2 wraps a one-input K-quant kernel (blocks of 256 elements and bb
// bytes, Q8_K inputs).
func rowsKAVX2(bb int, asm func(*byte, int, int, int, *int8, *float32, *int16, *float32)) qRowsFn {
	return func(out []float32, w []byte, rb int, a actView) {
		rows, nb := len(out), rb/bb
		if rows == 0 || nb == 0 {
			clear(out)
			return
		}
		w = w[:rows*rb]
		y, yd, bs := a.qs[:256*nb], a.d[:nb], a.bs[:16*nb]
		asm(unsafe.SliceData(w), rb, rows, nb, unsafe.SliceData(y), unsafe.SliceData(yd), unsafe.SliceData(bs), unsafe.SliceData(out))
	}
}

// rows4AVX2 wraps a four-input kernel for blocks of be elements and bb
// bytes, passing is4 or (minimum) s4 as rows32AVX2 does; i must be a
// multiple of 4 (the interleaved scales come in groups).
func rows4AVX2(bb, be int, minimum bool, asm func(*byte, int, int, int, *int8, int, *float32, *int32, *float32, int)) qRows4Fn {
	return func(out []float32, ostride int, w []byte, rb, rows int, a *qacts, i int) {
		nb := rb / bb
		if rows == 0 || nb == 0 {
			for k := 0; k < 4; k++ {
				clear(out[k*ostride : k*ostride+rows])
			}
			return
		}
		cols, nbx := a.cols, a.cols/be
		w = w[:rows*rb]
		out = out[:3*ostride+rows]
		y := a.qs[i*cols : (i+3)*cols+be*nb]
		d4 := a.d4[i*nbx : i*nbx+4*nb]
		var sums *int32
		if minimum {
			sums = (*int32)(unsafe.Pointer(unsafe.SliceData(a.s4[i*nbx : i*nbx+4*nb])))
		} else {
			sums = unsafe.SliceData(a.is4[i*nbx : i*nbx+4*nb])
		}
		asm(unsafe.SliceData(w), rb, rows, nb, unsafe.SliceData(y), cols, unsafe.SliceData(d4), sums, unsafe.SliceData(out), 4*ostride)
	}
}

// rowsK4AVX2 wraps a four-input K-quant kernel (blocks of 256 elements and
// bb bytes); i must be a multiple of 4 (the k4 records come in groups).
func rowsK4AVX2(bb int, asm func(*byte, int, int, int, *int8, int, *byte, *float32, int)) qRows4Fn {
	return func(out []float32, ostride int, w []byte, rb, rows int, a *qacts, i int) {
		nb := rb / bb
		if rows == 0 || nb == 0 {
			for k := 0; k < 4; k++ {
				clear(out[k*ostride : k*ostride+rows])
			}
			return
		}
		cols, nbx := a.cols, a.cols/256
		w = w[:rows*rb]
		out = out[:3*ostride+rows]
		y := a.qs[i*cols : (i+3)*cols+256*nb]
		k4 := a.k4[i/4*nbx*144 : (i/4*nbx+nb)*144]
		asm(unsafe.SliceData(w), rb, rows, nb, unsafe.SliceData(y), cols, unsafe.SliceData(k4), unsafe.SliceData(out), 4*ostride)
	}
}

// rows8AVX2 wraps an eight-input kernel for Q8_0-quantized inputs (blocks
// of 32 elements, bb bytes); i must be a multiple of 4, so that inputs
// i..i+3 and i+4..i+7 are two whole groups of the interleaved scales.
func rows8AVX2(bb int, asm func(*byte, int, int, int, *int8, int, *float32, *int32, int, *float32, int)) qRows8Fn {
	return func(out []float32, ostride int, w []byte, rb, rows int, a *qacts, i int) {
		nb := rb / bb
		if rows == 0 || nb == 0 {
			for k := 0; k < 8; k++ {
				clear(out[k*ostride : k*ostride+rows])
			}
			return
		}
		cols, nbx := a.cols, a.cols/32
		w = w[:rows*rb]
		out = out[:7*ostride+rows]
		y := a.qs[i*cols : (i+7)*cols+32*nb]
		// The second group starts 4*nbx entries after the first.
		d4 := a.d4[i*nbx : (i+4)*nbx+4*nb]
		is4 := a.is4[i*nbx : (i+4)*nbx+4*nb]
		asm(unsafe.SliceData(w), rb, rows, nb, unsafe.SliceData(y), cols, unsafe.SliceData(d4), unsafe.SliceData(is4), 16*nbx, unsafe.SliceData(out), 4*ostride)
	}
}

// rowsK8AVX2 wraps an eight-input K-quant kernel (blocks of 256 elements
// and bb bytes); i must be a multiple of 4, so that inputs i..i+3 and
// i+4..i+7 are two whole groups of k4 records.
func rowsK8AVX2(bb int, asm func(*byte, int, int, int, *int8, int, *byte, int, *float32, int)) qRows8Fn {
	return func(out []float32, ostride int, w []byte, rb, rows int, a *qacts, i int) {
		nb := rb / bb
		if rows == 0 || nb == 0 {
			for k := 0; k < 8; k++ {
				clear(out[k*ostride : k*ostride+rows])
			}
			return
		}
		cols, nbx := a.cols, a.cols/256
		w = w[:rows*rb]
		out = out[:7*ostride+rows]
		y := a.qs[i*cols : (i+7)*cols+256*nb]
		// The second group's records start nbx records after the first's.
		k4 := a.k4[i/4*nbx*144 : ((i/4+1)*nbx+nb)*144]
		asm(unsafe.SliceData(w), rb, rows, nb, unsafe.SliceData(y), cols, unsafe.SliceData(k4), nbx*144, unsafe.SliceData(out), 4*ostride)
	}
}
