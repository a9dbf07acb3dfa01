package tensor

import (
	"math"
	"math/rand/v2"
)

// This file holds the test-only reference decoders: one plain float64
// formula per element, written from the block layouts in ggml-common.h and
// deliberately not sharing code or loop structure with dequant.go. Each
// product is grouped as ggml groups it ((d*sc)*q - dmin*m) only so that
// inf/NaN scales propagate identically; for finite scales the grouping does
// not matter because every intermediate is exact in float64.

// refHalf decodes an IEEE binary16 from its definition.
func refHalf(b []byte) float64 {
	h := int(b[0]) | int(b[1])<<8
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := (h >> 10) & 31
	frac := h & 1023
	switch {
	case exp == 31 && frac == 0:
		return math.Inf(int(sign))
	case exp == 31:
		return math.NaN()
	case exp == 0:
		return sign * math.Ldexp(float64(frac), -24)
	default:
		return sign * math.Ldexp(float64(1024+frac), exp-25)
	}
}

func refLE32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// nib returns nibble k (0 = low, 1 = high) of byte v.
func nib(v byte, k int) int { return int(v>>(4*k)) & 15 }

// refElem returns element e of the block blk of type t.
func refElem(t Type, blk []byte, e int) float64 {
	switch t {
	case F32:
		return float64(math.Float32frombits(refLE32(blk)))
	case F16:
		return refHalf(blk)
	case BF16:
		return float64(math.Float32frombits(uint32(blk[0])<<16 | uint32(blk[1])<<24))
	case Q4_0: // d | qs[16]: element e is nibble e/16 of qs[e%16]
		d := refHalf(blk[0:])
		q := nib(blk[2+e%16], e/16)
		return d * float64(q-8)
	case Q4_1: // d | m | qs[16]
		d, m := refHalf(blk[0:]), refHalf(blk[2:])
		q := nib(blk[4+e%16], e/16)
		return d*float64(q) + m
	case Q5_0: // d | qh (u32, bit e = fifth bit of element e) | qs[16]
		d := refHalf(blk[0:])
		q := nib(blk[6+e%16], e/16) + 16*int(refLE32(blk[2:])>>e&1)
		return d * float64(q-16)
	case Q5_1: // d | m | qh | qs[16]
		d, m := refHalf(blk[0:]), refHalf(blk[2:])
		q := nib(blk[8+e%16], e/16) + 16*int(refLE32(blk[4:])>>e&1)
		return d*float64(q) + m
	case Q8_0: // d | int8 qs[32]
		return refHalf(blk[0:]) * float64(int8(blk[2+e]))
	case Q8_1: // d | s | int8 qs[32]
		return refHalf(blk[0:]) * float64(int8(blk[4+e]))
	case Q2_K:
		return refQ2K(blk, e)
	case Q3_K:
		return refQ3K(blk, e)
	case Q4_K, Q5_K:
		return refQ45K(t, blk, e)
	case Q6_K:
		return refQ6K(blk, e)
	case Q8_K: // float32 d | int8 qs[256] | int16 bsums[16]
		return float64(math.Float32frombits(refLE32(blk))) * float64(int8(blk[4+e]))
	}
	panic("refElem: unsupported type " + t.String())
}

// Q2_K: scales[16] | qs[64] | d | dmin. Sub-block e/16 has scale
// scales[e/16]&15 and min scales[e/16]>>4. Within each 128-element half h,
// element 32*j + i (i < 32) is bits 2j, 2j+1 of qs[32h + i].
func refQ2K(blk []byte, e int) float64 {
	d, dmin := refHalf(blk[80:]), refHalf(blk[82:])
	s := blk[e/16]
	h, r := e/128, e%128
	q := int(blk[16+32*h+r%32]>>(2*(r/32))) & 3
	return d*float64(s&15)*float64(q) - dmin*float64(s>>4)
}

// Q3_K: hmask[32] | qs[64] | scales[12] | d. The 6-bit scale of sub-block s
// has its low 4 bits in nibble s/8 of scales[s%8] and its high 2 bits at
// bit 2*(s/4) of scales[8 + s%4]; the signed scale is that minus 32. The
// quant's low 2 bits sit as in Q2_K; bit (4h + j) of hmask[i] set means the
// quant is non-negative, clear means 4 is subtracted.
func refQ3K(blk []byte, e int) float64 {
	d := refHalf(blk[108:])
	s := e / 16
	sc := nib(blk[96+s%8], s/8) + 16*(int(blk[104+s%4]>>(2*(s/4)))&3) - 32
	h, r := e/128, e%128
	j, i := r/32, r%32
	q := int(blk[32+32*h+i]>>(2*j)) & 3
	if blk[i]>>(4*h+j)&1 == 0 {
		q -= 4
	}
	return d * float64(sc) * float64(q)
}

