package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DequantizeRow decodes len(dst) elements (a multiple of t.BlockSize()) from
// the leading t.RowBytes(len(dst)) bytes of src.
//
// Values are computed the way ggml's reference dequantizers compute them in
// float32. For every format all intermediate products are exact in float32
// (an fp16 scale has 11 significant bits, sub-scales and quants at most 8 and
// 6), so each output is the single correctly rounded value of the format's
// formula and does not depend on evaluation order or FMA contraction.
func DequantizeRow(t Type, src []byte, dst []float32) error {
	need, err := t.RowBytes(len(dst))
	if err != nil {
		return fmt.Errorf("dequantize: %w", err)
	}
	if len(src) < need {
		return fmt.Errorf("dequantize %s: %d elements need %d bytes, have %d", t, len(dst), need, len(src))
	}
	src = src[:need]
	switch t {
	case F32:
		if canViewF32(src) {
			copy(dst, viewF32(src))
			return nil
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		deqF16(src, dst)
	case BF16:
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case Q4_0:
		deqQ4_0(src, dst)
	case Q4_1:
		deqQ4_1(src, dst)
	case Q5_0:
		deqQ5_0(src, dst)
	case Q5_1:
		deqQ5_1(src, dst)
	case Q8_0:
		deqQ8_0(src, dst)
	case Q8_1:
		deqQ8_1(src, dst)
	case Q2_K:
		deqQ2K(src, dst)
	case Q3_K:
		deqQ3K(src, dst)
	case Q4_K:
		deqQ4K(src, dst)
	case Q5_K:
		deqQ5K(src, dst)
	case Q6_K:
		deqQ6K(src, dst)
	case Q8_K:
		deqQ8K(src, dst)
	default:
		return fmt.Errorf("dequantize: no decoder for %s", t)
	}
	return nil
}

func deqF16(src []byte, dst []float32) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = F16ToF32(uint16(src[2*i]) | uint16(src[2*i+1])<<8)
	}
}

func half(b []byte) float32 { return F16ToF32(binary.LittleEndian.Uint16(b)) }

// block_q4_0: fp16 d, 16 bytes of nibbles; element j is the low nibble of
// byte j, element j+16 the high nibble; value (q-8)*d.
func deqQ4_0(src []byte, dst []float32) {
	for i := 0; i < len(dst)/32; i++ {
		b := src[i*18 : i*18+18]
		y := dst[i*32 : i*32+32]
		d := half(b)
		qs := b[2:18]
		for j := 0; j < 16; j++ {
			y[j] = float32(int32(qs[j]&0xf)-8) * d
			y[j+16] = float32(int32(qs[j]>>4)-8) * d
		}
	}
}

// block_q4_1: fp16 d, fp16 m, 16 bytes of nibbles; value q*d + m.
func deqQ4_1(src []byte, dst []float32) {
	for i := 0; i < len(dst)/32; i++ {
		b := src[i*20 : i*20+20]
		y := dst[i*32 : i*32+32]
		d, m := half(b), half(b[2:])
		qs := b[4:20]
		for j := 0; j < 16; j++ {
			y[j] = float32(qs[j]&0xf)*d + m
			y[j+16] = float32(qs[j]>>4)*d + m
		}
	}
}

// block_q5_0: fp16 d, 32-bit little-endian qh holding bit 4 of element j in
// bit j, 16 bytes of low nibbles as in Q4_0; value (q-16)*d.
func deqQ5_0(src []byte, dst []float32) {
	for i := 0; i < len(dst)/32; i++ {
		b := src[i*22 : i*22+22]
		y := dst[i*32 : i*32+32]
		d := half(b)
		qh := binary.LittleEndian.Uint32(b[2:])
		qs := b[6:22]
		for j := 0; j < 16; j++ {
			lo := int32(qs[j]&0xf) | int32(qh>>j&1)<<4
			hi := int32(qs[j]>>4) | int32(qh>>(j+16)&1)<<4
			y[j] = float32(lo-16) * d
			y[j+16] = float32(hi-16) * d
		}
	}
}

// block_q5_1: fp16 d, fp16 m, qh, nibbles; value q*d + m.
func deqQ5_1(src []byte, dst []float32) {
	for i := 0; i < len(dst)/32; i++ {
		b := src[i*24 : i*24+24]
		y := dst[i*32 : i*32+32]
		d, m := half(b), half(b[2:])
		qh := binary.LittleEndian.Uint32(b[4:])
		qs := b[8:24]
		for j := 0; j < 16; j++ {
			lo := uint32(qs[j]&0xf) | (qh>>j&1)<<4
			hi := uint32(qs[j]>>4) | (qh>>(j+16)&1)<<4
			y[j] = float32(lo)*d + m
			y[j+16] = float32(hi)*d + m
		}
	}
}

