package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// QuantizeRow encodes src (a whole number of blocks) into dst, which must be
// exactly t.RowBytes(len(src)) bytes.
//
// The legacy 32-element formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) use the plain
// max-abs / min-max rules of ggml's reference quantizers, so that files made
// by Kiln's synthesizer look like llama-quantize output. The K-quants use a
// small per-sub-block search over the rounded scale and min; they give valid
// blocks with small error but are not bit-identical to llama-quantize, whose
// iterative searches (and optional importance matrix) are not worth copying
// for test data. Quantized types reject NaN, infinite and (except Q8_K, whose
// scale is a float32) beyond-fp16-range inputs, whose scales could not be
// stored.
func QuantizeRow(t Type, src []float32, dst []byte) error {
	need, err := t.RowBytes(len(src))
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if len(dst) != need {
		return fmt.Errorf("quantize %s: %d elements take %d bytes, dst has %d", t, len(src), need, len(dst))
	}
	if t != F32 && t != F16 && t != BF16 {
		for i, v := range src {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("quantize %s: element %d is %v", t, i, v)
			}
			if t != Q8_K && math.Abs(float64(v)) > maxHalf {
				return fmt.Errorf("quantize %s: element %d = %v is beyond the fp16 range of the block scales", t, i, v)
			}
		}
	}
	bs, bb := t.BlockSize(), t.BlockBytes()
	var enc func(x []float32, b []byte)
	switch t {
	case F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
		return nil
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(v))
		}
		return nil
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(v))
		}
		return nil
	case Q4_0:
		enc = quantQ4_0
	case Q4_1:
		enc = quantQ4_1
	case Q5_0:
		enc = quantQ5_0
	case Q5_1:
		enc = quantQ5_1
	case Q8_0:
		enc = quantQ8_0
	case Q8_1:
		enc = quantQ8_1
	case Q2_K:
		enc = quantQ2K
	case Q3_K:
		enc = quantQ3K
	case Q4_K:
		enc = quantQ4K
	case Q5_K:
		enc = quantQ5K
	case Q6_K:
		enc = quantQ6K
	case Q8_K:
		enc = quantQ8K
	default:
		return fmt.Errorf("quantize: no encoder for %s", t)
	}
	for i := 0; i < len(src)/bs; i++ {
		b := dst[i*bb : i*bb+bb]
		clear(b)
		enc(src[i*bs:i*bs+bs], b)
	}
	return nil
}

// maxHalf is the largest finite fp16 value.
const maxHalf = 65504

func putHalf(b []byte, v float32) { binary.LittleEndian.PutUint16(b, F32ToF16(v)) }

// absMax returns the largest magnitude in x and the signed value holding it
// (the first one on ties), which the symmetric formats map to their most
// negative quant so that the asymmetric range [-2^(b-1), 2^(b-1)-1] is used
// in full.
func absMax(x []float32) (amax, vmax float32) {
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, vmax = a, v
		}
	}
	return amax, vmax
}

