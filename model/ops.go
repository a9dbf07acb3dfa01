package model

import (
	"math"
)

// rmsNorm writes x / rms(x) * w to dst (which may alias x). The sum of
// squares is accumulated in float64, as ggml does, so long rows lose nothing.
func rmsNorm(dst, x, w []float32, eps float32) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	scale := float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
	for i, v := range x {
		dst[i] = v * scale * w[i]
	}
}

// ropeFreqs returns, per rotated pair i, the angle advanced per position:
// scale * base^(-2i/dims) / factors[i]. factors (rope_freqs.weight, Llama 3
// style scaling) may be nil.
func ropeFreqs(dims int, base, scale float64, factors []float32) []float64 {
	f := make([]float64, dims/2)
	for i := range f {
		f[i] = scale * math.Pow(base, -2*float64(i)/float64(dims))
		if factors != nil {
			f[i] /= float64(factors[i])
		}
	}
	return f
}

// rope rotates the first 2*len(freqs) dimensions of each head of x (heads
// consecutive rows of headDim) by the angles of position pos. Interleaved mode
// rotates pairs (2i, 2i+1); neox mode rotates (i, i+half).
func rope(x []float32, heads, headDim int, freqs []float64, pos int, neox bool, cs []float32) {
	half := len(freqs)
	cos, sin := cs[:half], cs[half:2*half]
	for i, f := range freqs {
		s, c := math.Sincos(float64(pos) * f)
		cos[i], sin[i] = float32(c), float32(s)
	}
	for h := 0; h < heads; h++ {
		v := x[h*headDim : (h+1)*headDim]
		if neox {
			for i := 0; i < half; i++ {
				a, b := v[i], v[i+half]
				v[i] = a*cos[i] - b*sin[i]
				v[i+half] = a*sin[i] + b*cos[i]
			}
		} else {
			for i := 0; i < half; i++ {
				a, b := v[2*i], v[2*i+1]
				v[2*i] = a*cos[i] - b*sin[i]
				v[2*i+1] = a*sin[i] + b*cos[i]
			}
		}
	}
}

// geluTanh is the tanh approximation of GELU, evaluated exactly (no lookup
// table) in float64.
func geluTanh(x float32) float32 {
	const c = 0.7978845608028654 // sqrt(2/pi)
	v := float64(x)
	return float32(0.5 * v * (1 + math.Tanh(c*(v+0.044715*v*v*v))))
}

// silu is x·sigmoid(x). It runs once per feed-forward element per token, as
// often as a small matrix product has multiply-adds per weight row, so its
// exponential is float32 (expf) rather than math.Exp's float64.
func silu(x float32) float32 {
	return x / (1 + expf(-x))
}

// expf is e^x in float32 with Cephes' expf polynomial: range reduction by
// ln 2 split in two constants, a degree-6 polynomial on [-ln2/2, ln2/2],
// then the power of two put into the exponent. Relative error about 1 ulp;
// overflow gives +Inf, underflow 0 (no subnormal results).
func expf(x float32) float32 {
	switch {
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -87.33654:
		return 0
	case x != x:
		return x
	}
	n := float32(math.Floor(float64(x*1.44269504088896341 + 0.5)))
	r := x - n*0.693359375 - n*-2.12194440e-4
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*r*r + r + 1
	// 2^n in two halves: n reaches 128 just below the overflow bound.
	h := int32(n) / 2
	return p * math.Float32frombits(uint32(h+127)<<23) * math.Float32frombits(uint32(int32(n)-h+127)<<23)
}
