package tensor

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/kiln-llm/kiln/parallel"
)

// Matrix is a 2-D weight as GGUF stores it: Rows rows of Cols elements
// (Cols = ne0, contiguous), row-major, each row a whole number of blocks.
type Matrix struct {
	Type       Type
	Rows, Cols int
	Data       []byte
}

// NewMatrix checks that data holds exactly rows rows of cols elements of type
// t, so that Row and MatMul can slice it without further checks. Empty
// shapes are refused too: a weight with no rows or columns is always a broken
// file, and refusing it here means Row(0) of any validated matrix is safe.
func NewMatrix(t Type, rows, cols int, data []byte) (Matrix, error) {
	if rows <= 0 || cols <= 0 {
		return Matrix{}, fmt.Errorf("matrix %s: shape %dx%d is not positive", t, rows, cols)
	}
	rb, err := t.RowBytes(cols)
	if err != nil {
		return Matrix{}, fmt.Errorf("matrix %dx%d: %w", rows, cols, err)
	}
	if rows > 0 && rb > 0 && rows > len(data)/rb+1 {
		return Matrix{}, fmt.Errorf("matrix %s %dx%d: %d bytes of data is too short", t, rows, cols, len(data))
	}
	if rows*rb != len(data) {
		return Matrix{}, fmt.Errorf("matrix %s %dx%d: want %d bytes of data, have %d", t, rows, cols, rows*rb, len(data))
	}
	return Matrix{Type: t, Rows: rows, Cols: cols, Data: data}, nil
}

// rowBytes is the stride of a validated matrix.
func (m Matrix) rowBytes() int { return m.Cols / m.Type.BlockSize() * m.Type.BlockBytes() }

// Row returns the encoded bytes of row i (sharing m.Data).
func (m Matrix) Row(i int) []byte {
	rb := m.rowBytes()
	return m.Data[i*rb : (i+1)*rb : (i+1)*rb]
}

// MatMul computes dst[i*m.Rows + r] = dot(row r of m, x[i*m.Cols:(i+1)*m.Cols])
// for i in [0, n), accumulating in float32.
//
// It is the single entry point the model uses for every weight. Each dot
// product is computed straight from the encoded blocks by a fused kernel
// (AVX2/FMA assembly where the CPU has it, portable Go otherwise): block and
// sub-block scales multiply float32 sums of integer quants times inputs, so
// results differ from a dot with DequantizeRow's output only by float32
// summation order. A batch (n > 1) walks the weights in cache-sized tiles of
// rows and reuses each tile for all n inputs, several inputs per decoded
// block where a kernel allows. Rows are shared out over the workers of p (a
// nil p runs on the caller's goroutine). Each output is computed by one
// kernel call whatever the worker count, so results do not depend on it.
//
// m must come from NewMatrix (or satisfy its checks). Mismatched dst or x
// lengths are a programming error in the caller, not bad input data, and
// panic like an out-of-range slice would. Such a panic always reaches the
// caller's goroutine, even when a worker raised it, so a recover there sees it.
func MatMul(dst []float32, m Matrix, x []float32, n int, p *parallel.Pool) {
	matMul(dst, m, x, n, p, activeKernels)
}

// matMul is MatMul with an explicit kernel set, so that tests can run every
// set the host supports.
func matMul(dst []float32, m Matrix, x []float32, n int, p *parallel.Pool, ks *kernelSet) {
	if n < 0 || len(x) < n*m.Cols || len(dst) < n*m.Rows {
		panic(fmt.Sprintf("tensor.MatMul: %s %dx%d with n=%d needs len(x) >= %d and len(dst) >= %d, have %d and %d",
			m.Type, m.Rows, m.Cols, n, n*m.Cols, n*m.Rows, len(x), len(dst)))
	}
	if n == 0 || m.Rows == 0 {
		return
	}
	j := ks.job(m, x, n)
	// A batch's chunks are whole tiles, so no tile is decoded twice; one
	// input's are a few rows, so that several workers share even a small
	// matrix.
	grain := 4
	if n > 1 {
		grain = max(1, tileBytes/m.rowBytes())
	}
	p.For(m.Rows, grain, func(_, lo, hi int) { matMulRows(dst, j, lo, hi) })
}

// kernelSet is one implementation of the fused kernels: dot products of one
// row with one input (one) and, where implemented, with four inputs at once
// (four), which decodes each block once for all four.
type kernelSet struct {
	name string
	one  map[Type]rowDot
	four map[Type]rowDot4
}

// rowDot4 is rowDot for the four inputs x[0:], x[stride:], x[2*stride:],
// x[3*stride:] (sums likewise at sumStride), storing the dots in out.
type rowDot4 func(w []byte, x []float32, stride int, xsum []float32, sumStride int, out *[4]float32)

// portableKernels is the pure-Go kernel set, used where no assembly applies.
var portableKernels = &kernelSet{name: "go", one: goKernels, four: map[Type]rowDot4{F32: dotF32x4Go}}

// dotF32x4Go is the portable four-input F32 kernel: four one-input dots,
// which lets portable batches of other types share one decoding of each row.
func dotF32x4Go(w []byte, x []float32, stride int, _ []float32, _ int, out *[4]float32) {
	for k := range out {
		out[k] = dotF32Go(w, x[k*stride:], nil)
	}
}

