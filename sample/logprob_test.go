package sample

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/internal/testmodels"
)

// refLogSoftmax is the textbook float64 log-softmax with math.Exp.
func refLogSoftmax(logits []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range logits {
		m = max(m, float64(v))
	}
	var z float64
	for _, v := range logits {
		z += math.Exp(float64(v) - m)
	}
	out := make([]float64, len(logits))
	for i, v := range logits {
		out[i] = float64(v) - m - math.Log(z)
	}
	return out
}

// TestLogprobRandom compares Logprob and TopLogprobs with the float64
// reference on random rows of several sizes and spreads (tolerance 1e-6), and
// checks the top list is the reference's sorted order with ties by id. The
// results are float32, so below -16 the tolerance widens to one float32
// rounding (1.2e-7 relative).
func TestLogprobRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	tests := []struct {
		vocab int
		scale float64
		quant float64
	}{
		{1, 1, 0}, {2, 5, 0}, {512, 2, 0}, {32000, 3, 0}, {151936, 4, 0}, {262144, 1, 0}, {1000, 2, 0.5}, {5000, 40, 0},
	}
	var worst float64
	for _, tt := range tests {
		logits := make([]float32, tt.vocab)
		for i := range logits {
			x := r.NormFloat64() * tt.scale
			if tt.quant > 0 {
				x = math.Round(x/tt.quant) * tt.quant
			}
			logits[i] = float32(x)
		}
		want := refLogSoftmax(logits)
		for range 10 {
			id := r.IntN(tt.vocab)
			d := math.Abs(float64(Logprob(logits, id)) - want[id])
			if want[id] > -16 {
				worst = max(worst, d)
			}
			if d > logprobTol(want[id]) {
				t.Errorf("vocab %d: Logprob(%d) off by %.3g", tt.vocab, id, d)
			}
		}
		// order: the expected ranking (higher logprob first, lower id on ties)
		// of the first min(vocab, 20) tokens, or of all of a small row.
		taken := make([]bool, tt.vocab)
		var order []int
		for len(order) < tt.vocab && (len(order) < 20 || tt.vocab <= 5000) {
			best := -1
			for i, ok := range taken {
				if !ok && (best < 0 || want[i] > want[best]) {
					best = i
				}
			}
			taken[best] = true
			order = append(order, best)
		}
		ns := []int{1, 5, 20}
		if tt.vocab <= 5000 {
			ns = append(ns, tt.vocab+3) // the whole row, sorted
		}
		for _, n := range ns {
			got := TopLogprobs(logits, n)
			if len(got) != min(n, tt.vocab) {
				t.Fatalf("vocab %d: TopLogprobs(%d) has %d entries", tt.vocab, n, len(got))
			}
			for k, e := range got {
				if e.ID != order[k] {
					t.Fatalf("vocab %d n %d: entry %d is token %d, want %d", tt.vocab, n, k, e.ID, order[k])
				}
				d := math.Abs(float64(e.Logprob) - want[e.ID])
				if want[e.ID] > -16 {
					worst = max(worst, d)
				}
				if d > logprobTol(want[e.ID]) {
					t.Errorf("vocab %d: TopLogprobs entry %d off by %.3g", tt.vocab, k, d)
				}
			}
		}
	}
	t.Logf("max abs error %.3g where logprob > -16 (float32 spacing there <= 1.9e-6)", worst)
}

func logprobTol(want float64) float64 { return max(1e-6, 1.2e-7*math.Abs(want)) }

func TestLogprobEdges(t *testing.T) {
	nan := float32(math.NaN())
	pinf := float32(math.Inf(1))
	ln2 := float32(-math.Ln2)
	tests := []struct {
		name   string
		logits []float32
		top    []IDLogprob // TopLogprobs(logits, 3)
	}{
		{"ties by id", []float32{1, 2, 2, 1}, []IDLogprob{{1, Logprob([]float32{1, 2, 2, 1}, 1)}, {2, Logprob([]float32{1, 2, 2, 1}, 1)}, {0, Logprob([]float32{1, 2, 2, 1}, 0)}}},
		{"nan is impossible", []float32{nan, 0, nan, 0}, []IDLogprob{{1, ln2}, {3, ln2}, {0, ninf}}},
		{"-inf is impossible", []float32{ninf, 0}, []IDLogprob{{1, 0}, {0, ninf}}},
		{"+inf shares", []float32{pinf, 5, pinf}, []IDLogprob{{0, ln2}, {2, ln2}, {1, ninf}}},
		{"all impossible", []float32{ninf, ninf}, []IDLogprob{{0, ninf}, {1, ninf}}},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TopLogprobs(tt.logits, 3); !slices.Equal(got, tt.top) {
				t.Errorf("TopLogprobs = %v, want %v", got, tt.top)
			}
			// The best one alone takes the vector path where no NaN is in
			// the row.
			if got, want := TopLogprobs(tt.logits, 1), tt.top[:min(1, len(tt.top))]; !slices.Equal(got, want) {
				t.Errorf("TopLogprobs(1) = %v, want %v", got, want)
			}
		})
	}
	if got := TopLogprobs([]float32{1, 2}, 0); got != nil {
		t.Errorf("TopLogprobs(n=0) = %v, want nil", got)
	}
	for _, id := range []int{-1, 2} {
		if got := Logprob([]float32{1, 2}, id); !math.IsInf(float64(got), -1) {
			t.Errorf("Logprob(id %d) = %v, want -Inf", id, got)
		}
	}
	if got := Logprob([]float32{3, 3}, 0); math.Abs(float64(got-ln2)) > 1e-7 {
		t.Errorf("Logprob of a fair coin = %v, want -ln 2", got)
	}
}

