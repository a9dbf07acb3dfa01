package sample

import "math"

// Sampling and log-softmax need e^x for every token of vocabularies up to
// 262k entries on each step; math.Exp costs ~30 ns here, which alone would
// take several milliseconds per token. expNeg trades generality (x <= 0 only)
// for a table-driven evaluation that is still accurate to a few ulp, so the
// distributions stay exact to float64 precision.

const (
	expTableBits = 6
	expTableSize = 1 << expTableBits
	// expMin is where e^x drops below the smallest normal float64; weights
	// that small are zero for every purpose here (they are relative to 1).
	expMin = -700.0
	// ln2Hi + ln2Lo = ln 2; ln2Hi has 32 significant bits, so k*ln2Hi/64 is
	// exact for the |k| < 2^17 that x >= expMin produces.
	ln2Hi = 6.93147180369123816490e-01
	ln2Lo = 1.90821492927058770002e-10
	// roundShift makes x+roundShift round x to an integer in the low bits.
	roundShift = 0x1.8p52
)

// exp2Table holds 2^(j/64), j = 0..63; it is filled once and never written again.
var exp2Table = func() (t [expTableSize]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / expTableSize)
	}
	return t
}()

// expNeg returns e^x for x <= 0 (relative error below 1e-15), and 0 for
// x < expMin or NaN.
func expNeg(x float64) float64 {
	if !(x >= expMin) {
		return 0
	}
	// x = k*ln2/64 + r with |r| <= ln2/128; e^x = 2^(k>>6) * 2^((k&63)/64) * e^r.
	kd := x*(expTableSize/math.Ln2) + roundShift
	k := int64(math.Float64bits(kd)) - int64(math.Float64bits(roundShift))
	kd -= roundShift
	r := x - kd*(ln2Hi/expTableSize) - kd*(ln2Lo/expTableSize)
	scale := math.Float64frombits(math.Float64bits(exp2Table[k&(expTableSize-1)]) + uint64(k>>expTableBits)<<52)
	// Taylor to r^5: the remainder r^6/720 < 4e-17 for |r| <= 0.0055.
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120)))))
	return scale * p
}
