package sample

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var ninf = float32(math.Inf(-1))

// TestAdjust checks bias, penalties and mask change the logits exactly as
// documented. The values are exact in float32, so equality is required.
func TestAdjust(t *testing.T) {
	logits := []float32{2, -1, 0.5, 3, -2, 1}
	tests := []struct {
		name    string
		p       Params
		prompt  []int
		out     []int
		allowed []bool
		want    []float32
	}{
		{"nothing", Params{Temperature: 1}, []int{0, 1}, []int{2, 2}, nil, logits},
		{"bias", Params{LogitBias: map[int]float32{0: -100, 3: 0.5, 9: 7, -1: 4}}, nil, nil, nil,
			[]float32{-98, -1, 0.5, 3.5, -2, 1}},
		{"repetition prompt and output, once per token", Params{RepetitionPenalty: 2}, []int{0, 1, 1}, []int{2, 2, 4},
			nil, []float32{1, -2, 0.25, 3, -4, 1}},
		{"repetition after bias", Params{RepetitionPenalty: 2, LogitBias: map[int]float32{1: 3}}, []int{1}, nil,
			nil, []float32{2, 1, 0.5, 3, -2, 1}},
		{"presence counts output only", Params{PresencePenalty: 0.5}, []int{0, 1}, []int{2, 2, 5}, nil,
			[]float32{2, -1, 0, 3, -2, 0.5}},
		{"frequency counts occurrences", Params{FrequencyPenalty: 0.25}, []int{3}, []int{2, 2, 5, 2}, nil,
			[]float32{2, -1, -0.25, 3, -2, 0.75}},
		{"presence and frequency together", Params{PresencePenalty: 1, FrequencyPenalty: 0.5}, nil, []int{3, 3}, nil,
			[]float32{2, -1, 0.5, 1, -2, 1}},
		{"negative penalties raise", Params{PresencePenalty: -1}, nil, []int{4}, nil,
			[]float32{2, -1, 0.5, 3, -1, 1}},
		{"all stages in order", Params{LogitBias: map[int]float32{5: 1}, RepetitionPenalty: 4, PresencePenalty: 0.5},
			[]int{1}, []int{5}, nil, []float32{2, -4, 0.5, 3, -2, 0}},
		{"mask", Params{}, nil, nil, []bool{true, false, true, false, true, true},
			[]float32{2, ninf, 0.5, ninf, -2, 1}},
		{"short mask disallows the rest", Params{}, nil, nil, []bool{false, true},
			[]float32{ninf, -1, ninf, ninf, ninf, ninf}},
		{"out-of-range history ignored", Params{RepetitionPenalty: 2, FrequencyPenalty: 1}, []int{-1, 6}, []int{99, -5}, nil, logits},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.p, len(logits))
			s.Prompt(tt.prompt)
			for _, id := range tt.out {
				s.Accept(id)
			}
			in := slices.Clone(logits)
			got := s.adjust(in, tt.allowed)
			if !slices.Equal(got, tt.want) {
				t.Errorf("adjusted = %v, want %v", got, tt.want)
			}
			if !slices.Equal(in, logits) {
				t.Errorf("input logits modified: %v", in)
			}
		})
	}
}

// chi2Crit are chi-square critical values at significance 0.001 by degrees of freedom.
var chi2Crit = []float64{0, 10.83, 13.82, 16.27, 18.47, 20.52}

