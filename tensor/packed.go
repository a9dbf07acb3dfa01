package tensor

import (
	"encoding/binary"
	"fmt"

	"github.com/kiln-llm/kiln/parallel"
)

// Packed weights: Repack rewrites a matrix of an integer type but Q2_K and
// Q3_K, at load time and in place, into groups of eight rows interleaved
// block by block, the layout the packed kernels read (the idea of
// llama.cpp's Q4_0 8x8 repacking, in a layout of Kiln's own).
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
// The Q4_0 layout (Q4_K's is in packed_q4k.go, Q6_K's in packed_q6k.go),
// for each group of eight rows (8*rb bytes, where the eight rows were)
// and each block b of the row length:
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
// Sets with eight, which does the inputs i..i+8*sets-1, read records of
// groups of eight inputs in both (i a multiple of 8, interleave8 done with
// offset), so a batch takes them eight inputs at a time and four only for
// its last four. All read groups groups of nb blocks from the start of w.
// eight takes all the sets of a tile of inputs in one call: a call over
// the few groups that stay in L1 is about a microsecond of work, and the
// calls and their set-up cost several percent of a prompt's time.
type packedKernels struct {
	one   func(out []float32, w []byte, groups, nb int, a actView)
	four  func(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i int)
	eight func(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i, sets int)
	// offset is the offset of the weights' quants that eight and four take off
	// through the input sums (8 for Q4_0's nibbles, 16 for Q5_0's, 128 for
	// Q8_0 made unsigned; 0 for the types with a minimum).
	offset int32
	// route is what Route reports for the kernels, if not "int8".
	route string
}

// goPacked are the portable packed kernels, one set per type with a packed
// layout.
var goPacked = map[Type]*packedKernels{
	Q4_0: goNibbles(q4_0Layout, 8),
	Q4_1: goNibbles(q4_1Layout, 0),
	Q5_0: goNibbles(q5_0Layout, 16),
	Q5_1: goNibbles(q5_1Layout, 0),
	Q8_0: {one: packedQ8_0Go, four: fourOfOne(packedQ8_0Go)},
	Q4_K: {one: packedQ4KGo, four: fourOfOne(packedQ4KGo)},
	Q5_K: {one: packedQ5KGo, four: fourOfOne(packedQ5KGo)},
	Q6_K: {one: packedQ6KGo, four: fourOfOne(packedQ6KGo)},
}

// goNibbles is the portable kernel set of a nibble layout whose quants
// carry offset off.
func goNibbles(l nibbleLayout, off int32) *packedKernels {
	one := l.dot(off)
	return &packedKernels{one: one, four: fourOfOne(one)}
}

// fourOfOne is the portable sets' four-input kernel: one, a one-input
// kernel, for each of the four inputs.
func fourOfOne(one func(out []float32, w []byte, groups, nb int, a actView)) func(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i int) {
	return func(out []float32, ostride int, w []byte, groups, nb int, a *qacts, i int) {
		for k := 0; k < 4; k++ {
			one(out[k*ostride:k*ostride+groups*packRows], w, groups, nb, a.view(i+k))
		}
	}
}

// padded is the number of inputs pk's kernels run a batch of n as. A last
// partial group of 5 to 7 inputs is padded to eight where there are
// eight-input kernels, and one of 2 or 3 to four: the padding inputs have
// zero scales and sums, so they add nothing, and one pass of the wide
// kernel over a tile costs less than the passes of the narrower kernels it
// replaces (a decode step of 5 to 7 sequences took longer than one of 8).
// One left over input keeps the one-input kernel. Only batches of decoding
// streams' size are padded: in a prompt chunk the last group is a small
// part of the work, and the padded outputs (scratch of the whole batch)
// could be large.
func (pk *packedKernels) padded(n int) int {
	if n < 2 || n > maxPadded {
		return n
	}
	switch r := n % 8; {
	case r >= 5 && pk.eight != nil:
		return n + 8 - r
	case r%4 == 2 || r%4 == 3:
		return n + 4 - r%4
	}
	return n
}