// TestLogprobReferenceRows rebuilds rows from llama.cpp's top-10
// log-probabilities (the model is not run here): the ten reference tokens get
// their logprob as logit and the remaining mass is spread evenly over the
// rest of the vocabulary, so the row is already normalised and log-softmax
// must return the reference numbers (within 1e-6) and TopLogprobs(10) the
// reference ids in the reference order.
func TestLogprobReferenceRows(t *testing.T) {
	const vocab = 512 // stories260K
	raw, err := os.ReadFile(testmodels.Reference(t, "logits", "stories260K.json"))
	if err != nil {
		t.Fatalf("reading reference: %v", err)
	}
	var ref struct {
		Cases []struct {
			Name        string `json:"name"`
			TopLogprobs [][]struct {
				ID      int     `json:"id"`
				Logprob float64 `json:"logprob"`
			} `json:"top_logprobs"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatalf("parsing reference: %v", err)
	}
	rows, worst := 0, 0.0
	for _, c := range ref.Cases {
		for step, top := range c.TopLogprobs {
			var mass float64
			logits := make([]float32, vocab)
			isTop := make([]bool, vocab)
			for _, e := range top {
				mass += math.Exp(e.Logprob)
				isTop[e.ID] = true
			}
			rest := math.Log((1 - mass) / float64(vocab-len(top)))
			if rest >= top[len(top)-1].Logprob {
				continue // the spread tail would outrank the tenth entry
			}
			for i := range logits {
				logits[i] = float32(rest)
			}
			for _, e := range top {
				logits[e.ID] = float32(e.Logprob)
			}
			got := TopLogprobs(logits, len(top))
			for k, e := range top {
				if got[k].ID != e.ID {
					t.Fatalf("%s step %d: entry %d is token %d, want %d", c.Name, step, k, got[k].ID, e.ID)
				}
				d := math.Abs(float64(got[k].Logprob) - e.Logprob)
				d2 := math.Abs(float64(Logprob(logits, e.ID)) - e.Logprob)
				worst = max(worst, d, d2)
				if d > 1e-6 || d2 > 1e-6 {
					t.Errorf("%s step %d: token %d logprob %v / %v, want %v", c.Name, step, e.ID, got[k].Logprob, Logprob(logits, e.ID), e.Logprob)
				}
			}
			rows++
		}
	}
	if rows < 50 {
		t.Fatalf("only %d usable reference rows", rows)
	}
	t.Logf("%d reference rows, max abs error %.3g", rows, worst)
}

// TestLogprobsTogether holds Logprobs, which reduces a row once for both
// answers, to Logprob and TopLogprobs bit for bit, on rows with ordinary,
// +Inf and NaN logits, ids outside the row, and top counts of 0 to beyond
// the row.
func TestLogprobsTogether(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	rows := [][]float32{
		llmLogits(4099, 5),
		{1, 2, inf, 3, inf},
		{nan, 0.5, -1, nan, 2},
	}
	for ri, row := range rows {
		for _, id := range []int{0, 1, len(row) - 1, -1, len(row)} {
			for _, top := range []int{0, 1, 3, 20, len(row) + 2} {
				lp, alts := Logprobs(row, id, top)
				want := Logprob(row, id)
				if math.Float32bits(lp) != math.Float32bits(want) {
					t.Errorf("row %d id %d top %d: logprob %v, Logprob gives %v", ri, id, top, lp, want)
				}
				wantAlts := TopLogprobs(row, top)
				if len(alts) != len(wantAlts) {
					t.Fatalf("row %d top %d: %d alternatives, TopLogprobs gives %d", ri, top, len(alts), len(wantAlts))
				}
				for k := range alts {
					if alts[k].ID != wantAlts[k].ID || math.Float32bits(alts[k].Logprob) != math.Float32bits(wantAlts[k].Logprob) {
						t.Errorf("row %d top %d entry %d: %+v, TopLogprobs gives %+v", ri, top, k, alts[k], wantAlts[k])
					}
				}
			}
		}
	}
}
