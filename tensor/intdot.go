package tensor

import "encoding/binary"

// The portable integer-route kernels: the dot product of one encoded weight
// row with one quantized input row (see qacts). Within a block (or
// sub-block) the integer quants of both sides are multiplied and summed
// exactly in int32; the float32 product of the two block scales multiplies
// that sum once per block, as in llama.cpp's vec_dot functions, so the
// result differs from the exact product of the two dequantized rows only by
// the float32 rounding of the per-block terms and their sum.

// qRowDot is an integer-route kernel for one weight row w (a whole number of
// blocks) and one quantized input a.
type qRowDot func(w []byte, a actView) float32

// goIntKernels are the portable integer-route kernels, one per weight type
// with an integer route (see actType).
var goIntKernels = map[Type]qRowDot{
	Q4_0: idotQ4_0Go,
	Q4_1: idotQ4_1Go,
	Q5_0: idotQ5_0Go,
	Q5_1: idotQ5_1Go,
	Q8_0: idotQ8_0Go,
	Q2_K: idotQ2KGo,
	Q3_K: idotQ3KGo,
	Q4_K: idotQ4KGo,
	Q5_K: idotQ5KGo,
	Q6_K: idotQ6KGo,
}

// isumNib16 returns sum_j (lo_j - off)*y[j] + (hi_j - off)*y[j+16] over the
// 16 bytes of qs, with bit 4 of lo/hi from bits j and j+16 of qh (the
// Q4_0/Q4_1/Q5_0/Q5_1 layout).
func isumNib16(qs []byte, qh uint32, off int32, y []int8) int32 {
	qs = qs[:16]
	y = y[:32]
	var s int32
	for j := 0; j < 16; j++ {
		lo := int32(qs[j]&0xf) | int32(qh>>j&1)<<4 - off
		hi := int32(qs[j]>>4) | int32(qh>>(j+16)&1)<<4 - off
		s += lo*int32(y[j]) + hi*int32(y[j+16])
	}
	return s
}

func idotQ4_0Go(w []byte, a actView) float32 {
	var acc float32
	for i := 0; i < len(w)/18; i++ {
		b := w[i*18 : i*18+18]
		acc += half(b) * a.d[i] * float32(isumNib16(b[2:], 0, 8, a.qs[32*i:]))
	}
	return acc
}

func idotQ5_0Go(w []byte, a actView) float32 {
	var acc float32
	for i := 0; i < len(w)/22; i++ {
		b := w[i*22 : i*22+22]
		acc += half(b) * a.d[i] * float32(isumNib16(b[6:], binary.LittleEndian.Uint32(b[2:]), 16, a.qs[32*i:]))
	}
	return acc
}

// idotQ4_1Go: d*dx*sum(q*qx) + m*s per block, s the input's Q8_1 sum.
func idotQ4_1Go(w []byte, a actView) float32 {
	var acc float32
	for i := 0; i < len(w)/20; i++ {
		b := w[i*20 : i*20+20]
		acc += half(b)*a.d[i]*float32(isumNib16(b[4:], 0, 0, a.qs[32*i:])) + half(b[2:])*a.s[i]
	}
	return acc
}

func idotQ5_1Go(w []byte, a actView) float32 {
	var acc float32
	for i := 0; i < len(w)/24; i++ {
		b := w[i*24 : i*24+24]
		acc += half(b)*a.d[i]*float32(isumNib16(b[8:], binary.LittleEndian.Uint32(b[4:]), 0, a.qs[32*i:])) + half(b[2:])*a.s[i]
	}
	return acc
}

func idotQ8_0Go(w []byte, a actView) float32 {
	var acc float32
	for i := 0; i < len(w)/34; i++ {
		b := w[i*34 : i*34+34]
		q := b[2:34]
		y := a.qs[32*i : 32*i+32]
		var s int32
		for j := range q {
			s += int32(int8(q[j])) * int32(y[j])
		}
		acc += half(b) * a.d[i] * float32(s)
	}
	return acc
}

// idotQ2KGo: per block, dx*(d*sum_s sc_s*sum(q*qx) - dmin*sum_s m_s*bsum_s)
// over the 16 sub-blocks of 16.
func idotQ2KGo(w []byte, a actView) float32 {
	var acc float32
	for i := 0; i < len(w)/84; i++ {
		b := w[i*84 : i*84+84]
		scales := b[0:16]
		y := a.qs[256*i : 256*i+256]
		bs := a.bs[16*i : 16*i+16]
		var isum, msum int32
		for n := 0; n < 2; n++ {
			q := b[16+32*n : 16+32*n+32]
			for j := 0; j < 4; j++ {
				shift := uint(2 * j)
				for k := 0; k < 2; k++ {
					s := 8*n + 2*j + k
					yy := y[128*n+32*j+16*k : 128*n+32*j+16*k+16]
					var t int32
					for l := 0; l < 16; l++ {
						t += int32(q[16*k+l]>>shift&3) * int32(yy[l])
					}
					isum += int32(scales[s]&0xf) * t
					msum += int32(scales[s]>>4) * int32(bs[s])
				}
			}
		}
		dx := a.d[i]
		acc += dx*half(b[80:])*float32(isum) - dx*half(b[82:])*float32(msum)
	}
	return acc
}

