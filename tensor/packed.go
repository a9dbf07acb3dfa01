package tensor

import (
	"fmt"

	"github.com/kiln-llm/kiln/parallel"
)

// Packed weights: Repack rewrites a Q4_0 matrix, at load time and in place,
// into groups of eight rows interleaved block by block, the layout the
// packed kernels read (the idea of llama.cpp's Q4_0 8x8 repacking, in a
// layout of Kiln's own).
//
// Why: a row kernel turns each block's int32 sum into a float and scales it
// for one row at a time, so on Q4_0 the per-block bookkeeping (the nibble
// split, the widening to int32, the horizontal sums, the fp16 scale, the
// conversion and the multiply-add) outweighs the 32 multiply-adds, and one
// core decodes only 10-12 GB/s: decoding was bound by arithmetic, not by
// memory. With eight rows interleaved, each of a vector's eight int32 lanes
// is one row: the products of four quants with four inputs land in the
// lane of their row, the eight rows' fp16 scales widen in one instruction,
// and one conversion and one multiply-add finish a block for all eight
// rows. Batches reuse each decoded block for every input.
//
// The layout, for each group of eight rows (8*rb bytes, where the eight
// rows were) and each block b of the row length:
//
//	16 bytes   the eight rows' fp16 scales, row 0 first
//	128 bytes  for k = 0..3, for row r = 0..7: bytes 4k..4k+3 of row r's
//	           16 bytes of quants
//
// so the low nibbles of the k-th 32 bytes are elements 4k..4k+3 of each
// row in turn and their high nibbles elements 16+4k..16+4k+3, the order in
// which vpbroadcastd hands out four input quants. The Rows%8 rows after the
// last group keep the GGUF layout. The group is as large as the rows it
// replaces, so the rewrite needs no memory of its own.
const packRows = 8

// packedKernels multiply whole groups of a packed matrix: one does one
// input, out[8*g + r] for row r of group g; four does the inputs i..i+3 of
// a (i a multiple of 4, interleave done) into out[k*ostride + 8*g + r].
// Both read groups groups of nb blocks from the start of w.
type packedKernels struct {
	one  func(out []float32, w []byte, groups, nb int, a actView)
	four func(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i int)
}

// goPacked are the portable packed kernels.
var goPacked = &packedKernels{one: packedQ4_0Go, four: packedQ4_0x4Go}

// Repack rewrites m's bytes in place into the packed layout of its type
// and returns the matrix that reads them, or returns m and false, changing
// nothing, where the type has no packed layout (only Q4_0 has one) or m
// has fewer than eight rows. MatMul and MatMuls read the result with the
// packed kernels; MatMulFloat unpacks it first (slowly: a model that takes
// the float route should not repack). Row panics on it, since the rows are
// no longer where they were.
//
// m.Data must be writable memory that nothing else reads as GGUF blocks any
// more: a model's own copy of its weights.
func Repack(m Matrix) (Matrix, bool) {
	if m.Type != Q4_0 || m.packed || m.Rows < packRows {
		return m, false
	}
	nb := m.Cols / 32
	rb := m.rowBytes()
	gb := packRows * rb
	tmp := make([]byte, gb)
	for g := 0; g < m.Rows/packRows; g++ {
		grp := m.Data[g*gb : (g+1)*gb]
		copy(tmp, grp)
		for b := 0; b < nb; b++ {
			dst := grp[b*144 : (b+1)*144]
			for r := 0; r < packRows; r++ {
				src := tmp[r*rb+b*18 : r*rb+b*18+18]
				copy(dst[2*r:2*r+2], src[:2])
				for k := 0; k < 4; k++ {
					copy(dst[16+32*k+4*r:16+32*k+4*r+4], src[2+4*k:2+4*k+4])
				}
			}
		}
	}
	m.packed = true
	return m, true
}

// DequantizeRow decodes row i of m, in the GGUF or a packed layout, into
// dst[:m.Cols]: the token embedding of a model whose output projection is
// tied to it is packed for the projection and still looked up by row.
func (m Matrix) DequantizeRow(i int, dst []float32) error {
	if i < 0 || i >= m.Rows {
		return fmt.Errorf("dequantize row %d of a %s matrix of %d rows: out of range", i, m.Type, m.Rows)
	}
	if len(dst) < m.Cols {
		return fmt.Errorf("dequantize row %d: %d values need a buffer of %d, have %d", i, m.Cols, m.Cols, len(dst))
	}
	rb := m.rowBytes()
	if !m.packed || i >= m.Rows/packRows*packRows {
		return DequantizeRow(m.Type, m.Data[i*rb:(i+1)*rb], dst[:m.Cols])
	}
	grp := m.Data[i/packRows*packRows*rb:]
	r := i % packRows
	for b := 0; b < m.Cols/32; b++ {
		blk := grp[b*144 : (b+1)*144]
		d := half(blk[2*r:])
		out := dst[32*b : 32*b+32]
		for k := 0; k < 4; k++ {
			for j, v := range blk[16+32*k+4*r : 16+32*k+4*r+4] {
				out[4*k+j] = float32(int(v&0xf)-8) * d
				out[16+4*k+j] = float32(int(v>>4)-8) * d
			}
		}
	}
	return nil
}

// Packed reports whether m is in a packed layout (see Repack).
func (m Matrix) Packed() bool { return m.packed }

