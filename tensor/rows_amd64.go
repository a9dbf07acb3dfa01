//go:build amd64 && !purego

package tensor

import "unsafe"

// Multi-row float-route kernels (rows_amd64.s): n is elements per row for
// the plain float types, blocks per row for the others.

//go:noescape
func dotF32RowsAVX2(w *byte, rb, rows int, x *float32, n int, out *float32)

//go:noescape
func dotF16RowsAVX2(w *byte, rb, rows int, x *float32, n int, out *float32)

//go:noescape
func dotBF16RowsAVX2(w *byte, rb, rows int, x *float32, n int, out *float32)

//go:noescape
func dotQ8_0RowsAVX2(w *byte, rb, rows int, x *float32, n int, out *float32)

//go:noescape
func dotQ4_0RowsAVX2(w *byte, rb, rows int, x *float32, n int, out *float32)

//go:noescape
func dotQ6KRowsAVX2(w *byte, rb, rows int, x *float32, n int, out *float32)

//go:noescape
func dotF32x4RowsAVX2(w *byte, rb, rows int, x *float32, xstride, n int, out *float32, ostride int)

//go:noescape
func dotF16x4RowsAVX2(w *byte, rb, rows int, x *float32, xstride, n int, out *float32, ostride int)

//go:noescape
func dotBF16x4RowsAVX2(w *byte, rb, rows int, x *float32, xstride, n int, out *float32, ostride int)

//go:noescape
func dotQ4KRowsAVX2(w *byte, rb, rows int, x, xsum *float32, n int, out *float32)

//go:noescape
func dotQ5KRowsAVX2(w *byte, rb, rows int, x, xsum *float32, n int, out *float32)

// avx2FloatRows are the float route's multi-row kernels.
var avx2FloatRows = map[Type]fRowsFn{
	F32:  plainRowsAVX2(4, dotF32RowsAVX2, dotF32Go),
	F16:  plainRowsAVX2(2, dotF16RowsAVX2, dotF16Go),
	BF16: plainRowsAVX2(2, dotBF16RowsAVX2, dotBF16Go),
	Q8_0: blockRowsAVX2(34, 32, dotQ8_0RowsAVX2),
	Q4_0: blockRowsAVX2(18, 32, dotQ4_0RowsAVX2),
	Q6_K: blockRowsAVX2(210, 256, dotQ6KRowsAVX2),
	Q4_K: kquantRowsAVX2(144, dotQ4KRowsAVX2),
	Q5_K: kquantRowsAVX2(176, dotQ5KRowsAVX2),
}

// plainRowsAVX2 wraps a plain float type's multi-row kernel (size bytes per
// element). The assembly does whole groups of eight elements; rows with a
// tail go one at a time through the one-row path (tail).
func plainRowsAVX2(size int, asm func(*byte, int, int, *float32, int, *float32), tail rowDot) fRowsFn {
	one := plainAVX2(size, func(w *byte, x *float32, n int) float32 {
		var out float32
		asm(w, 0, 1, x, n, &out)
		return out
	}, tail)
	return func(out []float32, w []byte, rb int, x, xsum []float32) {
		rows, n := len(out), rb/size
		if rows == 0 {
			return
		}
		if n%8 != 0 {
			for r := range out {
				out[r] = one(w[r*rb:(r+1)*rb], x, xsum)
			}
			return
		}
		w = w[:rows*rb]
		x = x[:n]
		asm(unsafe.SliceData(w), rb, rows, unsafe.SliceData(x), n, unsafe.SliceData(out))
	}
}

// blockRowsAVX2 wraps the multi-row kernel of a block type (blocks of bb
// bytes and be elements) that needs no input sums.
func blockRowsAVX2(bb, be int, asm func(*byte, int, int, *float32, int, *float32)) fRowsFn {
	return func(out []float32, w []byte, rb int, x, _ []float32) {
		rows, nb := len(out), rb/bb
		if rows == 0 || nb == 0 {
			clear(out)
			return
		}
		w = w[:rows*rb]
		x = x[:be*nb]
		asm(unsafe.SliceData(w), rb, rows, unsafe.SliceData(x), nb, unsafe.SliceData(out))
	}
}

// kquantRowsAVX2 wraps a Q4_K/Q5_K multi-row kernel (blocks of bb bytes).
func kquantRowsAVX2(bb int, asm func(*byte, int, int, *float32, *float32, int, *float32)) fRowsFn {
	return func(out []float32, w []byte, rb int, x, xsum []float32) {
		rows, nb := len(out), rb/bb
		if rows == 0 || nb == 0 {
			clear(out)
			return
		}
		w = w[:rows*rb]
		x = x[:256*nb]
		xsum = xsum[:8*nb]
		asm(unsafe.SliceData(w), rb, rows, unsafe.SliceData(x), unsafe.SliceData(xsum), nb, unsafe.SliceData(out))
	}
}

// avx2FloatRows4 are the four-input multi-row kernels of the plain float
// types.
var avx2FloatRows4 = map[Type]floatRows4Fn{
	F32:  plainRows4AVX2(4, dotF32x4RowsAVX2, dotF32Go),
	F16:  plainRows4AVX2(2, dotF16x4RowsAVX2, dotF16Go),
	BF16: plainRows4AVX2(2, dotBF16x4RowsAVX2, dotBF16Go),
}

// plainRows4AVX2 makes a four-input multi-row kernel (see floatRows4Fn) of
// a plain float type of size bytes an element: the assembly does whole
// groups of eight elements, Go the tails (tail, the one-input kernels'
// own), so that every output equals what the type's one-input kernel
// (plainAVX2) gives for that row and input.
func plainRows4AVX2(size int, asm func(*byte, int, int, *float32, int, int, *float32, int), tail rowDot) floatRows4Fn {
	return func(out []float32, ostride int, w []byte, rb, rows int, x []float32, xstride int) {
		n := rb / size
		n8 := n &^ 7
		if rows == 0 {
			return
		}
		w = w[:rows*rb]
		x = x[:3*xstride+n]
		out = out[:3*ostride+rows]
		// With n8 = 0 the assembly stores zeros for the tails to add to.
		asm(unsafe.SliceData(w), rb, rows, unsafe.SliceData(x), 4*xstride, n8, unsafe.SliceData(out), 4*ostride)
		if n8 < n {
			for r := 0; r < rows; r++ {
				for k := 0; k < 4; k++ {
					out[k*ostride+r] += tail(w[r*rb+size*n8:(r+1)*rb], x[k*xstride+n8:], nil)
				}
			}
		}
	}
}
