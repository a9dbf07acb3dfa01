package sample

import (
	"math"
	"slices"

	"github.com/kiln-llm/kiln/tensor"
)

// IDLogprob is one token with its log-probability.
type IDLogprob struct {
	ID      int
	Logprob float32
}

// logSoftmax holds what log-softmax needs of a row: log p_i = l_i - max - logZ.
// When some logits are +Inf the distribution is uniform over them (the limit
// of the softmax), which posInf records.
type logSoftmax struct {
	max    float64
	logZ   float64
	posInf int  // count of +Inf logits; 0 in the ordinary case
	nan    bool // some logit is NaN
}

// newLogSoftmax reduces a row: the maximum is subtracted before
// exponentiating so nothing overflows, the terms are float32 exponentials
// (1-2 ulp) eight at a time, and their sum is float64 so 262k small terms do
// not lose the tail. NaN logits count as -Inf.
func newLogSoftmax(logits []float32) logSoftmax {
	// The maximum in float32 is exact; NaN never compares greater. The
	// vector maximum is NaN when a logit is: then a scan skips them.
	m32 := tensor.Max(logits)
	nan := math.IsNaN(float64(m32))
	if nan {
		m32 = float32(math.Inf(-1))
		for _, v := range logits {
			if v > m32 {
				m32 = v
			}
		}
	}
	m := float64(m32)
	if math.IsInf(m, 1) {
		posInf := 0
		for _, v := range logits {
			if math.IsInf(float64(v), 1) {
				posInf++
			}
		}
		return logSoftmax{max: m, posInf: posInf, nan: nan}
	}
	if math.IsInf(m, -1) {
		return logSoftmax{max: m, nan: nan}
	}
	return logSoftmax{max: m, logZ: math.Log(tensor.ExpSum(logits, m32)), nan: nan}
}

func (ls logSoftmax) of(v float32) float32 {
	f := float64(v)
	switch {
	case math.IsNaN(f) || math.IsInf(f, -1):
		return float32(math.Inf(-1))
	case ls.posInf > 0:
		if math.IsInf(f, 1) {
			return float32(-math.Log(float64(ls.posInf)))
		}
		return float32(math.Inf(-1))
	}
	return float32(f - ls.max - ls.logZ)
}

// Logprob returns the log-probability of token id under the log-softmax of
// the raw logits: the model's own distribution, before temperature,
// penalties, bias or constraints, which is what the reference outputs (and
// llama.cpp and vLLM by default) report. An id outside the row has
// probability zero and gets -Inf.
func Logprob(logits []float32, id int) float32 {
	if id < 0 || id >= len(logits) {
		return float32(math.Inf(-1))
	}
	return newLogSoftmax(logits).of(logits[id])
}

// Logprobs is Logprob and TopLogprobs together: the row is reduced once for
// both, which halves the per-token cost of a request asking for logprobs.
func Logprobs(logits []float32, id, top int) (float32, []IDLogprob) {
	ls := newLogSoftmax(logits)
	lp := float32(math.Inf(-1))
	if id >= 0 && id < len(logits) {
		lp = ls.of(logits[id])
	}
	return lp, topLogprobs(logits, top, ls)
}

// TopLogprobs returns the n most probable tokens of the raw logits (see
// Logprob), most probable first and the lower id first on ties, so the list
// is deterministic. n larger than the row gives the whole row; n <= 0 gives
// nil. It selects with a size-n heap rather than sorting the vocabulary.
func TopLogprobs(logits []float32, n int) []IDLogprob {
	if min(n, len(logits)) <= 0 {
		return nil
	}
	return topLogprobs(logits, n, newLogSoftmax(logits))
}

func topLogprobs(logits []float32, n int, ls logSoftmax) []IDLogprob {
	n = min(n, len(logits))
	if n <= 0 {
		return nil
	}
	// The best one alone (a request's logprobs: 1) is the first position of
	// the row's maximum, found by a vector search, when no NaN is in the way.
	if n == 1 && !ls.nan {
		m := float32(ls.max)
		return []IDLogprob{{ID: tensor.Index(logits, m), Logprob: ls.of(m)}}
	}
	// h is a min-heap under "ranks before": h[0] is the weakest of the best n so far.
	h := make([]int, 0, n)
	for i := range logits {
		if len(h) < n {
			h = append(h, i)
			siftUp(h, logits, len(h)-1)
			continue
		}
		// Most tokens lose to the weakest kept one on the logit alone.
		if root := logits[h[0]]; logits[i] < root {
			continue
		}
		if ranksBefore(logits, i, h[0]) {
			h[0] = i
			siftDown(h, logits, 0)
		}
	}
	slices.SortFunc(h, func(a, b int) int {
		if ranksBefore(logits, a, b) {
			return -1
		}
		return 1
	})
	out := make([]IDLogprob, len(h))
	for k, id := range h {
		out[k] = IDLogprob{ID: id, Logprob: ls.of(logits[id])}
	}
	return out
}

// ranksBefore orders tokens by logit, higher first, then by lower id; NaN
// ranks like -Inf.
func ranksBefore(logits []float32, a, b int) bool {
	va, vb := float64(logits[a]), float64(logits[b])
	if math.IsNaN(va) {
		va = math.Inf(-1)
	}
	if math.IsNaN(vb) {
		vb = math.Inf(-1)
	}
	if va != vb {
		return va > vb
	}
	return a < b
}

func siftUp(h []int, logits []float32, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !ranksBefore(logits, h[p], h[i]) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func siftDown(h []int, logits []float32, i int) {
	for {
		w := i
		if l := 2*i + 1; l < len(h) && ranksBefore(logits, h[w], h[l]) {
			w = l
		}
		if r := 2*i + 2; r < len(h) && ranksBefore(logits, h[w], h[r]) {
			w = r
		}
		if w == i {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}
