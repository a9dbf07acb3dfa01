package tensor

import (
	"encoding/binary"
	"math"
)

// The portable fused kernels: each computes the dot product of one encoded
// weight row with one float32 input row straight from the quantized blocks,
// without decoding the row first. Within a (sub-)block the integer quants
// are multiplied by the inputs and summed in float32; the block's scale is
// applied once to that sum, and an additive minimum m is applied as m times
// the block's input sum (xsum, precomputed once per input row by
// inputSums). Both are exact rearrangements of sum_i (d*q_i + m)*x_i, so the
// results differ from a dot with DequantizeRow's output only by float32
// summation order.

// rowDot is a fused kernel: the dot of the encoded row w (a whole number of
// blocks) with x[:elements of w], given x's sub-block sums at the type's
// sumGroup granularity (nil for types that do not need them).
type rowDot func(w []byte, x, xsum []float32) float32

// sumGroup is the number of consecutive inputs whose sum a type's kernel
// needs (for its per-sub-block minimum), or 0 when it needs none.
func sumGroup(t Type) int {
	switch t {
	case Q4_1, Q5_1, Q4_K, Q5_K:
		return 32
	case Q2_K:
		return 16
	}
	return 0
}

// inputSums stores in dst[j] the sum of x[g*j : g*(j+1)]. Computed once per
// input row, they let every weight row apply its minimums with one product
// per sub-block instead of one per element.
func inputSums(dst, x []float32, g int) {
	for j := range dst {
		var s float32
		for _, v := range x[g*j : g*(j+1)] {
			s += v
		}
		dst[j] = s
	}
}

// goKernels are the portable kernels, one per type.
var goKernels = map[Type]rowDot{
	F32:  dotF32Go,
	F16:  dotF16Go,
	BF16: dotBF16Go,
	Q4_0: dotQ4_0Go,
	Q4_1: dotQ4_1Go,
	Q5_0: dotQ5_0Go,
	Q5_1: dotQ5_1Go,
	Q8_0: dotQ8_0Go,
	Q8_1: dotQ8_1Go,
	Q2_K: dotQ2KGo,
	Q3_K: dotQ3KGo,
	Q4_K: dotQ4KGo,
	Q5_K: dotQ5KGo,
	Q6_K: dotQ6KGo,
	Q8_K: dotQ8KGo,
}

// dotF32Go reads unaligned rows with the same eight partial sums as dot, so
// that a row's result does not depend on its address.
func dotF32Go(w []byte, x, _ []float32) float32 {
	if canViewF32(w) {
		return dot(viewF32(w), x)
	}
	x = x[:len(w)/4]
	f := func(i int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:])) }
	var s [8]float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		for k := range s {
			s[k] += f(i+k) * x[i+k]
		}
	}
	for ; i < len(x); i++ {
		s[0] += f(i) * x[i]
	}
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

// dotF16Go and dotBF16Go sum in dot's order, so that a row gives the same
// bits here as decoded to float32 and multiplied by dot (batches of the
// portable set decode their tiles to float32, see matMulDecoded).
func dotF16Go(w []byte, x, _ []float32) float32 {
	return dotHalfGo(w, x, func(lo, hi byte) float32 { return F16ToF32(uint16(lo) | uint16(hi)<<8) })
}

func dotBF16Go(w []byte, x, _ []float32) float32 {
	return dotHalfGo(w, x, func(lo, hi byte) float32 { return math.Float32frombits(uint32(lo)<<16 | uint32(hi)<<24) })
}

