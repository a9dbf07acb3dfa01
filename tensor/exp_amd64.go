//go:build amd64 && !purego

package tensor

import "unsafe"

// n must be a positive multiple of 8 (exp_amd64.s).
//
//go:noescape
func expScoresAVX2(s *float32, n int, scale, m float32) float32

//go:noescape
func maxScaledAVX2(s *float32, n int, scale float32) float32

//go:noescape
func indexAVX2(s *float32, n int, v float32) int

//go:noescape
func expSumAVX2(x *float32, n int, m float32) float64

//go:noescape
func expWeightsAVX2(x *float32, n int, m, scale, cutoff float32) float64

//go:noescape
func siluMulAVX2(gate, up *float32, n int)

// vecExpAVX2 is fixed at start-up: the CPU does not change under us.
var vecExpAVX2 = avx2OK()

// expScores runs wholly in the vector kernel, the last few elements of a
// row under a mask: attention cuts rows into runs, and a scalar tail per
// run and head was 0.7% of a SmolLM2 prefill.
func expScores(s []float32, scale, m float32) float32 {
	if !vecExpAVX2 || len(s) == 0 {
		return expScoresGo(s, scale, m)
	}
	return expScoresAVX2(unsafe.SliceData(s), len(s), scale, m)
}

func maxScaled(s []float32, scale float32) float32 {
	n8 := len(s) &^ 7
	if !vecExpAVX2 || n8 == 0 {
		return maxScaledGo(s, scale)
	}
	return max(maxScaledAVX2(unsafe.SliceData(s), n8, scale), maxScaledGo(s[n8:], scale))
}

func index(s []float32, v float32) int {
	n8 := len(s) &^ 7
	if !vecExpAVX2 || n8 == 0 {
		return indexGo(s, v)
	}
	if j := indexAVX2(unsafe.SliceData(s), n8, v); j >= 0 {
		return j
	}
	if j := indexGo(s[n8:], v); j >= 0 {
		return n8 + j
	}
	return -1
}

// siluMul runs the last few elements through the vector kernel too, padded
// to eight: the model hands out a step's activations in slices that cut
// rows anywhere, so an element computed by a scalar tail in one batch and
// by the vector loop in another would make a sequence's results depend on
// the batch around it (see tensor's TestBatchInvariance).
func siluMul(g, u []float32) {
	if !vecExpAVX2 {
		siluMulGo(g, u)
		return
	}
	n8 := len(g) &^ 7
	if n8 > 0 {
		siluMulAVX2(unsafe.SliceData(g), unsafe.SliceData(u), n8)
	}
	if n8 < len(g) {
		var tg, tu [8]float32
		copy(tg[:], g[n8:])
		copy(tu[:], u[n8:len(g)])
		siluMulAVX2(&tg[0], &tu[0], 8)
		copy(g[n8:], tg[:])
	}
}

func expSum(x []float32, m float32) float64 {
	n8 := len(x) &^ 7
	if !vecExpAVX2 || n8 == 0 {
		return expSumGo(x, m)
	}
	return expSumAVX2(unsafe.SliceData(x), n8, m) + expSumGo(x[n8:], m)
}

func expWeights(x []float32, m, scale, cutoff float32) float64 {
	n8 := len(x) &^ 7
	if !vecExpAVX2 || n8 == 0 {
		return expWeightsGo(x, m, scale, cutoff)
	}
	return expWeightsAVX2(unsafe.SliceData(x), n8, m, scale, cutoff) + expWeightsGo(x[n8:], m, scale, cutoff)
}

//go:noescape
func bucketsAVX2(dst *uint16, x *float32, n int, m, scale, width, bar float64)

func buckets(dst []uint16, x []float32, m, scale, width, bar float64) {
	n8 := len(x) &^ 7
	if !vecExpAVX2 || n8 == 0 {
		bucketsGo(dst, x, m, scale, width, bar)
		return
	}
	bucketsAVX2(unsafe.SliceData(dst), unsafe.SliceData(x), n8, m, scale, width, bar)
	bucketsGo(dst[n8:], x[n8:], m, scale, width, bar)
}

// n must be a positive multiple of 16; room is dst's length.
//
//go:noescape
func atMostAVX2(dst *int32, room int, x *uint16, n int, v uint16) int

func atMost(dst []int32, x []uint16, v uint16) int {
	n16 := len(x) &^ 15
	if !vecExpAVX2 || n16 == 0 || len(dst) == 0 {
		return atMostGo(dst, x, v, 0)
	}
	k := atMostAVX2(unsafe.SliceData(dst), len(dst), unsafe.SliceData(x), n16, v)
	return k + atMostGo(dst[k:], x[n16:], v, n16)
}