func idotQ3KGo(w []byte, a actView) float32 {
	var acc float32
	for i := 0; i < len(w)/110; i++ {
		b := w[i*110 : i*110+110]
		hm := b[0:32]
		scales := b[96:108]
		y := a.qs[256*i : 256*i+256]
		var isum int32
		for n := 0; n < 2; n++ {
			q := b[32+32*n : 32+32*n+32]
			for j := 0; j < 4; j++ {
				shift := uint(2 * j)
				for k := 0; k < 2; k++ {
					off := 16 * k
					yy := y[128*n+32*j+off : 128*n+32*j+off+16]
					var t int32
					for l := 0; l < 16; l++ {
						v := int32(q[off+l]>>shift&3) - 4*int32(^hm[off+l]>>(4*n+j)&1)
						t += v * int32(yy[l])
					}
					isum += int32(q3kScale(scales, 8*n+2*j+k)) * t
				}
			}
		}
		acc += a.d[i] * half(b[108:]) * float32(isum)
	}
	return acc
}

// idotQ45K is the Q4_K (qh nil) and Q5_K kernel: per block,
// dx*(d*sum_s sc_s*sum(q*qx) - dmin*sum_s m_s*sum(qx)) over 8 sub-blocks of
// 32, the input sums of 32 being pairs of the Q8_K sums of 16.
func idotQ45K(b []byte, qs, qh []byte, y []int8, bs []int16, dx float32) float32 {
	scales := b[4:16]
	var isum, msum int32
	for c := 0; c < 4; c++ {
		q := qs[32*c : 32*c+32]
		lo := y[64*c : 64*c+32]
		hi := y[64*c+32 : 64*c+64]
		var t, u int32
		for l := 0; l < 32; l++ {
			ql, qhv := int32(q[l]&0xf), int32(q[l]>>4)
			if qh != nil {
				ql |= int32(qh[l]>>(2*c)&1) << 4
				qhv |= int32(qh[l]>>(2*c+1)&1) << 4
			}
			t += ql * int32(lo[l])
			u += qhv * int32(hi[l])
		}
		sc, m := scaleMinK4(scales, 2*c)
		isum += int32(sc) * t
		msum += int32(m) * (int32(bs[4*c]) + int32(bs[4*c+1]))
		sc, m = scaleMinK4(scales, 2*c+1)
		isum += int32(sc) * u
		msum += int32(m) * (int32(bs[4*c+2]) + int32(bs[4*c+3]))
	}
	return dx*half(b)*float32(isum) - dx*half(b[2:])*float32(msum)
}

func idotQ4KGo(w []byte, a actView) float32 {
	var acc float32
	for i := 0; i < len(w)/144; i++ {
		b := w[i*144 : i*144+144]
		acc += idotQ45K(b, b[16:144], nil, a.qs[256*i:256*i+256], a.bs[16*i:16*i+16], a.d[i])
	}
	return acc
}

func idotQ5KGo(w []byte, a actView) float32 {
	var acc float32
	for i := 0; i < len(w)/176; i++ {
		b := w[i*176 : i*176+176]
		acc += idotQ45K(b, b[48:176], b[16:48], a.qs[256*i:256*i+256], a.bs[16*i:16*i+16], a.d[i])
	}
	return acc
}

func idotQ6KGo(w []byte, a actView) float32 {
	var acc float32
	for i := 0; i < len(w)/210; i++ {
		b := w[i*210 : i*210+210]
		y := a.qs[256*i : 256*i+256]
		var isum int32
		for n := 0; n < 2; n++ {
			ql := b[64*n : 64*n+64]
			qh := b[128+32*n : 128+32*n+32]
			sc := b[192+8*n : 192+8*n+8]
			yh := y[128*n : 128*n+128]
			for is := 0; is < 2; is++ {
				var t0, t1, t2, t3 int32
				for l := 16 * is; l < 16*is+16; l++ {
					h := qh[l]
					t0 += (int32(ql[l]&0xf|(h&3)<<4) - 32) * int32(yh[l])
					t1 += (int32(ql[l+32]&0xf|(h>>2&3)<<4) - 32) * int32(yh[l+32])
					t2 += (int32(ql[l]>>4|(h>>4&3)<<4) - 32) * int32(yh[l+64])
					t3 += (int32(ql[l+32]>>4|(h>>6&3)<<4) - 32) * int32(yh[l+96])
				}
				isum += int32(int8(sc[is]))*t0 + int32(int8(sc[is+2]))*t1 +
					int32(int8(sc[is+4]))*t2 + int32(int8(sc[is+6]))*t3
			}
		}
		acc += a.d[i] * half(b[208:]) * float32(isum)
	}
	return acc
}
