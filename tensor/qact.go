package tensor

import (
	"encoding/binary"
	"math"
	"sync"
)

// The integer route quantizes each input row once per MatMul, the way
// llama.cpp's CPU backend does before its integer dot products (its
// "vec_dot_type"), so that Kiln reproduces llama.cpp's activation rounding
// and can multiply 8-bit quants with 8-bit integer instructions:
//
//   - Q8_0 (for Q4_0, Q5_0 and Q8_0 weights): blocks of 32, amax = max|x|,
//     d = fp16(amax/127), q = round-half-even(x * (127/amax)) in float32, as
//     llama.cpp's AVX2 quantize_row_q8_0 does (its scalar reference rounds
//     half away from zero and divides by d instead; the AVX2 rule is the one
//     that runs on the machines Kiln targets).
//   - Q8_1 (for Q4_1 and Q5_1 weights): Q8_0's rule plus the block sum
//     s = fp16(d * sum(q)) with d the float32 amax/127 before its rounding
//     to fp16, which llama.cpp multiplies by the weight block's minimum.
//   - Q8_K (for the K-quants): blocks of 256, x_m the first element of
//     largest magnitude, iscale = -127/x_m, q = min(127,
//     round-half-even(iscale*x)), d = 1/iscale in float32, and the exact
//     sums of each 16 quants.
//
// The quants are kept in a layout of Kiln's own rather than in ggml's
// blocks, because the kernels want the scales as ready float32 values:
// qs holds the int8 quants of all inputs back to back, d the block scales
// (already widened from fp16 where the format stores fp16), is the exact
// sum of each block's quants (Q8_0, Q8_1: the kernels of unsigned-quant
// weights subtract their offset through it), s the fp16-rounded Q8_1 sum,
// and bs the Q8_K sums of 16.
//
// For the four-input kernels, d4, is4 and (Q8_1) s4 repeat d, is and s
// interleaved by groups of four inputs: entry (g*nb + b)*4 + k is block b
// of input 4g+k, so that one load fetches a block's scales for all four.
// Q8_0 inputs may also get d8 and o8, for the tiled kernels, which reduce four
// inputs to two lanes each, ordered [A B C D A B C D] for inputs A..D of a
// group: per group and block eight float32 scales and eight int32 terms
// 4*is (the Q4_0 offset 8 times the block sum, spread over an input's two
// lanes).
// The VNNI packed kernels of four and eight inputs get e8: per group of
// eight inputs and block a record of 16 words, the eight inputs' float32
// scales (as bits) and then their offset terms, minus the weights' quant
// offset times the block sum (Q8_1: their sums s, as bits).
// Q8_K inputs get k4 instead, one 144-byte record per group and block: the
// four float32 scales, then the four inputs' 16 int16 sums (little-endian,
// for the assembly kernels). For the VNNI kernels they get e8 instead,
// records of q8kRecordWords words per group of eight and block: the eight
// float32 scales; then per input four words, each the sums of two
// consecutive sub-blocks of 32 as int16 halves (for the Q4_K minimums);
// then per input eight words, each two consecutive sums of 16 negated, as
// int16 halves (for the Q6_K offset of 32).
type qacts struct {
	kind Type // Q8_0, Q8_1 or Q8_K
	cols int  // elements per input row
	n    int  // input rows, padding inputs included
	qs   []int8
	d    []float32
	is   []int32
	s    []float32
	bs   []int16
	d4   []float32
	is4  []int32
	s4   []float32
	d8   []float32
	o8   []int32
	e8   []uint32
	// e8n and e8off are the input count and offset e8 was built for
	// (e8n 0: not built since alloc): products sharing the inputs (see
	// MatMuls) reuse the records.
	e8n   int
	e8off int32
	k4    []byte
	// scratch are the tiled kernels' per-worker buffers.
	scratch []tiledScratch
	// out holds the outputs of a batch padded to the packed kernels'
	// width (see packedKernels.padded), the padding's included.
	out []float32
	// parts are matMulsPacked's products.
	parts []packedPart
}

// actView is the quantized form of one input row, sliced from a qacts.
type actView struct {
	qs []int8
	d  []float32
	is []int32
	s  []float32
	bs []int16
}

// actType is the format the integer route quantizes inputs to for weights
// of type t, and whether t has an integer route at all.
func actType(t Type) (Type, bool) {
	switch t {
	case Q4_0, Q5_0, Q8_0:
		return Q8_0, true
	case Q4_1, Q5_1:
		return Q8_1, true
	case Q2_K, Q3_K, Q4_K, Q5_K, Q6_K:
		return Q8_K, true
	}
	return 0, false
}

// qactsPool recycles the quantized-input buffers: a decode step runs a few
// hundred MatMuls, and allocating their buffers each time would feed the
// garbage collector for nothing.
var qactsPool = sync.Pool{New: func() any { return new(qacts) }}