// block_q8_0: fp16 d, 32 int8; value q*d.
func deqQ8_0(src []byte, dst []float32) {
	for i := 0; i < len(dst)/32; i++ {
		b := src[i*34 : i*34+34]
		y := dst[i*32 : i*32+32]
		d := half(b)
		qs := b[2:34]
		for j := range y {
			y[j] = float32(int8(qs[j])) * d
		}
	}
}

// block_q8_1: fp16 d, fp16 s (= d*sum(q), only used by dot products), 32
// int8; value q*d.
func deqQ8_1(src []byte, dst []float32) {
	for i := 0; i < len(dst)/32; i++ {
		b := src[i*36 : i*36+36]
		y := dst[i*32 : i*32+32]
		d := half(b)
		qs := b[4:36]
		for j := range y {
			y[j] = float32(int8(qs[j])) * d
		}
	}
}

// block_q2_K (84 bytes): scales[16] (low nibble scale, high nibble min of
// each 16-element sub-block), qs[64] (2-bit quants), fp16 d, fp16 dmin.
// Each 128-element half uses 32 bytes of qs; element 32*j+l of the half is
// bits 2j..2j+1 of byte l. Value d*sc*q - dmin*m.
func deqQ2K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/256; i++ {
		b := src[i*84 : i*84+84]
		y := dst[i*256 : i*256+256]
		d, dmin := half(b[80:]), half(b[82:])
		scales := b[0:16]
		for n := 0; n < 2; n++ {
			q := b[16+32*n : 16+32*n+32]
			yh := y[128*n : 128*n+128]
			for j := 0; j < 4; j++ {
				shift := uint(2 * j)
				for k := 0; k < 2; k++ {
					sc := scales[8*n+2*j+k]
					dl := d * float32(sc&0xf)
					ml := dmin * float32(sc>>4)
					qq := q[16*k : 16*k+16]
					out := yh[32*j+16*k : 32*j+16*k+16]
					for l := range out {
						out[l] = dl*float32(qq[l]>>shift&3) - ml
					}
				}
			}
		}
	}
}

// q3kScale returns the 6-bit signed scale s (-32..31) of sub-block s of a
// Q3_K block: low 4 bits from scales[0:8] (low nibbles for 0-7, high nibbles
// for 8-15), high 2 bits from scales[8+s%4] at bit 2*(s/4).
func q3kScale(scales []byte, s int) int32 {
	var lo byte
	if s < 8 {
		lo = scales[s] & 0xf
	} else {
		lo = scales[s-8] >> 4
	}
	hi := scales[8+s%4] >> (2 * (s / 4)) & 3
	return int32(lo|hi<<4) - 32
}

// block_q3_K (110 bytes): hmask[32] (bit 3 of each quant), qs[64] (low 2
// bits, laid out as in Q2_K), scales[12] (sixteen 6-bit scales), fp16 d.
// The quant is low2 - 4 when its hmask bit is clear; value d*(sc-32)*q.
func deqQ3K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/256; i++ {
		b := src[i*110 : i*110+110]
		y := dst[i*256 : i*256+256]
		hm := b[0:32]
		scales := b[96:108]
		d := half(b[108:])
		for n := 0; n < 2; n++ {
			q := b[32+32*n : 32+32*n+32]
			for j := 0; j < 4; j++ {
				shift := uint(2 * j)
				m := byte(1) << (4*n + j)
				for k := 0; k < 2; k++ {
					dl := d * float32(q3kScale(scales, 8*n+2*j+k))
					off := 16 * k
					out := y[128*n+32*j+off : 128*n+32*j+off+16]
					for l := range out {
						v := int32(q[off+l] >> shift & 3)
						if hm[off+l]&m == 0 {
							v -= 4
						}
						out[l] = dl * float32(v)
					}
				}
			}
		}
	}
}

// scaleMinK4 unpacks the 6-bit scale and min of sub-block j (0..7) from the
// 12-byte scales field of Q4_K/Q5_K: sub-blocks 0-3 sit in the low 6 bits of
// bytes j and j+4; sub-blocks 4-7 keep their low 4 bits in byte j+4 and their
// top 2 bits in the spare top bits of bytes j-4 and j.
func scaleMinK4(s []byte, j int) (sc, m byte) {
	if j < 4 {
		return s[j] & 63, s[j+4] & 63
	}
	return s[j+4]&0xf | (s[j-4]>>6)<<4, s[j+4]>>4 | (s[j]>>6)<<4
}