// TestDistribution draws N tokens under each configuration and compares the
// frequencies with the hand-computed distribution: tokens outside its support
// must never appear, and the chi-square statistic must stay below the 0.001
// critical value (the seed is fixed, so the test is deterministic).
func TestDistribution(t *testing.T) {
	// Weights 1, 2, 3, 4, 10 (probabilities 0.05, 0.1, 0.15, 0.2, 0.5 at T=1).
	w := []float64{1, 2, 3, 4, 10}
	logits := make([]float32, len(w))
	for i, x := range w {
		logits[i] = float32(math.Log(x))
	}
	tests := []struct {
		name    string
		p       Params
		allowed []bool
		want    []float64 // unnormalised
	}{
		{"softmax T=1", Params{Temperature: 1}, nil, []float64{1, 2, 3, 4, 10}},
		{"softmax T=2 takes square roots", Params{Temperature: 2}, nil,
			[]float64{1, math.Sqrt2, math.Sqrt(3), 2, math.Sqrt(10)}},
		{"softmax T=0.5 squares", Params{Temperature: 0.5}, nil, []float64{1, 4, 9, 16, 100}},
		{"top_k 2", Params{Temperature: 1, TopK: 2}, nil, []float64{0, 0, 0, 4, 10}},
		{"top_k 3 at T=0.5", Params{Temperature: 0.5, TopK: 3}, nil, []float64{0, 0, 9, 16, 100}},
		{"top_k above vocab", Params{Temperature: 1, TopK: 50}, nil, []float64{1, 2, 3, 4, 10}},
		// sorted 0.5, 0.2 (cum 0.7 >= 0.6)
		{"top_p 0.6", Params{Temperature: 1, TopP: 0.6}, nil, []float64{0, 0, 0, 4, 10}},
		// 0.5, 0.7 < 0.75, then 0.15 (cum 0.85)
		{"top_p 0.75", Params{Temperature: 1, TopP: 0.75}, nil, []float64{0, 0, 3, 4, 10}},
		// At T=0.5: 100/130 = 0.769 < 0.8, 116/130 = 0.892: top_p sees the scaled distribution.
		{"top_p 0.8 at T=0.5", Params{Temperature: 0.5, TopP: 0.8}, nil, []float64{0, 0, 0, 16, 100}},
		{"top_p keeps at least one", Params{Temperature: 1, TopP: 1e-9}, nil, []float64{0, 0, 0, 0, 1}},
		// Bar 0.25*0.5 = 0.125: 0.15, 0.2, 0.5 stay.
		{"min_p 0.25", Params{Temperature: 1, MinP: 0.25}, nil, []float64{0, 0, 3, 4, 10}},
		// At T=0.5 the bar is 0.25*100 = 25 in squared weights: only token 4.
		{"min_p 0.1 at T=0.5", Params{Temperature: 0.5, MinP: 0.1}, nil, []float64{0, 0, 0, 16, 100}},
		// top_k 4: 2,3,4,10 (sum 19); top_p 0.8: 10/19, 14/19 = 0.737, 17/19; min_p 0.35: bar 3.5.
		{"top_k, top_p, min_p in order", Params{Temperature: 1, TopK: 4, TopP: 0.8, MinP: 0.35}, nil,
			[]float64{0, 0, 0, 4, 10}},
		{"mask excludes the argmax", Params{Temperature: 1}, []bool{true, true, true, false, false},
			[]float64{1, 2, 3, 0, 0}},
		{"mask with top_k", Params{Temperature: 1, TopK: 2}, []bool{true, false, true, true, false},
			[]float64{0, 0, 3, 4, 0}},
		{"bias forces", Params{Temperature: 1, LogitBias: map[int]float32{0: 100}}, nil, []float64{1, 0, 0, 0, 0}},
		{"bias bans", Params{Temperature: 1, LogitBias: map[int]float32{4: -100, 3: -100}}, nil,
			[]float64{1, 2, 3, 0, 0}},
		// Repetition penalty 2 on token 4 (logit ln 10 > 0): weight 10^(1/2).
		{"repetition penalty", Params{Temperature: 1, RepetitionPenalty: 2}, nil,
			[]float64{1, 2, 3, 4, math.Sqrt(10)}},
	}
	const n = 40000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.Seed = 12345
			s := New(tt.p, len(logits))
			if tt.p.RepetitionPenalty != 0 {
				s.Prompt([]int{4})
			}
			counts := make([]int, len(logits))
			for range n {
				tok := s.Sample(logits, tt.allowed)
				if tok < 0 || tok >= len(logits) {
					t.Fatalf("sampled %d", tok)
				}
				counts[tok]++
			}
			var total float64
			for _, x := range tt.want {
				total += x
			}
			var chi2 float64
			df := -1
			for i, x := range tt.want {
				if x == 0 {
					if counts[i] != 0 {
						t.Errorf("token %d drawn %d times, want never (counts %v)", i, counts[i], counts)
					}
					continue
				}
				exp := n * x / total
				chi2 += (float64(counts[i]) - exp) * (float64(counts[i]) - exp) / exp
				df++
			}
			if df > 0 && chi2 > chi2Crit[df] {
				t.Errorf("chi-square %.2f > %.2f (df %d): counts %v, want proportions %v", chi2, chi2Crit[df], df, counts, tt.want)
			}
		})
	}
}