// alloc sizes a's buffers for n input rows of cols elements of kind,
// reusing them when they are large enough.
func (a *qacts) alloc(kind Type, n, cols int) {
	nb := n * cols / kind.BlockSize()
	a.kind, a.cols, a.n = kind, cols, n
	a.e8n = 0
	a.qs = grow(a.qs, n*cols)
	a.d = grow(a.d, nb)
	if kind == Q8_K {
		a.bs = grow(a.bs, n*cols/16)
	} else {
		a.is = grow(a.is, nb)
		a.s = grow(a.s, nb)
	}
}

// clearInputs zeroes inputs [lo, hi) of a: inputs that pad a batch, whose
// zero scales and sums make them add nothing.
func (a *qacts) clearInputs(lo, hi int) {
	nb := a.cols / a.kind.BlockSize()
	clear(a.qs[lo*a.cols : hi*a.cols])
	clear(a.d[lo*nb : hi*nb])
	if a.kind == Q8_K {
		clear(a.bs[lo*a.cols/16 : hi*a.cols/16])
		return
	}
	clear(a.is[lo*nb : hi*nb])
	clear(a.s[lo*nb : hi*nb])
}

// interleave fills d4, is4 and s4, or k4 (see qacts), for the first
// n/4*4 inputs, and for Q8_0 with wide also d8 and o8.
func (a *qacts) interleave(n int, wide bool) {
	nb := a.cols / a.kind.BlockSize()
	m := n / 4 * 4 * nb
	if a.kind == Q8_K {
		a.k4 = grow(a.k4, m/4*144)
		for g := 0; g < n/4; g++ {
			for b := 0; b < nb; b++ {
				rec := a.k4[(g*nb+b)*144 : (g*nb+b+1)*144]
				for k := 0; k < 4; k++ {
					src := (4*g+k)*nb + b
					binary.LittleEndian.PutUint32(rec[4*k:], math.Float32bits(a.d[src]))
					for j, v := range a.bs[16*src : 16*src+16] {
						binary.LittleEndian.PutUint16(rec[16+32*k+2*j:], uint16(v))
					}
				}
			}
		}
		return
	}
	a.d4 = grow(a.d4, m)
	a.is4 = grow(a.is4, m)
	if a.kind == Q8_1 {
		a.s4 = grow(a.s4, m)
	}
	wide = wide && a.kind == Q8_0
	if wide {
		a.d8 = grow(a.d8, 2*m)
		a.o8 = grow(a.o8, 2*m)
	}
	for g := 0; g < n/4; g++ {
		for k := 0; k < 4; k++ {
			src := (4*g + k) * nb
			for b := 0; b < nb; b++ {
				j := (g*nb+b)*4 + k
				a.d4[j] = a.d[src+b]
				a.is4[j] = a.is[src+b]
				if a.kind == Q8_1 {
					a.s4[j] = a.s[src+b]
				}
				if wide {
					for _, l := range [2]int{k, k + 4} {
						a.d8[(g*nb+b)*8+l] = a.d[src+b]
						a.o8[(g*nb+b)*8+l] = 4 * a.is[src+b]
					}
				}
			}
		}
	}
}

// q8RecordWords and q8kRecordWords are the sizes of a Q8_0 and a Q8_K e8
// record (see qacts).
const (
	q8RecordWords  = 16
	q8kRecordWords = 104
)

// interleave8 fills e8 (see qacts) for the groups of eight of a's n inputs
// (the last one partial): for Q8_0, for weights whose quants carry offset
// off (Q8_1 records ignore it).
func (a *qacts) interleave8(n int, off int32) {
	if a.e8n == n && a.e8off == off {
		return
	}
	a.e8n, a.e8off = n, off
	words := q8RecordWords
	if a.kind == Q8_K {
		words = q8kRecordWords
	}
	nb := a.cols / a.kind.BlockSize()
	groups := (n + 7) / 8
	a.e8 = grow(a.e8, groups*nb*words)
	for g := 0; g < groups; g++ {
		for k := 0; k < min(8, n-8*g); k++ {
			src := (8*g + k) * nb
			for b := 0; b < nb; b++ {
				rec := a.e8[(g*nb+b)*words : (g*nb+b+1)*words]
				rec[k] = math.Float32bits(a.d[src+b])
				if a.kind == Q8_1 {
					rec[8+k] = math.Float32bits(a.s[src+b])
					continue
				}
				if a.kind != Q8_K {
					rec[8+k] = uint32(-off * a.is[src+b])
					continue
				}
				bs := a.bs[16*(src+b) : 16*(src+b)+16]
				for p := range 4 {
					lo, hi := bs[4*p]+bs[4*p+1], bs[4*p+2]+bs[4*p+3]
					rec[8+4*k+p] = uint32(uint16(lo)) | uint32(uint16(hi))<<16
				}
				for p := range 8 {
					rec[40+8*k+p] = uint32(uint16(-bs[2*p])) | uint32(uint16(-bs[2*p+1]))<<16
				}
			}
		}
	}
}