// packedFor returns ks's packed kernels for t, or the portable ones.
func (ks *kernelSet) packedFor(t Type) *packedKernels {
	if pk := ks.packed[t]; pk != nil {
		return pk
	}
	return goPacked[t]
}

// packedLayout moves one row's GGUF block into (put) and out of (get) a
// group's packed block, which holds the same block of all eight rows
// (packRows*BlockBytes bytes).
type packedLayout struct {
	put func(blk []byte, r int, src []byte)
	get func(blk []byte, r int, dst []byte)
}

// packedLayouts are the types Repack handles.
var packedLayouts = map[Type]packedLayout{
	Q4_0: {put: q4_0Layout.put, get: q4_0Layout.get},
	Q4_1: {put: q4_1Layout.put, get: q4_1Layout.get},
	Q5_0: {put: q5_0Layout.put, get: q5_0Layout.get},
	Q5_1: {put: q5_1Layout.put, get: q5_1Layout.get},
	Q8_0: {put: putQ8_0, get: getQ8_0},
	Q4_K: {put: putQ4K, get: getQ4K},
	Q5_K: {put: putQ5K, get: getQ5K},
	Q6_K: {put: putQ6K, get: getQ6K},
}

// nibbleLayout is the packed layout of a type of 32-element blocks with
// 4-bit quants (Q4_0, Q4_1, Q5_0, Q5_1), per group and block: the eight
// rows' fp16 scales, the four runs of nibbles (as for Q4_0 above), then
// where the type has them the fifth bits (at fifth) and the rows' fp16
// minimums (at mins). Q5_0 and Q5_1 carry the fifth bits in 32 bytes, byte
// 4r+j holding row r's fifth bits of the eight elements whose nibbles sit
// at byte 4r+j of the runs: bit k that of element 4k+j (the low nibble in
// run k) and bit 4+k that of element 16+4k+j (the high nibble). So one
// load serves a block's eight nibble vectors, and a vector's fifth bits
// reach bit 4 of each byte with one 16-bit shift, by 4-k or k, which moves
// no bit of interest across a byte (the block's qh word, bit j for element
// j, would need a different spreading of bits for every run).
type nibbleLayout struct {
	src               nibbleBlock
	fifth, mins, size int
}

// nibbleBlock is where a GGUF block of such a type keeps its minimum (m),
// fifth bits (qh) and nibbles (qs); 0 for what it does not have.
type nibbleBlock struct{ m, qh, qs int }

var (
	q4_0Layout = nibbleLayout{src: nibbleBlock{qs: 2}, size: 144}
	q4_1Layout = nibbleLayout{src: nibbleBlock{m: 2, qs: 4}, mins: 144, size: 160}
	q5_0Layout = nibbleLayout{src: nibbleBlock{qh: 2, qs: 6}, fifth: 144, size: 176}
	q5_1Layout = nibbleLayout{src: nibbleBlock{m: 2, qh: 4, qs: 8}, fifth: 144, mins: 176, size: 192}
)

func (l nibbleLayout) put(blk []byte, r int, src []byte) {
	copy(blk[2*r:2*r+2], src[:2])
	for k := 0; k < 4; k++ {
		copy(blk[16+32*k+4*r:16+32*k+4*r+4], src[l.src.qs+4*k:l.src.qs+4*k+4])
	}
	if l.mins != 0 {
		copy(blk[l.mins+2*r:l.mins+2*r+2], src[l.src.m:l.src.m+2])
	}
	if l.fifth == 0 {
		return
	}
	qh := binary.LittleEndian.Uint32(src[l.src.qh:])
	for j := 0; j < 4; j++ {
		var v byte
		for k := 0; k < 4; k++ {
			v |= byte(qh>>(4*k+j)&1)<<k | byte(qh>>(16+4*k+j)&1)<<(4+k)
		}
		blk[l.fifth+4*r+j] = v
	}
}

