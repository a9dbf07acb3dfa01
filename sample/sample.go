// Package sample picks the next token from a row of logits: greedy decoding,
// the OpenAI sampling parameters (temperature, top_p, penalties, logit_bias)
// with the common extensions top_k, min_p and repetition_penalty, and the
// log-probabilities reported to clients.
//
// Greedy decoding is the reference behaviour every numerical test relies on, so
// its tie rule (lowest id wins) matches the reference outputs exactly.
package sample

import "math"

// Greedy returns the index of the largest logit, the lowest index on ties.
// NaN logits never win. It returns -1 for an empty row.
func Greedy(logits []float32) int {
	best := -1
	bestV := float32(math.Inf(-1))
	for i, v := range logits {
		if v > bestV || (best < 0 && !math.IsNaN(float64(v))) {
			best, bestV = i, v
		}
	}
	return best
}