// refFilter is the straightforward definition of the filters: sort
// everything, cut, renormalise. It returns the kept ids in rank order and
// their probabilities.
func refFilter(buf []float32, temp float64, k int, p, minP float64) map[int]float64 {
	type item struct {
		id int
		l  float64
	}
	var items []item
	m := math.Inf(-1)
	for i, v := range buf {
		if f := float64(v); !math.IsNaN(f) && !math.IsInf(f, -1) {
			items = append(items, item{i, f})
			m = max(m, f)
		}
	}
	slices.SortFunc(items, func(a, b item) int {
		if a.l != b.l {
			if a.l > b.l {
				return -1
			}
			return 1
		}
		return a.id - b.id
	})
	var ws []float64
	for j, it := range items {
		d := (m - it.l) / temp
		if d > cutoffNats {
			items = items[:j]
			break
		}
		ws = append(ws, math.Exp(-d))
	}
	if k > 0 && k < len(items) {
		items, ws = items[:k], ws[:k]
	}
	if p > 0 {
		var z, c float64
		for _, x := range ws {
			z += x
		}
		for j := range ws {
			c += ws[j]
			if c >= p*z {
				items, ws = items[:j+1], ws[:j+1]
				break
			}
		}
	}
	out := map[int]float64{}
	var z float64
	for j, it := range items {
		if minP > 0 && ws[j] < minP {
			continue
		}
		out[it.id] = ws[j]
		z += ws[j]
	}
	for id := range out {
		out[id] /= z
	}
	return out
}

// TestFilterMatchesReference compares the bucketed filters with refFilter on
// large random rows, including rows with many tied logits (to exercise the
// lower-id tie rule at the cut) and masks: the kept set must be identical and
// the probabilities equal within 1e-12.
func TestFilterMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	shapes := []struct {
		name  string
		scale float64
		quant float64 // round logits to multiples of quant (ties) when > 0
	}{
		{"narrow", 1, 0},
		{"llm-like", 3, 0},
		{"wide", 12, 0},
		{"tied", 2, 0.25},
	}
	configs := []struct {
		temp, p, minP float64
		k             int
	}{
		{1, 0.9, 0, 0}, {0.7, 0.95, 0, 40}, {1.3, 0, 0.05, 0}, {1, 0, 0, 1000}, {0.5, 0.5, 0.1, 0},
		{1, 0.99, 0, 50000}, {2, 0.3, 0, 7}, {1, 0, 0.01, 300}, {0.8, 0.8, 0.02, 200}, {1, 0.999999, 0, 0},
	}
	const vocab = 12000
	logits := make([]float32, vocab)
	for _, sh := range shapes {
		for ci, c := range configs {
			for _, masked := range []bool{false, true} {
				for i := range logits {
					x := r.NormFloat64() * sh.scale
					if sh.quant > 0 {
						x = math.Round(x/sh.quant) * sh.quant
					}
					logits[i] = float32(x)
				}
				var allowed []bool
				if masked {
					allowed = make([]bool, vocab)
					for i := range allowed {
						allowed[i] = r.IntN(3) > 0
					}
				}
				s := New(Params{Temperature: c.temp, TopK: c.k, TopP: c.p, MinP: c.minP}, vocab)
				buf := s.adjust(logits, allowed)
				best := Greedy(buf)
				want := refFilter(buf, c.temp, c.k, c.p, c.minP)
				kept := s.filter(buf, float64(buf[best]))
				var z float64
				for _, x := range kept {
					z += x.w
				}
				if len(kept) != len(want) {
					t.Errorf("%s config %d masked %v: kept %d tokens, want %d", sh.name, ci, masked, len(kept), len(want))
					continue
				}
				for _, x := range kept {
					wp, ok := want[int(x.id)]
					if !ok {
						t.Errorf("%s config %d masked %v: kept token %d, reference drops it", sh.name, ci, masked, x.id)
						break
					}
					if d := math.Abs(x.w/z - wp); d > 1e-12 {
						t.Errorf("%s config %d: token %d probability %.15g, want %.15g", sh.name, ci, x.id, x.w/z, wp)
						break
					}
				}
			}
		}
	}
}

// TestBiasBanAndForce uses an LLM-like row (normal logits, sd 3) over a
// realistic vocabulary: -100 must remove the favourite, +100 must make an
// unlikely token certain, greedy or not.
func TestBiasBanAndForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	logits := make([]float32, 8000)
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 3)
	}
	top := Greedy(logits)
	low := slices.Index(logits, slices.Min(logits))
	for _, temp := range []float64{0, 0.7, 1.5} {
		ban := New(Params{Temperature: temp, LogitBias: map[int]float32{top: -100}, Seed: 5}, len(logits))
		force := New(Params{Temperature: temp, TopP: 0.9, LogitBias: map[int]float32{low: 100}, Seed: 5}, len(logits))
		for i := range 200 {
			if got := ban.Sample(logits, nil); got == top {
				t.Fatalf("T=%v draw %d: banned token %d sampled", temp, i, top)
			}
			if got := force.Sample(logits, nil); got != low {
				t.Fatalf("T=%v draw %d: forced token %d not sampled (got %d)", temp, i, low, got)
			}
		}
	}
}