// unpack returns m in the GGUF layout, in new memory.
func (m Matrix) unpack() Matrix {
	if !m.packed {
		return m
	}
	nb := m.Cols / 32
	rb := m.rowBytes()
	gb := packRows * rb
	data := make([]byte, len(m.Data))
	copy(data, m.Data)
	for g := 0; g < m.Rows/packRows; g++ {
		src := m.Data[g*gb : (g+1)*gb]
		dst := data[g*gb : (g+1)*gb]
		for b := 0; b < nb; b++ {
			blk := src[b*144 : (b+1)*144]
			for r := 0; r < packRows; r++ {
				out := dst[r*rb+b*18 : r*rb+b*18+18]
				copy(out[:2], blk[2*r:2*r+2])
				for k := 0; k < 4; k++ {
					copy(out[2+4*k:2+4*k+4], blk[16+32*k+4*r:16+32*k+4*r+4])
				}
			}
		}
	}
	m.Data, m.packed = data, false
	return m
}

// matMulPacked is matMulInt for a packed matrix (a quantized, n inputs).
// Rows are shared out in whole groups, so that every row is always
// computed by the same kernel whatever the worker count; the rows after the
// last group, in GGUF layout, go to the set's row kernel.
func matMulPacked(dst []float32, m Matrix, n int, p *parallel.Pool, ks *kernelSet, a *qacts) {
	pk := ks.packed
	if pk == nil {
		pk = goPacked
	}
	if n >= 4 {
		a.interleave(n, false)
	}
	rb := m.rowBytes()
	gb := packRows * rb
	// A batch walks its groups in tiles that stay in the L1 cache while
	// every input of a tile of inputs (in L2) passes over them.
	gtile := max(1, packedTileBytes/gb)
	grain := packRows
	if n > 1 {
		grain *= gtile
	}
	p.For(m.Rows, grain, func(_, lo, hi int) {
		packedRange(dst, m, n, a, ks, pk, lo, hi, gtile)
	})
}

const (
	// packedTileBytes bounds the weights a batch keeps in L1 at once.
	packedTileBytes = 16 << 10
	// packedInputTile is the number of inputs that pass over a tile of
	// weights before the next tile: a multiple of 4 whose quants (cols
	// bytes each) stay in L2.
	packedInputTile = 64
)

// packedRange computes rows [lo, hi) of a packed matrix for all n inputs;
// lo is a multiple of packRows.
func packedRange(dst []float32, m Matrix, n int, a *qacts, ks *kernelSet, pk *packedKernels, lo, hi, gtile int) {
	if lo%packRows != 0 {
		panic(fmt.Sprintf("tensor: packed rows from %d, not a group boundary", lo))
	}
	nb := m.Cols / 32
	rb := m.rowBytes()
	gb := packRows * rb
	full := m.Rows / packRows * packRows
	if g0, g1 := lo/packRows, min(hi, full)/packRows; g1 > g0 {
		if n == 1 {
			pk.one(dst[lo:g1*packRows], m.Data[g0*gb:g1*gb], g1-g0, nb, a.view(0))
		}
		for i0 := 0; n > 1 && i0 < n; i0 += packedInputTile {
			i1 := min(n, i0+packedInputTile)
			for g := g0; g < g1; g += gtile {
				ge := min(g1, g+gtile)
				w := m.Data[g*gb : ge*gb]
				i := i0
				for ; i+4 <= i1; i += 4 {
					pk.four(dst[i*m.Rows+g*packRows:], m.Rows, w, ge-g, nb, a, i)
				}
				for ; i < i1; i++ {
					pk.one(dst[i*m.Rows+g*packRows:i*m.Rows+ge*packRows], w, ge-g, nb, a.view(i))
				}
			}
		}
	}
	if hi > full {
		l := max(lo, full)
		rows := ks.qrows[m.Type]
		if rows == nil {
			rows = goIntRows[m.Type]
		}
		for i := 0; i < n; i++ {
			rows(dst[i*m.Rows+l:i*m.Rows+hi], m.Data[l*rb:hi*rb], rb, a.view(i))
		}
	}
}

// packedQ4_0Go is the portable one-input packed kernel. Per row and block
// it computes what idotQ4_0Go does: the integer dot of the unsigned
// nibbles with the input quants less 8 times their sum, scaled by the two
// block scales.
func packedQ4_0Go(out []float32, w []byte, groups, nb int, a actView) {
	out = out[:groups*packRows]
	w = w[:groups*nb*144]
	for g := 0; g < groups; g++ {
		var acc [packRows]float32
		for b := 0; b < nb; b++ {
			blk := w[(g*nb+b)*144 : (g*nb+b+1)*144]
			y := a.qs[32*b : 32*b+32]
			off := 8 * a.is[b]
			for r := 0; r < packRows; r++ {
				var s int32
				for k := 0; k < 4; k++ {
					q := blk[16+32*k+4*r : 16+32*k+4*r+4]
					for j, v := range q {
						s += int32(v&0xf)*int32(y[4*k+j]) + int32(v>>4)*int32(y[16+4*k+j])
					}
				}
				acc[r] += half(blk[2*r:]) * a.d[b] * float32(s-off)
			}
		}
		copy(out[g*packRows:], acc[:])
	}
}

// packedQ4_0x4Go is the portable four-input packed kernel.
func packedQ4_0x4Go(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i int) {
	for k := 0; k < 4; k++ {
		packedQ4_0Go(out[k*ostride:k*ostride+groups*packRows], w, groups, nb, a.view(i+k))
	}
}