func (l nibbleLayout) get(blk []byte, r int, dst []byte) {
	copy(dst[:2], blk[2*r:2*r+2])
	for k := 0; k < 4; k++ {
		copy(dst[l.src.qs+4*k:l.src.qs+4*k+4], blk[16+32*k+4*r:16+32*k+4*r+4])
	}
	if l.mins != 0 {
		copy(dst[l.src.m:l.src.m+2], blk[l.mins+2*r:l.mins+2*r+2])
	}
	if l.fifth == 0 {
		return
	}
	var qh uint32
	for j := 0; j < 4; j++ {
		v := uint32(blk[l.fifth+4*r+j])
		for k := 0; k < 4; k++ {
			qh |= (v>>k&1)<<(4*k+j) | (v>>(4+k)&1)<<(16+4*k+j)
		}
	}
	binary.LittleEndian.PutUint32(dst[l.src.qh:], qh)
}

// quant returns row r's quant of element 4k+j (high: 16+4k+j) in the
// packed block blk, fifth bit included.
func (l nibbleLayout) quant(blk []byte, r, k, j int, high bool) int32 {
	v := blk[16+32*k+4*r+j]
	q := int32(v & 0xf)
	shift := k
	if high {
		q, shift = int32(v>>4), 4+k
	}
	if l.fifth != 0 {
		q |= int32(blk[l.fifth+4*r+j]>>shift&1) << 4
	}
	return q
}

// dot is the portable one-input kernel of the layout. Per row and block it
// computes what the GGUF layout's integer kernel does (idotQ4_0Go ...
// idotQ5_1Go): the integer dot of the unsigned quants with the input
// quants, less off (the quants' offset: 8 or 16, 0 for the types with a
// minimum) times their sum, scaled by the two block scales, plus the
// minimum times the input's Q8_1 sum.
func (l nibbleLayout) dot(off int32) func(out []float32, w []byte, groups, nb int, a actView) {
	return func(out []float32, w []byte, groups, nb int, a actView) {
		out = out[:groups*packRows]
		w = w[:groups*nb*l.size]
		for g := 0; g < groups; g++ {
			var acc [packRows]float32
			for b := 0; b < nb; b++ {
				blk := w[(g*nb+b)*l.size : (g*nb+b+1)*l.size]
				y := a.qs[32*b : 32*b+32]
				for r := 0; r < packRows; r++ {
					s := -off * a.is[b]
					for k := 0; k < 4; k++ {
						for j := 0; j < 4; j++ {
							s += l.quant(blk, r, k, j, false)*int32(y[4*k+j]) + l.quant(blk, r, k, j, true)*int32(y[16+4*k+j])
						}
					}
					acc[r] += half(blk[2*r:]) * a.d[b] * float32(s)
					if l.mins != 0 {
						acc[r] += half(blk[l.mins+2*r:]) * a.s[b]
					}
				}
			}
			copy(out[g*packRows:], acc[:])
		}
	}
}

// putQ8_0 and getQ8_0 implement the Q8_0 layout: Q4_0's with eight runs
// of 32 bytes, the k-th holding quants 4k..4k+3 of each row (272 bytes per
// group and block). The quants are signed, so the kernels multiply their
// absolute values by the input quants carrying the weights' signs
// (vpsignb), and widen each run's products to int32 at once, since two
// runs' int16 sums could overflow; what packing saves is the per-row
// horizontal sums and scaling, as for Q4_0.
func putQ8_0(blk []byte, r int, src []byte) {
	copy(blk[2*r:2*r+2], src[:2])
	for k := 0; k < 8; k++ {
		copy(blk[16+32*k+4*r:16+32*k+4*r+4], src[2+4*k:2+4*k+4])
	}
}

func getQ8_0(blk []byte, r int, dst []byte) {
	copy(dst[:2], blk[2*r:2*r+2])
	for k := 0; k < 8; k++ {
		copy(dst[2+4*k:2+4*k+4], blk[16+32*k+4*r:16+32*k+4*r+4])
	}
}

