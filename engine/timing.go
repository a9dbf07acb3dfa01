package engine

import (
	"math"
	"time"
)

// stepTiming estimates what a step will cost from the steps run so far: a
// fixed part (every weight read once, the decoding sequences' attention),
// from steps without prompt tokens, and a cost per prompt token, from steps
// with enough of them to measure it. Both are moving averages, so they
// follow a shared machine's load and the contexts as they grow.
type stepTiming struct {
	fixed, perToken float64 // seconds; 0 until measured
}

const (
	// timingWeight is the newest step's weight in the averages.
	timingWeight = 0.25
	// timingMinPrompt is the fewest prompt tokens of a step that measures
	// their cost: with fewer the fixed part's noise swamps it.
	timingMinPrompt = 16
)

// observe records a step of prompt prompt tokens (and any decoding
// sequences) that took d.
func (t *stepTiming) observe(prompt int, d time.Duration) {
	sec := d.Seconds()
	switch {
	case prompt == 0:
		t.fixed = average(t.fixed, sec)
	case prompt >= timingMinPrompt:
		// Before the fixed part is known the whole step is charged to
		// the prompt, which errs towards shorter chunks; a step that ran
		// faster than the fixed estimate (the machine got quieter) still
		// charges the prompt a quarter of it.
		t.perToken = average(t.perToken, max(sec-t.fixed, sec/4)/float64(prompt))
	}
}

// promptBudget returns the prompt tokens a step with decoding sequences may
// carry to take about target: at least MinPromptChunk, and no bound until a
// prompt token's cost has been measured.
func (t *stepTiming) promptBudget(target time.Duration) int {
	if t.perToken == 0 {
		return math.MaxInt
	}
	n := (target.Seconds() - t.fixed) / t.perToken
	return int(max(MinPromptChunk, min(n, math.MaxInt32)))
}

func average(old, v float64) float64 {
	if old == 0 {
		return v
	}
	return old + timingWeight*(v-old)
}