// block_q4_K (144 bytes): fp16 d, fp16 dmin, scales[12], qs[128]. Each
// 64-element chunk c uses qs[32c:32c+32]: low nibbles are sub-block 2c, high
// nibbles sub-block 2c+1. Value d*sc*q - dmin*m.
func deqQ4K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/256; i++ {
		b := src[i*144 : i*144+144]
		y := dst[i*256 : i*256+256]
		d, dmin := half(b), half(b[2:])
		scales := b[4:16]
		for c := 0; c < 4; c++ {
			q := b[16+32*c : 16+32*c+32]
			sc, m := scaleMinK4(scales, 2*c)
			d1, m1 := d*float32(sc), dmin*float32(m)
			sc, m = scaleMinK4(scales, 2*c+1)
			d2, m2 := d*float32(sc), dmin*float32(m)
			lo := y[64*c : 64*c+32]
			hi := y[64*c+32 : 64*c+64]
			for l := range lo {
				lo[l] = d1*float32(q[l]&0xf) - m1
				hi[l] = d2*float32(q[l]>>4) - m2
			}
		}
	}
}

// block_q5_K (176 bytes): as Q4_K plus qh[32] before qs[128]: bit 2c of
// qh[l] is bit 4 of element 64c+l, bit 2c+1 that of element 64c+32+l.
func deqQ5K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/256; i++ {
		b := src[i*176 : i*176+176]
		y := dst[i*256 : i*256+256]
		d, dmin := half(b), half(b[2:])
		scales := b[4:16]
		qh := b[16:48]
		for c := 0; c < 4; c++ {
			q := b[48+32*c : 48+32*c+32]
			sc, m := scaleMinK4(scales, 2*c)
			d1, m1 := d*float32(sc), dmin*float32(m)
			sc, m = scaleMinK4(scales, 2*c+1)
			d2, m2 := d*float32(sc), dmin*float32(m)
			s1, s2 := uint(2*c), uint(2*c+1)
			lo := y[64*c : 64*c+32]
			hi := y[64*c+32 : 64*c+64]
			for l := range lo {
				h := qh[l]
				lo[l] = d1*float32(q[l]&0xf|(h>>s1&1)<<4) - m1
				hi[l] = d2*float32(q[l]>>4|(h>>s2&1)<<4) - m2
			}
		}
	}
}

// block_q6_K (210 bytes): ql[128] (low 4 bits), qh[64] (high 2 bits),
// int8 scales[16], fp16 d. In 128-element half n, element 32k+l takes its
// low bits from ql[64n + l + 32*(k&1)] (low nibble for k<2, high for k>=2)
// and its high bits from bits 2k..2k+1 of qh[32n+l]. Value d*sc*(q-32).
func deqQ6K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/256; i++ {
		b := src[i*210 : i*210+210]
		y := dst[i*256 : i*256+256]
		d := half(b[208:])
		for n := 0; n < 2; n++ {
			ql := b[64*n : 64*n+64]
			qh := b[128+32*n : 128+32*n+32]
			sc := b[192+8*n : 192+8*n+8]
			yh := y[128*n : 128*n+128]
			for l := 0; l < 32; l++ {
				is := l / 16
				h := qh[l]
				q1 := int32(ql[l]&0xf|(h&3)<<4) - 32
				q2 := int32(ql[l+32]&0xf|(h>>2&3)<<4) - 32
				q3 := int32(ql[l]>>4|(h>>4&3)<<4) - 32
				q4 := int32(ql[l+32]>>4|(h>>6&3)<<4) - 32
				yh[l] = d * float32(int8(sc[is])) * float32(q1)
				yh[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
				yh[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
				yh[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
			}
		}
	}
}

// block_q8_K (292 bytes): float32 d, int8 qs[256], int16 bsums[16] (sums of
// 16 quants, only for dot products); value d*q, a single float32 rounding.
func deqQ8K(src []byte, dst []float32) {
	for i := 0; i < len(dst)/256; i++ {
		b := src[i*292 : i*292+292]
		y := dst[i*256 : i*256+256]
		d := math.Float32frombits(binary.LittleEndian.Uint32(b))
		qs := b[4:260]
		for j := range y {
			y[j] = d * float32(int8(qs[j]))
		}
	}
}