// Q4_K: d | dmin | scales[12] | qs[128]; Q5_K adds qh[32] before qs.
// Sub-block s (32 elements) takes its 6-bit scale and min from the 12-byte
// field: for s < 4 the low 6 bits of bytes s and s+4; for s >= 4 the low
// and high nibbles of byte s+4 plus, as bits 4-5, the top two bits of bytes
// s-4 (scale) and s (min). Element 64c + 32k + i is nibble k of qs[32c+i];
// for Q5_K bit (2c+k) of qh[i] adds 16.
func refQ45K(t Type, blk []byte, e int) float64 {
	d, dmin := refHalf(blk[0:]), refHalf(blk[2:])
	sb := blk[4:16]
	s := e / 32
	var sc, mn int
	if s < 4 {
		sc, mn = int(sb[s]%64), int(sb[s+4]%64)
	} else {
		sc = nib(sb[s+4], 0) + 16*int(sb[s-4]/64)
		mn = nib(sb[s+4], 1) + 16*int(sb[s]/64)
	}
	c, k, i := e/64, (e%64)/32, e%32
	var q int
	if t == Q4_K {
		q = nib(blk[16+32*c+i], k)
	} else {
		q = nib(blk[48+32*c+i], k) + 16*(int(blk[16+i]>>(2*c+k))&1)
	}
	return d*float64(sc)*float64(q) - dmin*float64(mn)
}

// Q6_K: ql[128] | qh[64] | int8 scales[16] | d. In half h, element 32k + i
// takes nibble k/2 of ql[64h + 32*(k%2) + i] as its low 4 bits and bits
// 2k, 2k+1 of qh[32h + i] as bits 4-5; the quant is that minus 32, and
// sub-block e/16 has scale scales[e/16].
func refQ6K(blk []byte, e int) float64 {
	d := refHalf(blk[208:])
	h, r := e/128, e%128
	k, i := r/32, r%32
	lo := nib(blk[64*h+32*(k%2)+i], k/2)
	hi := int(blk[128+32*h+i]>>(2*k)) & 3
	q := lo + 16*hi - 32
	return d * float64(int8(blk[192+e/16])) * float64(q)
}

// refDecode decodes a whole row with refElem.
func refDecode(t Type, src []byte, n int) []float64 {
	out := make([]float64, n)
	bs, bb := t.BlockSize(), t.BlockBytes()
	for e := range out {
		b := e / bs
		out[e] = refElem(t, src[b*bb:(b+1)*bb], e%bs)
	}
	return out
}

// halfFields lists the byte offsets of the fp16 scale fields in a block.
var halfFields = map[Type][]int{
	Q4_0: {0}, Q4_1: {0, 2}, Q5_0: {0}, Q5_1: {0, 2}, Q8_0: {0}, Q8_1: {0, 2},
	Q2_K: {80, 82}, Q3_K: {108}, Q4_K: {0, 2}, Q5_K: {0, 2}, Q6_K: {208},
}

var quantTypes = []Type{Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K}
var allTypes = append([]Type{F32, F16, BF16}, quantTypes...)

// randomRow returns n elements of type t as random bytes whose scale fields
// are finite, moderate values, so that products stay well inside float32.
func randomRow(rng *rand.Rand, t Type, n int) []byte {
	nb, _ := t.RowBytes(n)
	b := make([]byte, nb)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	bb := t.BlockBytes()
	for blk := 0; blk < len(b)/bb; blk++ {
		o := blk * bb
		switch t {
		case F32:
			putLE32(b[o:], math.Float32bits(float32(rng.NormFloat64())))
		case F16:
			putLE16(b[o:], F32ToF16(float32(rng.NormFloat64())))
		case BF16:
			putLE16(b[o:], F32ToBF16(float32(rng.NormFloat64())))
		case Q8_K:
			putLE32(b[o:], math.Float32bits(float32(rng.Float64()*0.02-0.01)))
		default:
			for _, f := range halfFields[t] {
				putLE16(b[o+f:], F32ToF16(float32(rng.Float64()*0.02-0.01)))
			}
		}
	}
	return b
}

func putLE16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }
func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// sameFloat is bit equality, except that any two NaNs match.
func sameFloat(a, b float32) bool {
	if a != a && b != b {
		return true
	}
	return math.Float32bits(a) == math.Float32bits(b)
}
