//go:build !amd64 || purego

package tensor

func expScores(s []float32, scale, m float32) float32 { return expScoresGo(s, scale, m) }

func siluMul(g, u []float32) { siluMulGo(g, u) }

func expSum(x []float32, m float32) float64 { return expSumGo(x, m) }

func maxScaled(s []float32, scale float32) float32 { return maxScaledGo(s, scale) }

func expWeights(x []float32, m, scale, cutoff float32) float64 {
	return expWeightsGo(x, m, scale, cutoff)
}

func index(s []float32, v float32) int { return indexGo(s, v) }

func buckets(dst []uint16, x []float32, m, scale, width, bar float64) {
	bucketsGo(dst, x, m, scale, width, bar)
}

func atMost(dst []int32, x []uint16, v uint16) int { return atMostGo(dst, x, v, 0) }