// Repack rewrites m's bytes in place into the packed layout of its type
// and returns the matrix that reads them, or returns m and false, changing
// nothing, where the type has no packed layout (Q2_K, Q3_K and the float
// types) or m has fewer than eight rows. MatMul and MatMuls read the result
// with the packed kernels; MatMulFloat unpacks it first (slowly: a model
// that takes the float route should not repack). Row panics on it, since
// the rows are no longer where they were.
//
// m.Data must be writable memory that nothing else reads as GGUF blocks any
// more: a model's own copy of its weights.
func Repack(m Matrix) (Matrix, bool) {
	lay, ok := packedLayouts[m.Type]
	if !ok || m.packed || m.Rows < packRows {
		return m, false
	}
	bb := m.Type.BlockBytes()
	nb := m.Cols / m.Type.BlockSize()
	rb := m.rowBytes()
	gb := packRows * rb
	tmp := make([]byte, gb)
	for g := 0; g < m.Rows/packRows; g++ {
		grp := m.Data[g*gb : (g+1)*gb]
		copy(tmp, grp)
		for b := 0; b < nb; b++ {
			blk := grp[b*packRows*bb : (b+1)*packRows*bb]
			for r := 0; r < packRows; r++ {
				lay.put(blk, r, tmp[r*rb+b*bb:r*rb+(b+1)*bb])
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
	// The row's blocks are gathered back into their GGUF bytes, a run at a
	// time, and decoded by the GGUF decoder, so that a packed row decodes
	// bit for bit as it did.
	lay := packedLayouts[m.Type]
	bs, bb := m.Type.BlockSize(), m.Type.BlockBytes()
	grp := m.Data[i/packRows*packRows*rb:]
	r := i % packRows
	var buf [2304]byte // a run of whole blocks of any packed type
	run := len(buf) / bb
	nb := m.Cols / bs
	for b0 := 0; b0 < nb; b0 += run {
		b1 := min(nb, b0+run)
		for b := b0; b < b1; b++ {
			lay.get(grp[b*packRows*bb:(b+1)*packRows*bb], r, buf[(b-b0)*bb:(b-b0+1)*bb])
		}
		if err := DequantizeRow(m.Type, buf[:(b1-b0)*bb], dst[bs*b0:bs*b1]); err != nil {
			return fmt.Errorf("dequantize packed row %d: %w", i, err)
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
	lay := packedLayouts[m.Type]
	bb := m.Type.BlockBytes()
	nb := m.Cols / m.Type.BlockSize()
	rb := m.rowBytes()
	gb := packRows * rb
	data := make([]byte, len(m.Data))
	copy(data, m.Data)
	for g := 0; g < m.Rows/packRows; g++ {
		src := m.Data[g*gb : (g+1)*gb]
		dst := data[g*gb : (g+1)*gb]
		for b := 0; b < nb; b++ {
			blk := src[b*packRows*bb : (b+1)*packRows*bb]
			for r := 0; r < packRows; r++ {
				lay.get(blk, r, dst[r*rb+b*bb:r*rb+(b+1)*bb])
			}
		}
	}
	m.Data, m.packed = data, false
	return m
}

// packedPart is one product of a packed dispatch (see matMulsPacked): its
// rows go out in units of grain rows, whole tiles of gtile groups, and its
// units end at end, counted over the dispatch's parts.
type packedPart struct {
	dst               []float32
	m                 Matrix
	pk                *packedKernels
	gtile, grain, end int
}

// matMulsPacked computes packed products on the a.n quantized inputs of a,
// the first n real and the rest padding, in one dispatch: the workers meet
// once for all of them (a layer's query, key and value: once instead of
// three times) and share out all their tiles evenly.
// Rows are shared out in whole groups, so that every row is computed by the
// same kernel whatever the worker count; the rows after a product's last
// group, in GGUF layout, go to the set's row kernel. It reports false,
// computing nothing, unless every product is packed and their kernels read
// the same interleaved input records.
func matMulsPacked(ps []Product, n int, p *parallel.Pool, ks *kernelSet, a *qacts) bool {
	npad := a.n
	var first *packedKernels
	a.parts = a.parts[:0]
	units, scratch := 0, 0
	for _, pr := range ps {
		m := pr.W
		if !m.packed {
			return false
		}
		pk := ks.packedFor(m.Type)
		if first == nil {
			first = pk
		} else if (pk.eight != nil) != (first.eight != nil) || pk.offset != first.offset {
			return false
		}
		// A batch walks its groups in tiles that stay in the L1 cache
		// while every input of a tile of inputs (in L2) passes over them;
		// the eight-input kernels take groups in pairs.
		gtile := max(1, packedTileBytes/(packRows*m.rowBytes()))
		if pk.eight != nil {
			gtile = max(2, gtile&^1)
		}
		grain := decodeGrain
		if npad > 1 {
			grain = packRows * gtile
		}
		units += (m.Rows + grain - 1) / grain
		a.parts = append(a.parts, packedPart{dst: pr.Dst, m: m, pk: pk, gtile: gtile, grain: grain, end: units})
		if npad != n {
			scratch += npad * m.Rows
		}
	}
	switch {
	case npad >= 4 && first.eight != nil:
		a.interleave8(npad, first.offset)
	case npad >= 4:
		a.interleave(npad, false)
	}
	if npad != n {
		// Padded outputs land in a.out and the real ones are copied out.
		a.out = grow(a.out, scratch)
		off := 0
		for i := range a.parts {
			pt := &a.parts[i]
			pt.dst = a.out[off : off+npad*pt.m.Rows]
			off += npad * pt.m.Rows
		}
	}
	p.For(units, 1, func(_, lo, hi int) {
		start := 0
		for i := range a.parts {
			pt := &a.parts[i]
			l, h := max(lo, start), min(hi, pt.end)
			if l < h {
				packedRange(pt.dst, pt.m, npad, a, ks, pt.pk, (l-start)*pt.grain, min(pt.m.Rows, (h-start)*pt.grain), pt.gtile)
			}
			start = pt.end
		}
	})
	if npad != n {
		for i, pr := range ps {
			pt := &a.parts[i]
			copy(pr.Dst[:n*pt.m.Rows], pt.dst)
		}
	}
	return true
}

const (
	// decodeGrain is the fewest rows a worker takes at once of a one-input
	// product (a multiple of packRows). A decode step is a few hundred
	// products split into pieces of shrinking size; at 8 rows the calls
	// for the smallest pieces cost a few percent of the step, more than
	// evening out the workers' ends gains. 32 rows of a 1024-column Q4_0
	// matrix are 18 KB, about a microsecond of streaming.
	decodeGrain = 4 * packRows
	// packedTileBytes bounds the weights a batch keeps in L1 at once.
	packedTileBytes = 16 << 10
	// maxPadded is the largest batch packedKernels.padded pads.
	maxPadded = 32
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
	nb := m.Cols / m.Type.BlockSize()
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
				if sets := (i1 - i) / 8; pk.eight != nil && sets > 0 {
					pk.eight(dst[i*m.Rows+g*packRows:], m.Rows, w, ge-g, nb, a, i, sets)
					i += 8 * sets
				}
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

// packedQ8_0Go is the portable one-input packed Q8_0 kernel (idotQ8_0Go per
// row).
func packedQ8_0Go(out []float32, w []byte, groups, nb int, a actView) {
	out = out[:groups*packRows]
	w = w[:groups*nb*272]
	for g := 0; g < groups; g++ {
		var acc [packRows]float32
		for b := 0; b < nb; b++ {
			blk := w[(g*nb+b)*272 : (g*nb+b+1)*272]
			y := a.qs[32*b : 32*b+32]
			for r := 0; r < packRows; r++ {
				var s int32
				for k := 0; k < 8; k++ {
					for j, v := range blk[16+32*k+4*r : 16+32*k+4*r+4] {
						s += int32(int8(v)) * int32(y[4*k+j])
					}
				}
				acc[r] += half(blk[2*r:]) * a.d[b] * float32(s)
			}
		}
		copy(out[g*packRows:], acc[:])
	}
}