// mmJob is what every worker of one MatMul call shares.
type mmJob struct {
	m       Matrix
	x, xsum []float32
	n, ns   int // inputs; sums per input
	one     rowDot
	four    rowDot4
	// The set's float32 kernels, for batches decoded to float32 first.
	f32one  rowDot
	f32four rowDot4
}

func (ks *kernelSet) job(m Matrix, x []float32, n int) *mmJob {
	j := &mmJob{m: m, x: x, n: n, one: ks.one[m.Type], four: ks.four[m.Type],
		f32one: ks.one[F32], f32four: ks.four[F32]}
	if j.f32one == nil {
		j.f32one = goKernels[F32]
	}
	if j.one == nil {
		j.one = goKernels[m.Type]
	}
	if g := sumGroup(m.Type); g > 0 {
		j.ns = m.Cols / g
		j.xsum = make([]float32, n*j.ns)
		for i := 0; i < n; i++ {
			inputSums(j.xsum[i*j.ns:(i+1)*j.ns], x[i*m.Cols:(i+1)*m.Cols], g)
		}
	}
	return j
}

// tileBytes bounds the weight bytes a batch keeps hot while it runs all its
// inputs over them: well inside a 512 KiB L2 next to the inputs.
const tileBytes = 64 << 10

// matMulRows does rows [lo, hi) of MatMul.
func matMulRows(dst []float32, j *mmJob, lo, hi int) {
	m := j.m
	if j.n == 1 {
		for r := lo; r < hi; r++ {
			dst[r] = j.one(m.Row(r), j.x[:m.Cols], j.xsum)
		}
		return
	}
	if j.four == nil && j.n >= 4 && j.f32four != nil {
		matMulDecoded(dst, j, lo, hi)
		return
	}
	tile := max(1, tileBytes/m.rowBytes())
	for r0 := lo; r0 < hi; r0 += tile {
		r1 := min(r0+tile, hi)
		batchTile(dst, j, r0, r1, m.Row, j.one, j.four, j.xsum, j.ns)
	}
}

// matMulDecoded is the batch path for types without a four-input kernel: it
// decodes a tile of rows once into float32 and runs the float32 kernels over
// it for every input, so the decoding cost is shared by the whole batch.
func matMulDecoded(dst []float32, j *mmJob, lo, hi int) {
	cols := j.m.Cols
	tile := max(1, tileBytes/(4*cols))
	buf := make([]float32, min(tile, hi-lo)*cols)
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), 4*len(buf))
	for r0 := lo; r0 < hi; r0 += tile {
		r1 := min(r0+tile, hi)
		for r := r0; r < r1; r++ {
			// Cannot fail: the matrix was validated by NewMatrix.
			_ = DequantizeRow(j.m.Type, j.m.Row(r), buf[(r-r0)*cols:(r-r0+1)*cols])
		}
		batchTile(dst, j, r0, r1, func(r int) []byte { return raw[4*(r-r0)*cols : 4*(r-r0+1)*cols] }, j.f32one, j.f32four, nil, 0)
	}
}

// batchTile computes rows [r0, r1) for all inputs, four at a time where
// four is available, reading row r's encoding from row(r).
func batchTile(dst []float32, j *mmJob, r0, r1 int, row func(int) []byte, one rowDot, four rowDot4, xsum []float32, ns int) {
	cols, rows := j.m.Cols, j.m.Rows
	var out [4]float32
	i := 0
	if four != nil {
		for ; i+4 <= j.n; i += 4 {
			x := j.x[i*cols : (i+4)*cols]
			var xs []float32
			if ns > 0 {
				xs = xsum[i*ns : (i+4)*ns]
			}
			for r := r0; r < r1; r++ {
				four(row(r), x, cols, xs, ns, &out)
				dst[i*rows+r] = out[0]
				dst[(i+1)*rows+r] = out[1]
				dst[(i+2)*rows+r] = out[2]
				dst[(i+3)*rows+r] = out[3]
			}
		}
	}
	for ; i < j.n; i++ {
		x := j.x[i*cols : (i+1)*cols]
		var xs []float32
		if ns > 0 {
			xs = xsum[i*ns : (i+1)*ns]
		}
		for r := r0; r < r1; r++ {
			dst[i*rows+r] = one(row(r), x, xs)
		}
	}
}

// dot uses eight independent float32 accumulators, which both lets the CPU
// overlap the additions and shortens each rounding chain eightfold.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		aa := a[i : i+8 : i+8]
		bb := b[i : i+8 : i+8]
		s0 += aa[0] * bb[0]
		s1 += aa[1] * bb[1]
		s2 += aa[2] * bb[2]
		s3 += aa[3] * bb[3]
		s4 += aa[4] * bb[4]
		s5 += aa[5] * bb[5]
		s6 += aa[6] * bb[6]
		s7 += aa[7] * bb[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// canViewF32 reports whether b can be reinterpreted as little-endian float32
// values in place: the host must be little-endian and b 4-byte aligned (GGUF
// aligns tensor data to 32 bytes, so mmapped files qualify).
func canViewF32(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	var probe [2]byte
	binary.NativeEndian.PutUint16(probe[:], 1)
	return probe[0] == 1 && uintptr(unsafe.Pointer(&b[0]))%4 == 0
}

// viewF32 reinterprets b (see canViewF32) as float32 values without copying.
func viewF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}