// TestAllowedMask checks that a mask is obeyed with every configuration,
// including masks that exclude the argmax and masks allowing one token.
func TestAllowedMask(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	const vocab = 5000
	logits := make([]float32, vocab)
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 2)
	}
	top := Greedy(logits)
	params := []Params{
		{}, {Temperature: 1}, {Temperature: 0.3, TopK: 5}, {Temperature: 1, TopP: 0.5},
		{Temperature: 2, MinP: 0.2}, {Temperature: 1, TopK: 20, TopP: 0.9, MinP: 0.05, RepetitionPenalty: 1.3},
	}
	for pi, p := range params {
		p.Seed = uint64(pi)
		s := New(p, vocab)
		for trial := range 200 {
			allowed := make([]bool, vocab)
			nAllowed := 1 + r.IntN(50)
			if trial%2 == 0 {
				nAllowed = 1
			}
			for range nAllowed {
				allowed[r.IntN(vocab)] = true
			}
			allowed[top] = false
			tok := s.Sample(logits, allowed)
			if tok < 0 || !allowed[tok] {
				t.Fatalf("params %d trial %d: sampled %d, not allowed", pi, trial, tok)
			}
			s.Accept(tok)
		}
		if got := s.Sample(logits, make([]bool, vocab)); got != -1 {
			t.Errorf("params %d: nothing allowed gave %d, want -1", pi, got)
		}
	}
}

// TestDegenerateRows covers rows where no token has a usable logit.
func TestDegenerateRows(t *testing.T) {
	nan := float32(math.NaN())
	pinf := float32(math.Inf(1))
	tests := []struct {
		name    string
		p       Params
		logits  []float32
		allowed []bool
		want    []int // acceptable results
	}{
		{"empty", Params{Temperature: 1}, nil, nil, []int{-1}},
		{"all -inf picks lowest allowed", Params{Temperature: 1}, []float32{ninf, ninf, ninf}, []bool{false, true, true}, []int{1}},
		{"all nan greedy", Params{}, []float32{nan, nan}, nil, []int{0}},
		{"nan never sampled", Params{Temperature: 5}, []float32{nan, 0, nan}, nil, []int{1}},
		{"+inf tokens share", Params{Temperature: 1}, []float32{pinf, 1e30, pinf}, nil, []int{0, 2}},
		{"+inf greedy lowest", Params{}, []float32{1, pinf, pinf}, nil, []int{1}},
		{"tiny temperature is greedy", Params{Temperature: 1e-6}, []float32{1, 1.0001, 1}, nil, []int{1}},
		{"negative temperature is greedy", Params{Temperature: -1}, []float32{1, 3, 3}, nil, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.p, len(tt.logits))
			seen := map[int]bool{}
			for range 200 {
				got := s.Sample(tt.logits, tt.allowed)
				if !slices.Contains(tt.want, got) {
					t.Fatalf("Sample = %d, want one of %v", got, tt.want)
				}
				seen[got] = true
			}
			if len(seen) != len(tt.want) {
				t.Errorf("drew %v, want all of %v", seen, tt.want)
			}
		})
	}
}

// TestSeed checks that the token stream depends only on the seed, the
// parameters and the logits: equal seeds agree step for step (also when other
// samplers run in between), different seeds diverge.
func TestSeed(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	const vocab, steps = 2000, 300
	rows := make([][]float32, steps)
	for i := range rows {
		rows[i] = make([]float32, vocab)
		for j := range rows[i] {
			rows[i][j] = float32(r.NormFloat64() * 1.5)
		}
	}
	p := Params{Temperature: 1, TopP: 0.95, FrequencyPenalty: 0.3, RepetitionPenalty: 1.1}
	run := func(seed uint64, interleave bool) []int {
		p := p
		p.Seed = seed
		s := New(p, vocab)
		other := New(Params{Temperature: 1, Seed: seed + 1}, vocab)
		s.Prompt([]int{1, 2, 3})
		out := make([]int, steps)
		for i, row := range rows {
			if interleave {
				other.Accept(other.Sample(row, nil))
			}
			out[i] = s.Sample(row, nil)
			s.Accept(out[i])
		}
		return out
	}
	a, b, c := run(42, false), run(42, true), run(43, false)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different streams when another sampler ran in between")
	}
	differ := 0
	for i := range a {
		if a[i] != c[i] {
			differ++
		}
	}
	// With hundreds of plausible tokens per row, two seeds agree on a step
	// with probability well under 1/10.
	if differ < steps*8/10 {
		t.Errorf("seeds 42 and 43 differ on only %d of %d steps", differ, steps)
	}
}