// dotHalfGo is dot for weights of two bytes each, widened by f.
func dotHalfGo(w []byte, x []float32, f func(lo, hi byte) float32) float32 {
	x = x[:len(w)/2]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		b := w[2*i : 2*i+16 : 2*i+16]
		xx := x[i : i+8 : i+8]
		s0 += f(b[0], b[1]) * xx[0]
		s1 += f(b[2], b[3]) * xx[1]
		s2 += f(b[4], b[5]) * xx[2]
		s3 += f(b[6], b[7]) * xx[3]
		s4 += f(b[8], b[9]) * xx[4]
		s5 += f(b[10], b[11]) * xx[5]
		s6 += f(b[12], b[13]) * xx[6]
		s7 += f(b[14], b[15]) * xx[7]
	}
	for ; i < len(x); i++ {
		s0 += f(w[2*i], w[2*i+1]) * x[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// dotNib16 returns sum_j (lo_j - off)*x[j] + (hi_j - off)*x[j+16] over the
// 16 bytes of qs, where lo/hi are the low/high nibbles plus bit 4 from the
// matching bits of qh (j and j+16), the Q4_0/Q4_1/Q5_0/Q5_1 layout.
func dotNib16(qs []byte, qh uint32, off int32, x []float32) float32 {
	qs = qs[:16]
	x = x[:32]
	var s0, s1, s2, s3 float32
	for j := 0; j < 16; j += 2 {
		l0 := int32(qs[j]&0xf) | int32(qh>>j&1)<<4 - off
		h0 := int32(qs[j]>>4) | int32(qh>>(j+16)&1)<<4 - off
		l1 := int32(qs[j+1]&0xf) | int32(qh>>(j+1)&1)<<4 - off
		h1 := int32(qs[j+1]>>4) | int32(qh>>(j+17)&1)<<4 - off
		s0 += float32(l0) * x[j]
		s1 += float32(h0) * x[j+16]
		s2 += float32(l1) * x[j+1]
		s3 += float32(h1) * x[j+17]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotQ4_0Go(w []byte, x, _ []float32) float32 {
	var acc float32
	for i := 0; i < len(w)/18; i++ {
		b := w[i*18 : i*18+18]
		acc += half(b) * dotNib16(b[2:], 0, 8, x[32*i:])
	}
	return acc
}

func dotQ4_1Go(w []byte, x, xsum []float32) float32 {
	var acc float32
	for i := 0; i < len(w)/20; i++ {
		b := w[i*20 : i*20+20]
		acc += half(b)*dotNib16(b[4:], 0, 0, x[32*i:]) + half(b[2:])*xsum[i]
	}
	return acc
}

func dotQ5_0Go(w []byte, x, _ []float32) float32 {
	var acc float32
	for i := 0; i < len(w)/22; i++ {
		b := w[i*22 : i*22+22]
		acc += half(b) * dotNib16(b[6:], binary.LittleEndian.Uint32(b[2:]), 16, x[32*i:])
	}
	return acc
}

func dotQ5_1Go(w []byte, x, xsum []float32) float32 {
	var acc float32
	for i := 0; i < len(w)/24; i++ {
		b := w[i*24 : i*24+24]
		acc += half(b)*dotNib16(b[8:], binary.LittleEndian.Uint32(b[4:]), 0, x[32*i:]) + half(b[2:])*xsum[i]
	}
	return acc
}

// dotI8 returns sum_j int8(q[j]) * x[j] over len(x) (a multiple of 4).
func dotI8(q []byte, x []float32) float32 {
	q = q[:len(x)]
	var s0, s1, s2, s3 float32
	for j := 0; j+4 <= len(x); j += 4 {
		s0 += float32(int8(q[j])) * x[j]
		s1 += float32(int8(q[j+1])) * x[j+1]
		s2 += float32(int8(q[j+2])) * x[j+2]
		s3 += float32(int8(q[j+3])) * x[j+3]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotQ8_0Go(w []byte, x, _ []float32) float32 {
	var acc float32
	for i := 0; i < len(w)/34; i++ {
		b := w[i*34 : i*34+34]
		acc += half(b) * dotI8(b[2:], x[32*i:32*i+32])
	}
	return acc
}

func dotQ8_1Go(w []byte, x, _ []float32) float32 {
	var acc float32
	for i := 0; i < len(w)/36; i++ {
		b := w[i*36 : i*36+36]
		acc += half(b) * dotI8(b[4:], x[32*i:32*i+32])
	}
	return acc
}

func dotQ8KGo(w []byte, x, _ []float32) float32 {
	var acc float32
	for i := 0; i < len(w)/292; i++ {
		b := w[i*292 : i*292+292]
		d := math.Float32frombits(binary.LittleEndian.Uint32(b))
		acc += d * dotI8(b[4:], x[256*i:256*i+256])
	}
	return acc
}

// dotQ2KGo: per 16-element sub-block s, d*sc_s*sum(q*x) - dmin*m_s*sum(x).
func dotQ2KGo(w []byte, x, xsum []float32) float32 {
	var acc float32
	for i := 0; i < len(w)/84; i++ {
		b := w[i*84 : i*84+84]
		d, dmin := half(b[80:]), half(b[82:])
		scales := b[0:16]
		xb := x[256*i : 256*i+256]
		xs := xsum[16*i : 16*i+16]
		var sq, sm float32
		for n := 0; n < 2; n++ {
			q := b[16+32*n : 16+32*n+32]
			for j := 0; j < 4; j++ {
				shift := uint(2 * j)
				for k := 0; k < 2; k++ {
					s := 8*n + 2*j + k
					qq := q[16*k : 16*k+16]
					xx := xb[128*n+32*j+16*k : 128*n+32*j+16*k+16]
					var t0, t1 float32
					for l := 0; l < 16; l += 2 {
						t0 += float32(qq[l]>>shift&3) * xx[l]
						t1 += float32(qq[l+1]>>shift&3) * xx[l+1]
					}
					sq += float32(scales[s]&0xf) * (t0 + t1)
					sm += float32(scales[s]>>4) * xs[s]
				}
			}
		}
		acc += d*sq - dmin*sm
	}
	return acc
}

func dotQ3KGo(w []byte, x, _ []float32) float32 {
	var acc float32
	for i := 0; i < len(w)/110; i++ {
		b := w[i*110 : i*110+110]
		hm := b[0:32]
		scales := b[96:108]
		xb := x[256*i : 256*i+256]
		var sq float32
		for n := 0; n < 2; n++ {
			q := b[32+32*n : 32+32*n+32]
			for j := 0; j < 4; j++ {
				shift := uint(2 * j)
				for k := 0; k < 2; k++ {
					off := 16 * k
					xx := xb[128*n+32*j+off : 128*n+32*j+off+16]
					var t0, t1 float32
					for l := 0; l < 16; l += 2 {
						v0 := int32(q[off+l]>>shift&3) - 4*int32(^hm[off+l]>>(4*n+j)&1)
						v1 := int32(q[off+l+1]>>shift&3) - 4*int32(^hm[off+l+1]>>(4*n+j)&1)
						t0 += float32(v0) * xx[l]
						t1 += float32(v1) * xx[l+1]
					}
					sq += float32(q3kScale(scales, 8*n+2*j+k)) * (t0 + t1)
				}
			}
		}
		acc += half(b[108:]) * sq
	}
	return acc
}

func dotQ4KGo(w []byte, x, xsum []float32) float32 {
	var acc float32
	for i := 0; i < len(w)/144; i++ {
		b := w[i*144 : i*144+144]
		scales := b[4:16]
		xb := x[256*i : 256*i+256]
		xs := xsum[8*i : 8*i+8]
		var sq, sm float32
		for c := 0; c < 4; c++ {
			q := b[16+32*c : 16+32*c+32]
			lo := xb[64*c : 64*c+32]
			hi := xb[64*c+32 : 64*c+64]
			var t0, t1, u0, u1 float32
			for l := 0; l < 32; l += 2 {
				t0 += float32(q[l]&0xf) * lo[l]
				t1 += float32(q[l+1]&0xf) * lo[l+1]
				u0 += float32(q[l]>>4) * hi[l]
				u1 += float32(q[l+1]>>4) * hi[l+1]
			}
			sc, m := scaleMinK4(scales, 2*c)
			sq += float32(sc) * (t0 + t1)
			sm += float32(m) * xs[2*c]
			sc, m = scaleMinK4(scales, 2*c+1)
			sq += float32(sc) * (u0 + u1)
			sm += float32(m) * xs[2*c+1]
		}
		acc += half(b)*sq - half(b[2:])*sm
	}
	return acc
}

func dotQ5KGo(w []byte, x, xsum []float32) float32 {
	var acc float32
	for i := 0; i < len(w)/176; i++ {
		b := w[i*176 : i*176+176]
		scales := b[4:16]
		qh := b[16:48]
		xb := x[256*i : 256*i+256]
		xs := xsum[8*i : 8*i+8]
		var sq, sm float32
		for c := 0; c < 4; c++ {
			q := b[48+32*c : 48+32*c+32]
			lo := xb[64*c : 64*c+32]
			hi := xb[64*c+32 : 64*c+64]
			s1, s2 := uint(2*c), uint(2*c+1)
			var t0, t1, u0, u1 float32
			for l := 0; l < 32; l += 2 {
				t0 += float32(q[l]&0xf|(qh[l]>>s1&1)<<4) * lo[l]
				t1 += float32(q[l+1]&0xf|(qh[l+1]>>s1&1)<<4) * lo[l+1]
				u0 += float32(q[l]>>4|(qh[l]>>s2&1)<<4) * hi[l]
				u1 += float32(q[l+1]>>4|(qh[l+1]>>s2&1)<<4) * hi[l+1]
			}
			sc, m := scaleMinK4(scales, 2*c)
			sq += float32(sc) * (t0 + t1)
			sm += float32(m) * xs[2*c]
			sc, m = scaleMinK4(scales, 2*c+1)
			sq += float32(sc) * (u0 + u1)
			sm += float32(m) * xs[2*c+1]
		}
		acc += half(b)*sq - half(b[2:])*sm
	}
	return acc
}

func dotQ6KGo(w []byte, x, _ []float32) float32 {
	var acc float32
	for i := 0; i < len(w)/210; i++ {
		b := w[i*210 : i*210+210]
		xb := x[256*i : 256*i+256]
		var sq float32
		for n := 0; n < 2; n++ {
			ql := b[64*n : 64*n+64]
			qh := b[128+32*n : 128+32*n+32]
			sc := b[192+8*n : 192+8*n+8]
			xh := xb[128*n : 128*n+128]
			for is := 0; is < 2; is++ {
				var t0, t1, t2, t3 float32
				for l := 16 * is; l < 16*is+16; l++ {
					h := qh[l]
					t0 += float32(int32(ql[l]&0xf|(h&3)<<4)-32) * xh[l]
					t1 += float32(int32(ql[l+32]&0xf|(h>>2&3)<<4)-32) * xh[l+32]
					t2 += float32(int32(ql[l]>>4|(h>>4&3)<<4)-32) * xh[l+64]
					t3 += float32(int32(ql[l+32]>>4|(h>>6&3)<<4)-32) * xh[l+96]
				}
				sq += float32(int8(sc[is]))*t0 + float32(int8(sc[is+2]))*t1 +
					float32(int8(sc[is+4]))*t2 + float32(int8(sc[is+6]))*t3
			}
		}
		acc += half(b[208:]) * sq
	}
	return acc
}