func minMax(x []float32) (lo, hi float32) {
	lo, hi = x[0], x[0]
	for _, v := range x[1:] {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	return lo, hi
}

func inv(d float32) float32 {
	if d == 0 {
		return 0
	}
	return 1 / d
}

// truncClamp converts v (>= 0 by construction) to an int by truncation, as
// the ggml reference quantizers do after adding 0.5, and caps it at hi.
// Callers round the product before the addition with an explicit float32
// conversion, which keeps Go from fusing it into an FMA and so keeps the
// result equal to llama-quantize's.
func truncClamp(v float32, hi int) int {
	q := int(v)
	return min(max(q, 0), hi)
}

func quantQ8_0(x []float32, b []byte) {
	amax, _ := absMax(x)
	d := amax / 127
	id := inv(d)
	putHalf(b, d)
	for j, v := range x {
		b[2+j] = byte(int8(math.Round(float64(v * id))))
	}
}

func quantQ8_1(x []float32, b []byte) {
	amax, _ := absMax(x)
	d := amax / 127
	id := inv(d)
	sum := 0
	for j, v := range x {
		q := int(math.Round(float64(v * id)))
		b[4+j] = byte(int8(q))
		sum += q
	}
	putHalf(b, d)
	putHalf(b[2:], d*float32(sum))
}

func quantQ4_0(x []float32, b []byte) {
	_, vmax := absMax(x)
	d := vmax / -8
	id := inv(d)
	putHalf(b, d)
	for j := 0; j < 16; j++ {
		lo := truncClamp(float32(x[j]*id)+8.5, 15)
		hi := truncClamp(float32(x[j+16]*id)+8.5, 15)
		b[2+j] = byte(lo | hi<<4)
	}
}

func quantQ4_1(x []float32, b []byte) {
	lo, hi := minMax(x)
	d := (hi - lo) / 15
	id := inv(d)
	putHalf(b, d)
	putHalf(b[2:], lo)
	for j := 0; j < 16; j++ {
		q0 := truncClamp(float32((x[j]-lo)*id)+0.5, 15)
		q1 := truncClamp(float32((x[j+16]-lo)*id)+0.5, 15)
		b[4+j] = byte(q0 | q1<<4)
	}
}

func quantQ5_0(x []float32, b []byte) {
	_, vmax := absMax(x)
	d := vmax / -16
	id := inv(d)
	putHalf(b, d)
	var qh uint32
	for j := 0; j < 16; j++ {
		q0 := truncClamp(float32(x[j]*id)+16.5, 31)
		q1 := truncClamp(float32(x[j+16]*id)+16.5, 31)
		b[6+j] = byte(q0&0xf | (q1&0xf)<<4)
		qh |= uint32(q0>>4)<<j | uint32(q1>>4)<<(j+16)
	}
	binary.LittleEndian.PutUint32(b[2:], qh)
}

func quantQ5_1(x []float32, b []byte) {
	lo, hi := minMax(x)
	d := (hi - lo) / 31
	id := inv(d)
	putHalf(b, d)
	putHalf(b[2:], lo)
	var qh uint32
	for j := 0; j < 16; j++ {
		q0 := truncClamp(float32((x[j]-lo)*id)+0.5, 31)
		q1 := truncClamp(float32((x[j+16]-lo)*id)+0.5, 31)
		b[8+j] = byte(q0&0xf | (q1&0xf)<<4)
		qh |= uint32(q0>>4)<<j | uint32(q1>>4)<<(j+16)
	}
	binary.LittleEndian.PutUint32(b[4:], qh)
}

func roundClamp(v float32, lo, hi int) int {
	q := int(math.Round(float64(v)))
	return min(max(q, lo), hi)
}

// affineFit picks, for one sub-block of an asymmetric K-quant (value =
// d*sc*q - dmin*m, q in [0, nmax]), the integer sub-scale sc in [0, smax] and
// sub-min m in [0, smax] with the smallest squared error, trying a few
// integers around the ideal (range/nmax, -min) rounded to the super-block
// scales d and dmin. It returns sc and m.
func affineFit(x []float32, nmax, smax int, d, dmin float32, scale, mn float32) (int, int) {
	sc0 := roundClamp(scale*inv(d), 0, smax)
	m0 := roundClamp(mn*inv(dmin), 0, smax)
	bestSc, bestM, best := sc0, m0, float32(math.Inf(1))
	for sc := max(sc0-1, 0); sc <= min(sc0+2, smax); sc++ {
		for m := max(m0-1, 0); m <= min(m0+1, smax); m++ {
			dl, ml := d*float32(sc), dmin*float32(m)
			idl := inv(dl)
			var err float32
			for _, v := range x {
				q := roundClamp((v+ml)*idl, 0, nmax)
				e := dl*float32(q) - ml - v
				err += e * e
			}
			if err < best {
				bestSc, bestM, best = sc, m, err
			}
		}
	}
	return bestSc, bestM
}

// affineSuper computes the per-sub-block ideal scale (range/nmax) and min
// (-min(0, lo)) and the fp16-rounded super-block scales that map their
// maxima onto smax.
func affineSuper(x []float32, sub, nmax, smax int, scales, mins []float32) (d, dmin float32) {
	var maxScale, maxMin float32
	for s := range scales {
		lo, hi := minMax(x[s*sub : s*sub+sub])
		lo = min(lo, 0)
		scales[s] = (hi - lo) / float32(nmax)
		mins[s] = -lo
		maxScale = max(maxScale, scales[s])
		maxMin = max(maxMin, mins[s])
	}
	d = F16ToF32(F32ToF16(maxScale / float32(smax)))
	dmin = F16ToF32(F32ToF16(maxMin / float32(smax)))
	return d, dmin
}

// quantAffine fills q (one quant per element) for an asymmetric sub-block.
func quantAffine(x []float32, q []uint8, nmax int, dl, ml float32) {
	idl := inv(dl)
	for l, v := range x {
		q[l] = uint8(roundClamp((v+ml)*idl, 0, nmax))
	}
}

func quantQ2K(x []float32, b []byte) {
	var scales, mins [16]float32
	var q [256]uint8
	d, dmin := affineSuper(x, 16, 3, 15, scales[:], mins[:])
	for s := 0; s < 16; s++ {
		xs := x[16*s : 16*s+16]
		sc, m := affineFit(xs, 3, 15, d, dmin, scales[s], mins[s])
		b[s] = byte(sc | m<<4)
		quantAffine(xs, q[16*s:16*s+16], 3, d*float32(sc), dmin*float32(m))
	}
	for e, v := range q {
		n, r := e/128, e%128
		b[16+32*n+r%32] |= v << (2 * (r / 32))
	}
	putHalf(b[80:], d)
	putHalf(b[82:], dmin)
}

// packScaleMinK4 is the inverse of scaleMinK4.
func packScaleMinK4(s []byte, j int, sc, m byte) {
	if j < 4 {
		s[j] |= sc & 63
		s[j+4] |= m & 63
		return
	}
	s[j+4] |= sc&0xf | (m&0xf)<<4
	s[j-4] |= (sc >> 4) << 6
	s[j] |= (m >> 4) << 6
}

func quantQ4K(x []float32, b []byte) {
	var scales, mins [8]float32
	var q [256]uint8
	d, dmin := affineSuper(x, 32, 15, 63, scales[:], mins[:])
	for s := 0; s < 8; s++ {
		xs := x[32*s : 32*s+32]
		sc, m := affineFit(xs, 15, 63, d, dmin, scales[s], mins[s])
		packScaleMinK4(b[4:16], s, byte(sc), byte(m))
		quantAffine(xs, q[32*s:32*s+32], 15, d*float32(sc), dmin*float32(m))
	}
	for c := 0; c < 4; c++ {
		for l := 0; l < 32; l++ {
			b[16+32*c+l] = q[64*c+l] | q[64*c+32+l]<<4
		}
	}
	putHalf(b, d)
	putHalf(b[2:], dmin)
}

func quantQ5K(x []float32, b []byte) {
	var scales, mins [8]float32
	var q [256]uint8
	d, dmin := affineSuper(x, 32, 31, 63, scales[:], mins[:])
	for s := 0; s < 8; s++ {
		xs := x[32*s : 32*s+32]
		sc, m := affineFit(xs, 31, 63, d, dmin, scales[s], mins[s])
		packScaleMinK4(b[4:16], s, byte(sc), byte(m))
		quantAffine(xs, q[32*s:32*s+32], 31, d*float32(sc), dmin*float32(m))
	}
	for c := 0; c < 4; c++ {
		for l := 0; l < 32; l++ {
			lo, hi := q[64*c+l], q[64*c+32+l]
			b[48+32*c+l] = lo&0xf | (hi&0xf)<<4
			b[16+l] |= (lo>>4)<<(2*c) | (hi>>4)<<(2*c+1)
		}
	}
	putHalf(b, d)
	putHalf(b[2:], dmin)
}

// symFit picks the signed sub-scale sc in [-smax-1, smax] for one sub-block
// of a symmetric K-quant (value = d*sc*q, q in [-qneg, qneg-1]) with the
// smallest squared error among a few integers around the ideal one, which
// maps the largest-magnitude element onto -qneg.
func symFit(x []float32, qneg, smax int, d float32) int {
	_, vmax := absMax(x)
	sc0 := roundClamp(vmax/-float32(qneg)*inv(d), -smax-1, smax)
	best, bestErr := sc0, float32(math.Inf(1))
	for sc := max(sc0-1, -smax-1); sc <= min(sc0+1, smax); sc++ {
		dl := d * float32(sc)
		idl := inv(dl)
		var err float32
		for _, v := range x {
			e := dl*float32(roundClamp(v*idl, -qneg, qneg-1)) - v
			err += e * e
		}
		if err < bestErr {
			best, bestErr = sc, err
		}
	}
	return best
}

// symSuper returns the fp16-rounded super-block scale mapping the largest
// ideal sub-block scale magnitude onto smax.
func symSuper(x []float32, sub, qneg, smax int) float32 {
	var m float32
	for s := 0; s < len(x)/sub; s++ {
		amax, _ := absMax(x[s*sub : s*sub+sub])
		m = max(m, amax/float32(qneg))
	}
	return F16ToF32(F32ToF16(m / float32(smax)))
}

func quantQ3K(x []float32, b []byte) {
	d := symSuper(x, 16, 4, 31)
	var q [256]int
	for s := 0; s < 16; s++ {
		xs := x[16*s : 16*s+16]
		sc := symFit(xs, 4, 31, d)
		u := byte(sc + 32)
		if s < 8 {
			b[96+s] |= u & 0xf
		} else {
			b[96+s-8] |= (u & 0xf) << 4
		}
		b[96+8+s%4] |= (u >> 4) << (2 * (s / 4))
		idl := inv(d * float32(sc))
		for l, v := range xs {
			q[16*s+l] = roundClamp(v*idl, -4, 3) + 4
		}
	}
	for e, v := range q {
		n, r := e/128, e%128
		j := r / 32
		b[32+32*n+r%32] |= byte(v&3) << (2 * j)
		if v >= 4 {
			b[r%32] |= 1 << (4*n + j)
		}
	}
	putHalf(b[108:], d)
}

func quantQ6K(x []float32, b []byte) {
	d := symSuper(x, 16, 32, 127)
	var q [256]int
	for s := 0; s < 16; s++ {
		xs := x[16*s : 16*s+16]
		sc := symFit(xs, 32, 127, d)
		b[192+s] = byte(int8(sc))
		idl := inv(d * float32(sc))
		for l, v := range xs {
			q[16*s+l] = roundClamp(v*idl, -32, 31) + 32
		}
	}
	for e, v := range q {
		n, r := e/128, e%128
		k, l := r/32, r%32
		ql := 64*n + l + 32*(k&1)
		b[ql] |= byte(v&0xf) << (4 * (k / 2))
		b[128+32*n+l] |= byte(v>>4) << (2 * k)
	}
	putHalf(b[208:], d)
}

// quantQ8K follows the rule llama.cpp applies to activations: the
// largest-magnitude element maps to -127 (clamped to 127 on the other side),
// d is the float32 reciprocal of the scale, and bsums hold the 16-element
// quant sums the K-quant dot products use.
func quantQ8K(x []float32, b []byte) {
	amax, vmax := absMax(x)
	if amax == 0 {
		return
	}
	iscale := -127 / vmax
	binary.LittleEndian.PutUint32(b, math.Float32bits(1/iscale))
	for g := 0; g < 16; g++ {
		sum := 0
		for l := 0; l < 16; l++ {
			q := min(127, int(math.RoundToEven(float64(iscale*x[16*g+l]))))
			b[4+16*g+l] = byte(int8(q))
			sum += q
		}
		binary.LittleEndian.PutUint16(b[260+2*g:], uint16(int16(sum)))
	}
}
