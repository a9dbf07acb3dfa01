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
	// packed: Data is in the packed layout of Type (see Repack).
	packed bool
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

// Row returns the encoded bytes of row i (sharing m.Data). It panics on a
// packed matrix, whose rows are interleaved.
func (m Matrix) Row(i int) []byte {
	if m.packed {
		panic("tensor: Row of a packed matrix")
	}
	rb := m.rowBytes()
	return m.Data[i*rb : (i+1)*rb : (i+1)*rb]
}

// MatMul computes dst[i*m.Rows + r] = dot(row r of m, x[i*m.Cols:(i+1)*m.Cols])
// for i in [0, n).
//
// It is the single entry point the model uses for every weight, and it
// takes one of two routes:
//
//   - The integer route, for the block-quantized weight types llama.cpp
//     multiplies that way (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q2_K ... Q6_K):
//     each input row is quantized once per call to 8 bits per element
//     exactly as llama.cpp does (Q8_0, Q8_1 or Q8_K blocks, see qacts), and
//     each weight block is multiplied with its input block in integers
//     (AVX2 vpmaddubsw/vpmaddwd where the CPU has it), the int32 sum scaled
//     once per block by the two blocks' float32 scales. The activation
//     rounding (about 0.4 % of a block's largest input) is the one
//     llama.cpp applies, so logits follow llama.cpp's rather than those of
//     an exact product.
//   - The float route, for plain float weights (F32, F16, BF16) and the
//     remaining types, and for every type through MatMulFloat: each dot
//     product is computed straight from the encoded blocks with float32
//     inputs by a fused kernel; block and sub-block scales multiply float32
//     sums of integer quants times inputs, so results differ from a dot with
//     DequantizeRow's output only by float32 summation order.
//
// A batch (n > 1) walks the weights in cache-sized tiles of rows and reuses
// each tile for all n inputs, several inputs per decoded block where a
// kernel allows; large batches of Q4_0 and Q4_K ... Q6_K on the integer
// route first unpack each tile once into a small per-worker buffer (see
// tiled.go), so that the kernels' per-block decoding is not repeated for
// every group of inputs. Rows are shared out over the workers of p (a nil p runs on
// the caller's goroutine), each worker's range of rows in one kernel call
// where the kernel loops over rows itself. Each output is computed the same
// way whatever the worker count, so results do not depend on it.
//
// m must come from NewMatrix (or satisfy its checks). Mismatched dst or x
// lengths are a programming error in the caller, not bad input data, and
// panic like an out-of-range slice would. Such a panic always reaches the
// caller's goroutine, even when a worker raised it, so a recover there sees it.
func MatMul(dst []float32, m Matrix, x []float32, n int, p *parallel.Pool) {
	matMul(dst, m, x, n, p, activeKernels, true)
}

// MatMulFloat is MatMul on the float route for every type: the inputs are
// not quantized, so the result is the product of the dequantized weights and
// the float32 inputs up to float32 summation order. It is the route for
// comparisons with exact references, and the model's option for accuracy.
func MatMulFloat(dst []float32, m Matrix, x []float32, n int, p *parallel.Pool) {
	matMul(dst, m, x, n, p, activeKernels, false)
}

// IntegerRoute reports whether MatMul takes the integer route for weights of
// type t, so that callers can hold prefill speed against the right peak.
func IntegerRoute(t Type) bool {
	_, ok := actType(t)
	return ok
}

// Route names the arithmetic that bounds MatMul on weights of type t, as
// the model loader leaves them (packed where the type has a packed layout),
// with this CPU's kernels, so that callers can hold prefill speed against
// the matching peak: "fma" (float32 fused multiply-adds), "int8" (8-bit
// multiply-adds widened through int16: AVX2's vpmaddubsw) or "vnni" (8-bit
// dot products into int32: AVX512-VNNI's vpdpbusd).
func Route(t Type) string {
	if !IntegerRoute(t) {
		return "fma"
	}
	if pk := activeKernels.packed[t]; pk != nil && pk.route != "" {
		return pk.route
	}
	return "int8"
}

