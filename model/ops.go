package model

import (
	"math"
)

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

// ropeAngles writes to cs the cosines and then the sines of position pos's
// angles, one per rotated pair: what tensor.Rope applies to a row's
// queries and keys alike.
func ropeAngles(cs []float32, freqs []float64, pos int) {
	half := len(freqs)
	cos, sin := cs[:half], cs[half:2*half]
	for i, f := range freqs {
		s, c := math.Sincos(float64(pos) * f)
		cos[i], sin[i] = float32(c), float32(s)
	}
}

// geluTanh is the tanh approximation of GELU, evaluated exactly (no lookup
// table) in float64.
func geluTanh(x float32) float32 {
	const c = 0.7978845608028654 // sqrt(2/pi)
	v := float64(x)
	return float32(0.5 * v * (1 + math.Tanh(c*(v+0.044715*v*v*v))))
}