// TestNoAllocs checks Sample reuses its buffers after the first call.
func TestNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	logits := make([]float32, 20000)
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 3)
	}
	allowed := make([]bool, len(logits))
	for i := range allowed {
		allowed[i] = i%3 != 0
	}
	for name, p := range benchConfigs() {
		s := New(p, len(logits))
		s.Prompt([]int{1, 2, 3})
		for range 20 { // grow the history lists
			s.Accept(s.Sample(logits, allowed))
		}
		if a := testing.AllocsPerRun(20, func() { s.Sample(logits, allowed) }); a != 0 {
			t.Errorf("%s: %v allocations per Sample, want 0", name, a)
		}
	}
}

// TestArgmax holds the vector argmax to the scalar rule it replaces: the
// first index of the largest value, NaNs skipped, -1 when nothing beats
// -Inf, on rows longer and shorter than a vector.
func TestArgmax(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	long := make([]float32, 1000)
	for i := range long {
		long[i] = float32(i % 37)
	}
	for _, c := range []struct {
		name string
		row  []float32
		want int
	}{
		{"ties take the lowest id", long, 36},
		{"short", []float32{1, 3, 2, 3}, 1},
		{"NaN skipped", append(append([]float32{}, long...), nan), 36},
		{"NaN first", []float32{nan, 1, 2, 2, 0, 0, 0, 0, 0, 0}, 2},
		{"+Inf", []float32{0, 1, inf, 0, 0, 0, 0, 0, inf}, 2},
		{"all -Inf", []float32{-inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf}, -1},
		{"all NaN", []float32{nan, nan, nan, nan, nan, nan, nan, nan, nan}, -1},
		{"empty", nil, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, v := argmax(c.row)
			if got != c.want {
				t.Fatalf("argmax = %d, want %d", got, c.want)
			}
			if got >= 0 && v != c.row[got] {
				t.Errorf("value %v, want %v", v, c.row[got])
			}
		})
	}
}

// TestDrawAcrossChunks checks drawAll, which skips chunks of drawChunk
// weights by their sums, against one walk through all the weights in id
// order with the same draws: rows longer than several chunks and not a
// multiple of them or of the vector width, with masked runs that end at and
// cross chunk boundaries. Draws within 1e-9 of the total from a boundary
// between two tokens are skipped, where the two summation orders may
// round apart.
func TestDrawAcrossChunks(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const vocab = 3*drawChunk + 477
	tests := []struct {
		name   string
		masked [][2]int // [lo, hi) ranges set to -Inf
	}{
		{"dense", nil},
		{"a chunk masked", [][2]int{{drawChunk, 2 * drawChunk}}},
		{"masked across a boundary", [][2]int{{drawChunk - 3, drawChunk + 5}, {2*drawChunk - 1, 3*drawChunk + 1}}},
		{"only the last token", [][2]int{{0, vocab - 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := make([]float32, vocab)
			for i := range row {
				row[i] = float32(r.NormFloat64() * 2)
			}
			for _, m := range tt.masked {
				for i := m[0]; i < m[1]; i++ {
					row[i] = ninf
				}
			}
			maxV := slices.Max(row)
			s := New(Params{Temperature: 0.7}, vocab)
			buf := make([]float32, vocab)
			hits := map[int]bool{}
			for range 3000 {
				u := r.Float64()
				copy(buf, row)
				got := s.drawAll(buf, float64(maxV), u)
				// buf now holds the weights drawAll drew from.
				var z float64
				for _, w := range buf {
					z += float64(w)
				}
				target, cum, want, near := u*z, 0.0, -1, false
				for i, w := range buf {
					cum += float64(w)
					near = near || math.Abs(cum-target) < 1e-9*z
					if target < cum && w > 0 {
						want = i
						break
					}
				}
				if near {
					continue
				}
				if got != want {
					t.Fatalf("u=%v: drawAll = %d, walk in order = %d", u, got, want)
				}
				if row[got] == ninf {
					t.Fatalf("u=%v: drew masked token %d", u, got)
				}
				hits[got/drawChunk] = true
			}
			if tt.name == "dense" && len(hits) != (vocab+drawChunk-1)/drawChunk {
				t.Errorf("draws fell in chunks %v, want every chunk", hits)
			}
		})
	}
}
