// Package sample picks the next token from a row of logits.
//
// Greedy decoding is the reference behaviour every numerical test relies on, so
// its tie rule (lowest id wins) matches the reference outputs exactly.
package sample

import (
	"math"
	"math/rand/v2"
)

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

// Sampler draws tokens with temperature from a seeded source, so the same seed
// gives the same tokens. Temperature 0 is greedy.
type Sampler struct {
	Temperature float64
	rng         *rand.Rand
	probs       []float64
}

// NewSampler returns a sampler with its own deterministic random stream.
func NewSampler(temperature float64, seed uint64) *Sampler {
	return &Sampler{Temperature: temperature, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Sample returns the next token id for logits.
func (s *Sampler) Sample(logits []float32) int {
	if s.Temperature <= 0 || len(logits) == 0 {
		return Greedy(logits)
	}
	top := Greedy(logits)
	if top < 0 {
		return top
	}
	maxV := float64(logits[top])
	if cap(s.probs) < len(logits) {
		s.probs = make([]float64, len(logits))
	}
	p := s.probs[:len(logits)]
	var sum float64
	for i, v := range logits {
		e := math.Exp((float64(v) - maxV) / s.Temperature)
		if math.IsNaN(e) {
			e = 0
		}
		p[i] = e
		sum += e
	}
	r := s.rng.Float64() * sum
	for i, e := range p {
		r -= e
		if r < 0 && e > 0 {
			return i
		}
	}
	return top
}
