package attention

import (
	"math"
)

// ExpScores turns a row of raw q.k scores into unnormalized attention
// weights in place, s[j] = exp(scale*s[j] - m) with m the largest scaled
// score, and returns their sum: the caller divides the weighted sum of
// values by it once instead of dividing every weight. The exponential is a
// float32 polynomial (Cephes' expf: 1-2 ulp relative error) so that it
// vectorizes; the sum is float32 in eight lanes.
func ExpScores(s []float32, scale float32) float32 {
	if len(s) == 0 {
		return 0
	}
	m := float32(math.Inf(-1))
	for _, v := range s {
		m = max(m, v*scale)
	}
	return active.expScores(s, scale, m)
}

// Cephes expf constants: exp(x) = 2^k * exp(r), k = round(x*log2(e)),
// r = x - k*ln2 (ln2 split in two for precision), exp(r) by a degree-7
// polynomial written as 1 + r + r^2*P(r).
const (
	expLog2e = 1.44269504088896341
	expC1    = 0.693359375
	expC2    = -2.12194440e-4
	expP0    = 1.9875691500e-4
	expP1    = 1.3981999507e-3
	expP2    = 8.3334519073e-3
	expP3    = 4.1665795894e-2
	expP4    = 1.6666665459e-1
	expP5    = 5.0000001201e-1
	// Arguments are clamped to this range: below, exp underflows to
	// ~1e-38 (weight 0 next to the maximum's 1); above cannot happen for
	// shifted scores, whose maximum is 0.
	expLo = -87.3
	expHi = 88.3
)

// expf is the scalar form of the vector exponential (same steps, so the
// assembly's tail and the portable path agree with it to rounding).
func expf(x float32) float32 {
	x = min(max(x, expLo), expHi)
	k := float32(math.Floor(float64(x*expLog2e + 0.5)))
	r := x - k*expC1
	r -= k * expC2
	p := float32(expP0)
	p = p*r + expP1
	p = p*r + expP2
	p = p*r + expP3
	p = p*r + expP4
	p = p*r + expP5
	y := p*r*r + r + 1
	return y * math.Float32frombits(uint32(int32(k)+127)<<23)
}

func expScoresGo(s []float32, scale, m float32) float32 {
	var sum [8]float32
	for j, v := range s {
		e := expf(v*scale - m)
		s[j] = e
		sum[j&7] += e
	}
	return ((sum[0] + sum[4]) + (sum[1] + sum[5])) + ((sum[2] + sum[6]) + (sum[3] + sum[7]))
}
