//go:build amd64 && !purego

package tensor

import "unsafe"

// The tiled kernels of intgemm_amd64.s (see tiled.go).

//go:noescape
func idotQ4_0x4TAVX2(q *byte, dw *float32, rows, nb int, y *int8, ystride int, d8 *float32, o8 *int32, out *float32, ostride int)

// avx2Tiled are the tiled kernels of the AVX2 set.
var avx2Tiled = map[Type]*tiledKernel{
	Q4_0: {qbytes: 32, unpack: unpackQ4_0, run: tiledRunQ4_0AVX2, minInputs: 32},
	Q4_K: {qbytes: q4kRecord, unpack: unpackQ4K, run: tiledRunK4AVX2(q4kRecord, idotQ4Kx4TAVX2), minInputs: 256},
	Q5_K: {qbytes: q4kRecord, unpack: unpackQ5K, run: tiledRunK4AVX2(q4kRecord, idotQ4Kx4TAVX2), minInputs: 256},
	Q6_K: {qbytes: q6kRecord, unpack: unpackQ6K, run: tiledRunK4AVX2(q6kRecord, idotQ6Kx4TAVX2), minInputs: 256},
}

// tiledRunQ4_0AVX2 runs idotQ4_0x4TAVX2 on the unpacked rows in q and dw
// (see tiledKernel.run). The slice expressions check every bound the
// assembly relies on.
func tiledRunQ4_0AVX2(out []float32, ostride int, q []byte, dw []float32, rows, nb int, a *qacts, i int) {
	if rows == 0 || nb == 0 {
		for k := 0; k < 4; k++ {
			clear(out[k*ostride : k*ostride+rows])
		}
		return
	}
	cols, nbx := a.cols, a.cols/32
	q = q[:rows*nb*32]
	dw = dw[:rows*nb]
	out = out[:3*ostride+rows]
	y := a.qs[i*cols : (i+3)*cols+32*nb]
	d8 := a.d8[2*i*nbx : 2*i*nbx+8*nb]
	o8 := a.o8[2*i*nbx : 2*i*nbx+8*nb]
	idotQ4_0x4TAVX2(unsafe.SliceData(q), unsafe.SliceData(dw), rows, nb, unsafe.SliceData(y), cols, unsafe.SliceData(d8), unsafe.SliceData(o8), unsafe.SliceData(out), 4*ostride)
}

//go:noescape
func idotQ6Kx4TAVX2(q *byte, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)

//go:noescape
func idotQ4Kx4TAVX2(q *byte, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)

// tiledRunK4AVX2 wraps a tiled K-quant kernel of records of rec bytes (see
// tiledKernel.run), checking the bounds the assembly relies on.
func tiledRunK4AVX2(rec int, k func(*byte, int, int, *int8, int, *byte, *float32, int)) func(out []float32, ostride int, q []byte, dw []float32, rows, nb int, a *qacts, i int) {
	return func(out []float32, ostride int, q []byte, _ []float32, rows, nb int, a *qacts, i int) {
		if rows == 0 || nb == 0 {
			for k := 0; k < 4; k++ {
				clear(out[k*ostride : k*ostride+rows])
			}
			return
		}
		cols, nbx := a.cols, a.cols/256
		q = q[:rows*nb*rec]
		out = out[:3*ostride+rows]
		y := a.qs[i*cols : (i+3)*cols+256*nb]
		k4 := a.k4[i/4*nbx*144 : (i/4*nbx+nb)*144]
		k(unsafe.SliceData(q), rows, nb, unsafe.SliceData(y), cols, unsafe.SliceData(k4), unsafe.SliceData(out), 4*ostride)
	}
}
