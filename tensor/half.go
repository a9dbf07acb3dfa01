package tensor

import "math"

// F16ToF32 widens an IEEE 754 binary16 value. Every half is exactly
// representable as a float32, so this never rounds; NaN payloads are kept.
//
// It is small enough to be inlined into decoding loops: the half's
// exponent and mantissa bits, shifted into float32 position, read as a
// float32 equal to the half's magnitude times 2^-112 (normals and
// subnormals alike), so one exact multiplication by 2^112 finishes the job;
// only inf/NaN need their exponent forced to 255.
func F16ToF32(h uint16) float32 {
	u := uint32(h)
	o := (u & 0x7fff) << 13
	if u&0x7c00 == 0x7c00 {
		return math.Float32frombits(o | 0x7f800000 | (u&0x8000)<<16)
	}
	f := math.Float32frombits(o) * 0x1p112
	return math.Float32frombits(math.Float32bits(f) | (u&0x8000)<<16)
}

// F32ToF16 narrows f to binary16 with round-to-nearest-even, producing
// subnormals, ±inf on overflow and a quiet NaN (payload top bits kept) for
// NaN, the way F16C hardware and ggml's fallback converter do.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(mant>>13)
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Result is a half subnormal (or rounds up to the smallest normal,
		// which the carry into bit 10 encodes correctly).
		if e < -10 {
			return sign // below half the smallest subnormal: rounds to zero
		}
		mant |= 0x800000
		shift := uint32(14 - e)
		h := mant >> shift
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry out of the mantissa bumps the exponent, up to inf
	}
	return sign | uint16(h)
}

// BF16ToF32 widens a bfloat16, which is exactly the top half of a float32.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 narrows f to bfloat16 with round-to-nearest-even, keeping
// subnormals and turning NaN into a quiet NaN (rounding could otherwise carry
// a NaN payload into an infinity).
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}
