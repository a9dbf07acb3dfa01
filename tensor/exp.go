package tensor

import "math"

// Exponentials run once per attention score, per feed-forward element and
// per vocabulary entry when logprobs are asked for: as often as a small
// matrix product has multiply-adds per row. So they are float32, with
// Cephes' expf polynomial, eight lanes at a time where the CPU allows.

// Expf is e^x in float32 with Cephes' expf polynomial: range reduction by
// ln 2 split in two constants, a degree-6 polynomial on [-ln2/2, ln2/2],
// then the power of two put into the exponent. Relative error about 1 ulp;
// overflow gives +Inf, underflow 0 (no subnormal results).
func Expf(x float32) float32 {
	switch {
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -87.33654:
		return 0
	case x != x:
		return x
	}
	n := float32(math.Floor(float64(x*expLog2e + 0.5)))
	r := x - n*expC1 - n*expC2
	p := ((((expP0*r+expP1)*r+expP2)*r+expP3)*r+expP4)*r + expP5
	p = p*r*r + r + 1
	// 2^n in two halves: n reaches 128 just below the overflow bound.
	h := int32(n) / 2
	return p * math.Float32frombits(uint32(h+127)<<23) * math.Float32frombits(uint32(int32(n)-h+127)<<23)
}

// Cephes expf constants (the assembly holds the same values as bit patterns).
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
	// expLo is where ExpScores clamps its arguments: e^expLo is about
	// 1e-38, nothing next to the maximum's 1.
	expLo = -87.3
)

// ExpScores turns a row of raw scores into unnormalized softmax weights in
// place, s[j] = exp(scale*s[j] - m) with m the largest scaled score, and
// returns their sum (float32, in eight lanes) and m: attention divides the
// weighted sum of values by the sum once instead of dividing every weight,
// and rescales by m when it folds one run of positions into the next.
// An empty row has sum 0 and m = -Inf.
func ExpScores(s []float32, scale float32) (sum, m float32) {
	if len(s) == 0 {
		return 0, float32(math.Inf(-1))
	}
	m = maxScaled(s, scale)
	return expScores(s, scale, m), m
}

// Max returns the largest element of s: -Inf when s is empty and NaN when
// any element is NaN, as Go's max. Samplers take the largest logit of a
// 150k vocabulary on every token, which a compare per element in Go made as
// costly as the model's smallest matrix product.
func Max(s []float32) float32 { return maxScaled(s, 1) }

// Index returns the first j with s[j] == v, or -1: with Max, the first
// position of a row's largest logit (greedy decoding) in two vector passes
// where a compare per element in Go took three times as long as both.
func Index(s []float32, v float32) int { return index(s, v) }

func indexGo(s []float32, v float32) int {
	for j, x := range s {
		if x == v {
			return j
		}
	}
	return -1
}

// maxScaledGo is the largest scale*s[j] (-Inf for none; NaN if any is NaN).
func maxScaledGo(s []float32, scale float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range s {
		m = max(m, v*scale)
	}
	return m
}

// ExpSum returns the sum of exp(x[j] - m) for m >= every x[j] (the log-sum-
// exp of a row of logits less its maximum). The terms are float32 and their
// sum float64, so a 262k vocabulary of like terms loses nothing to the
// running total. NaN and -Inf terms count as 0.
func ExpSum(x []float32, m float32) float64 { return expSum(x, m) }

// SiLUMul sets g[j] = silu(g[j]) * u[j], silu(x) = x/(1+e^-x): the gated
// activation of SwiGLU feed-forward layers. Arguments beyond float32's exp
// range saturate (silu(-100) is about -4e-37, silu(100) is 100).
func SiLUMul(g, u []float32) {
	u = u[:len(g)]
	siluMul(g, u)
}

func expScoresGo(s []float32, scale, m float32) float32 {
	var sum [8]float32
	for j, v := range s {
		x := v*scale - m
		if !(x >= expLo) { // and NaN, as the assembly's clamp does
			x = expLo
		}
		e := Expf(x)
		s[j] = e
		sum[j&7] += e
	}
	return ((sum[0] + sum[4]) + (sum[1] + sum[5])) + ((sum[2] + sum[6]) + (sum[3] + sum[7]))
}

// ExpWeights turns a row of logits into unnormalized sampling weights in
// place, x[j] = exp((x[j]-m)*scale) with m >= every x[j] and scale = 1/T,
// and returns their sum. Arguments below -cutoff, NaN and -Inf logits weigh
// exactly 0, so a masked token can never be drawn. The terms are float32
// (relative error about 1e-7, far below anything a draw can tell apart) and
// their sum float64, as in ExpSum. The difference is taken before the
// scaling: at a temperature of 1e-5 the scaled logits themselves would be
// too large for float32 to tell neighbours apart.
func ExpWeights(x []float32, m, scale, cutoff float32) float64 {
	return expWeights(x, m, scale, cutoff)
}

func expWeightsGo(x []float32, m, scale, cutoff float32) float64 {
	var z float64
	for j, v := range x {
		d := (v - m) * scale
		if !(d >= -cutoff) {
			x[j] = 0
			continue
		}
		e := Expf(max(d, expLo))
		x[j] = e
		z += float64(e)
	}
	return z
}

func expSumGo(x []float32, m float32) float64 {
	var z float64
	for _, v := range x {
		d := v - m
		if !(d >= expLo) {
			d = expLo
		}
		z += float64(Expf(d))
	}
	return z
}

func siluMulGo(g, u []float32) {
	for j, x := range g {
		g[j] = x / (1 + Expf(-x)) * u[j]
	}
}

// NoBucket is the bucket Buckets gives an element above its bar.
const NoBucket = math.MaxUint16

// Buckets sets dst[j] to the bucket of x[j] by its distance below m: with
// d = (m-x[j])*scale in float64, int(d*width), or NoBucket where d is above
// bar or NaN. Samplers bucket a whole vocabulary by distance from the best
// logit on every token to find their top_k, top_p and min_p cuts without
// sorting it; a float64 conversion, compare and truncation per element in
// Go took about 140 us at 152k tokens, this kernel a fifth. bar*width must
// be below NoBucket and m at least every element. The operations are those
// of the Go expression, in its order, so every kernel gives the same
// buckets.
func Buckets(dst []uint16, x []float32, m, scale, width, bar float64) {
	buckets(dst[:len(x)], x, m, scale, width, bar)
}

func bucketsGo(dst []uint16, x []float32, m, scale, width, bar float64) {
	for j, v := range x {
		d := (m - float64(v)) * scale
		b := NoBucket
		if d <= bar {
			b = int(d * width)
		}
		dst[j] = uint16(b)
	}
}

// AtMost writes the indices j of x with x[j] <= v to dst in increasing
// order, up to len(dst) of them, and returns how many it wrote. A sampler
// gathers the few tokens of its best buckets from a whole vocabulary of
// Buckets with it: a compare and branch per element in Go took about 120 us
// at 152k tokens, longer than bucketing the row.
func AtMost(dst []int32, x []uint16, v uint16) int { return atMost(dst, x, v) }

// atMostGo is AtMost with the indices offset by base.
func atMostGo(dst []int32, x []uint16, v uint16, base int) int {
	k := 0
	for j, b := range x {
		if b <= v {
			if k == len(dst) {
				break
			}
			dst[k] = int32(base + j)
			k++
		}
	}
	return k
}