// matMul is MatMul with an explicit kernel set and route, so that tests can
// run every set the host supports.
func matMul(dst []float32, m Matrix, x []float32, n int, p *parallel.Pool, ks *kernelSet, integer bool) {
	if n < 0 || len(x) < n*m.Cols || len(dst) < n*m.Rows {
		panic(fmt.Sprintf("tensor.MatMul: %s %dx%d with n=%d needs len(x) >= %d and len(dst) >= %d, have %d and %d",
			m.Type, m.Rows, m.Cols, n, n*m.Cols, n*m.Rows, len(x), len(dst)))
	}
	if n == 0 || m.Rows == 0 {
		return
	}
	if kind, ok := actType(m.Type); ok && integer {
		matMulInt(dst, m, x, n, p, ks, kind)
		return
	}
	m = m.unpack()
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

// matMulInt is the integer route of matMul: kind is the activation format.
func matMulInt(dst []float32, m Matrix, x []float32, n int, p *parallel.Pool, ks *kernelSet, kind Type) {
	a := qactsPool.Get().(*qacts)
	defer qactsPool.Put(a)
	a.quantizeInputs(x, n, m.Cols, ks.paddedFor(m, n), p, ks, kind)
	matMulQuantized(dst, m, n, p, ks, a)
}

// paddedFor is the number of inputs a batch of n is quantized as for m:
// padded to the packed kernels' width (see packedKernels.padded).
func (ks *kernelSet) paddedFor(m Matrix, n int) int {
	if !m.packed {
		return n
	}
	return ks.packedFor(m.Type).padded(n)
}

// quantizeInputs fills a with the n input rows of x (cols elements each),
// quantized to kind, and npad-n zero inputs after them.
func (a *qacts) quantizeInputs(x []float32, n, cols, npad int, p *parallel.Pool, ks *kernelSet, kind Type) {
	a.alloc(kind, npad, cols)
	if n >= 4 {
		p.For(n, 1, func(_, lo, hi int) { a.quantize(x, lo, hi, ks) })
	} else {
		a.quantize(x, 0, n, ks)
	}
	a.clearInputs(n, npad)
}

// matMulQuantized is matMulInt on inputs already quantized into a (with
// padding inputs up to a's count where m is packed).
func matMulQuantized(dst []float32, m Matrix, n int, p *parallel.Pool, ks *kernelSet, a *qacts) {
	if m.packed {
		matMulsPacked([]Product{{Dst: dst, W: m}}, n, p, ks, a)
		return
	}
	rows := ks.qrows[m.Type]
	if rows == nil {
		rows = goIntRows[m.Type]
	}
	if k := ks.tiled[m.Type]; k != nil && n >= k.minInputs {
		a.interleave(n, true)
		nb := m.Cols / m.Type.BlockSize()
		tile := max(1, tiledTileBytes/(nb*(k.qbytes+4)))
		if w := p.Workers(); len(a.scratch) < w {
			a.scratch = make([]tiledScratch, w)
		}
		p.For(m.Rows, tile, func(wk, lo, hi int) {
			matMulTiled(dst, m, n, a, k, rows, lo, hi, &a.scratch[wk])
		})
		return
	}
	rows4, rows8 := ks.qrows4[m.Type], ks.qrows8[m.Type]
	if rows4 == nil {
		rows8 = nil // both rely on interleave's groups of four
	}
	if rows4 != nil && n >= 4 {
		a.interleave(n, false)
	}
	rb := m.rowBytes()
	if n == 1 {
		v := a.view(0)
		p.For(m.Rows, 4, func(_, lo, hi int) {
			rows(dst[lo:hi], m.Data[lo*rb:hi*rb], rb, v)
		})
		return
	}
	tile := max(1, intTileBytes/rb)
	p.For(m.Rows, tile, func(_, lo, hi int) {
		for r0 := lo; r0 < hi; r0 += tile {
			r1 := min(r0+tile, hi)
			w := m.Data[r0*rb : r1*rb]
			i := 0
			if rows8 != nil {
				for ; i+8 <= n; i += 8 {
					rows8(dst[i*m.Rows+r0:], m.Rows, w, rb, r1-r0, a, i)
				}
			}
			if rows4 != nil {
				for ; i+4 <= n; i += 4 {
					rows4(dst[i*m.Rows+r0:], m.Rows, w, rb, r1-r0, a, i)
				}
			}
			for ; i < n; i++ {
				rows(dst[i*m.Rows+r0:i*m.Rows+r1], w, rb, a.view(i))
			}
		}
	})
}

// fRowsFn is a multi-row float-route kernel: out[r] = dot(row r, x) for r
// in [0, len(out)), the rows rb bytes apart from the start of w, given x's
// sums (see rowDot).
type fRowsFn func(out []float32, w []byte, rb int, x, xsum []float32)

// floatRows4Fn computes, for rows of a plain float type (F32, F16, BF16) rb
// bytes apart from the start of w and the four inputs x[k*xstride:],
// out[k*ostride + r] = dot(row r, input k) for r < rows, each equal to what
// the set's four kernel for the type gives.
type floatRows4Fn func(out []float32, ostride int, w []byte, rb, rows int, x []float32, xstride int)

// qRowsFn is a multi-row integer-route kernel: out[r] = dot(row r, a) for
// r in [0, len(out)), the rows rb bytes apart from the start of w.
type qRowsFn func(out []float32, w []byte, rb int, a actView)

// qRows4Fn is qRowsFn for the four inputs i..i+3 of a, each weight block
// decoded once for all four: out[k*ostride + r] for input i+k.
type qRows4Fn func(out []float32, ostride int, w []byte, rb, rows int, a *qacts, i int)

// qRows8Fn is qRows4Fn for the eight inputs i..i+7 (i a multiple of 4):
// batched decoding of 8 or more sequences would otherwise decode every
// weight block twice, once per group of four.
type qRows8Fn func(out []float32, ostride int, w []byte, rb, rows int, a *qacts, i int)

// goIntRows are the portable integer kernels looped over rows.
var goIntRows = func() map[Type]qRowsFn {
	r := make(map[Type]qRowsFn, len(goIntKernels))
	for t, k := range goIntKernels {
		r[t] = rowsOf(k)
	}
	return r
}()

func rowsOf(k qRowDot) qRowsFn {
	return func(out []float32, w []byte, rb int, a actView) {
		for r := range out {
			out[r] = k(w[r*rb:(r+1)*rb:(r+1)*rb], a)
		}
	}
}

// kernelSet is one implementation of the fused kernels: dot products of one
// row with one input (one) and, where implemented, with four inputs at once
// (four), which decodes each block once for all four.
type kernelSet struct {
	name string
	one  map[Type]rowDot
	four map[Type]rowDot4
	// rows are the float route's multi-row kernels (one per row where
	// absent); rows4 its four-input multi-row kernels of the plain float
	// types, for their weights and, F32's, for tiles decoded to float32
	// (four per row where absent).
	rows  map[Type]fRowsFn
	rows4 map[Type]floatRows4Fn
	// The integer route's multi-row kernels (goIntRows where absent).
	qrows  map[Type]qRowsFn
	qrows4 map[Type]qRows4Fn
	qrows8 map[Type]qRows8Fn
	// tiled are the integer route's kernels for large batches (tiled.go).
	tiled map[Type]*tiledKernel
	// packed are the kernels of packed matrices, per type (goPacked's
	// where absent).
	packed map[Type]*packedKernels
	// quant8 quantizes whole blocks to Q8_0/Q8_1 like quantActQ8 (which is
	// used where it is nil), bit for bit; s is only written for Q8_1.
	quant8 func(x []float32, qs []int8, d []float32, is []int32, s []float32, q81 bool)
	// quantK is quant8 for Q8_K (quantActQ8K where nil).
	quantK func(x []float32, qs []int8, d []float32, bs []int16)
}

// rowDot4 is rowDot for the four inputs x[0:], x[stride:], x[2*stride:],
// x[3*stride:] (sums likewise at sumStride), storing the dots in out.
type rowDot4 func(w []byte, x []float32, stride int, xsum []float32, sumStride int, out *[4]float32)

// portableKernels is the pure-Go kernel set, used where no assembly applies
// (its integer route uses goIntRows and quantActQ8).
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
	rows    fRowsFn
	rows4   floatRows4Fn
	// The set's float32 kernels, for batches decoded to float32 first.
	f32one   rowDot
	f32four  rowDot4
	f32rows4 floatRows4Fn
}