// quantize fills inputs [lo, hi) of a (sized by alloc) from x, with ks's
// quantizer where it has one.
func (a *qacts) quantize(x []float32, lo, hi int, ks *kernelSet) {
	bs := a.kind.BlockSize()
	b0, b1 := lo*a.cols/bs, hi*a.cols/bs
	if a.kind == Q8_K {
		if ks.quantK != nil {
			ks.quantK(x[256*b0:256*b1], a.qs[256*b0:256*b1], a.d[b0:b1], a.bs[16*b0:16*b1])
			return
		}
		for b := b0; b < b1; b++ {
			a.d[b] = quantActQ8K(x[256*b:256*b+256], a.qs[256*b:256*b+256], a.bs[16*b:16*b+16])
		}
		return
	}
	if ks.quant8 != nil {
		ks.quant8(x[32*b0:32*b1], a.qs[32*b0:32*b1], a.d[b0:b1], a.is[b0:b1], a.s[b0:b1], a.kind == Q8_1)
		return
	}
	for b := b0; b < b1; b++ {
		a.d[b], a.is[b], a.s[b] = quantActQ8(x[32*b:32*b+32], a.qs[32*b:32*b+32], a.kind == Q8_1)
	}
}

// view returns input i of a.
func (a *qacts) view(i int) actView {
	cols := a.cols
	nb := cols / a.kind.BlockSize()
	v := actView{qs: a.qs[i*cols : (i+1)*cols], d: a.d[i*nb : (i+1)*nb]}
	if a.kind == Q8_K {
		v.bs = a.bs[i*cols/16 : (i+1)*cols/16]
	} else {
		v.is = a.is[i*nb : (i+1)*nb]
		v.s = a.s[i*nb : (i+1)*nb]
	}
	return v
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// quantActQ8 quantizes one block of 32 to Q8_0 (q8_1 false) or Q8_1,
// returning the fp16-rounded scale, the sum of the quants and (Q8_1) the
// fp16 sum term s (see qacts).
func quantActQ8(x []float32, q []int8, q8_1 bool) (d float32, sum int32, s float32) {
	x = x[:32]
	q = q[:32]
	var amax float32
	for _, v := range x {
		// NaN inputs (a model bug upstream) give garbage quants, as in
		// llama.cpp, but no panic; the kernels need not agree on them.
		if a := float32(math.Abs(float64(v))); a > amax {
			amax = a
		}
	}
	d32 := amax / 127
	var id float32
	if amax != 0 {
		id = 127 / amax
	}
	for j, v := range x {
		q[j] = cvtSat8(float32(v * id))
		sum += int32(q[j])
	}
	d = F16ToF32(F32ToF16(d32))
	if q8_1 {
		s = F16ToF32(F32ToF16(d32 * float32(sum)))
	}
	return d, sum, s
}

// cvtSat8 rounds v half to even and saturates it to int8 as llama.cpp's
// AVX2 quantizer does (vroundps, vcvtps2dq, then saturating packs): NaN and
// values beyond the int32 range become the "integer indefinite" INT32_MIN
// first, hence -128. Only inputs whose block maximum is below ~4e-37 (so
// that 127/amax overflows) get there.
func cvtSat8(v float32) int8 {
	f := math.RoundToEven(float64(v))
	if !(f >= math.MinInt32 && f <= math.MaxInt32) {
		return -128
	}
	return int8(min(max(f, -128), 127))
}

// quantActQ8K quantizes one block of 256 to Q8_K, storing the quants in q
// and the sums of each 16 in bs, and returns the scale.
func quantActQ8K(x []float32, q []int8, bs []int16) float32 {
	x = x[:256]
	q = q[:256]
	bs = bs[:16]
	var amax, vmax float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, vmax = a, v
		}
	}
	if amax == 0 {
		clear(q)
		clear(bs)
		return 0
	}
	iscale := -127 / vmax
	for g := 0; g < 16; g++ {
		sum := 0
		for l := 16 * g; l < 16*g+16; l++ {
			// The conversion keeps Go from fusing the product into
			// nearestInt's addition.
			q[l] = int8(min(127, nearestInt(float32(iscale*x[l]))))
			sum += int(q[l])
		}
		bs[g] = int16(sum)
	}
	return 1 / iscale
}

// nearestInt is ggml's nearest_int: adding 1.5*2^23 leaves v rounded half
// to even in the low mantissa bits (valid for |v| < 2^22, which the callers
// guarantee by construction).
func nearestInt(v float32) int {
	f := v + 12582912
	return int(math.Float32bits(f)&0x7fffff) - 0x400000
}