func (ks *kernelSet) job(m Matrix, x []float32, n int) *mmJob {
	j := &mmJob{m: m, x: x, n: n, one: ks.one[m.Type], four: ks.four[m.Type],
		rows: ks.rows[m.Type], rows4: ks.rows4[m.Type],
		f32one: ks.one[F32], f32four: ks.four[F32], f32rows4: ks.rows4[F32]}
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

// intTileBytes is tileBytes for the integer route: its four-input kernels
// run each tile 4 inputs at a time, and a tile that stays in the 32 KiB L1
// next to the four inputs' quants measured ~10% faster than one in L2.
const intTileBytes = 16 << 10

// tileBytes bounds the weight bytes a batch keeps hot while it runs all its
// inputs over them: well inside a 512 KiB L2 next to the inputs.
const tileBytes = 64 << 10

// matMulRows does rows [lo, hi) of MatMul.
func matMulRows(dst []float32, j *mmJob, lo, hi int) {
	m := j.m
	if j.n == 1 && j.rows != nil {
		rb := m.rowBytes()
		j.rows(dst[lo:hi], m.Data[lo*rb:hi*rb], rb, j.x[:m.Cols], j.xsum)
		return
	}
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
	rb := m.rowBytes()
	tile := max(1, tileBytes/rb)
	for r0 := lo; r0 < hi; r0 += tile {
		r1 := min(r0+tile, hi)
		if j.rows4 != nil {
			batchTileFloat(dst, j, r0, r1, m.Data[r0*rb:r1*rb], j.rows4, j.one)
			continue
		}
		batchTile(dst, j, r0, r1, m.Row, j.one, j.four, j.xsum, j.ns)
	}
}

// batchTileFloat is batchTile for rows [r0, r1) of a plain float type
// stored in w, with its multi-row four-input kernel rows4 and one-input
// kernel one.
func batchTileFloat(dst []float32, j *mmJob, r0, r1 int, w []byte, rows4 floatRows4Fn, one rowDot) {
	cols, rows := j.m.Cols, j.m.Rows
	rb := len(w) / (r1 - r0)
	i := 0
	for ; i+4 <= j.n; i += 4 {
		rows4(dst[i*rows+r0:], rows, w, rb, r1-r0, j.x[i*cols:(i+4)*cols], cols)
	}
	for ; i < j.n; i++ {
		x := j.x[i*cols : (i+1)*cols]
		for r := r0; r < r1; r++ {
			dst[i*rows+r] = one(w[(r-r0)*rb:(r-r0+1)*rb], x, nil)
		}
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
		if j.f32rows4 != nil {
			batchTileFloat(dst, j, r0, r1, raw[:4*(r1-r0)*cols], j.f32rows4, j.f32one)
			continue
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
