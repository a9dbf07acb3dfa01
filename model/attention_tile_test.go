package model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMakeTiles checks how a step's rows become attention work items: runs
// of one slot at consecutive positions, cut at attnTileRows, broken by any
// other slot's row or a position gap (rows dropped by keep).
func TestMakeTiles(t *testing.T) {
	type row struct{ seq, pos int }
	run := func(seq, from, n int) []row {
		var r []row
		for i := range n {
			r = append(r, row{seq, from + i})
		}
		return r
	}
	cat := func(parts ...[]row) []row { return slices.Concat(parts...) }
	tests := []struct {
		name string
		rows []row
		want []attnTile
	}{
		{"empty", nil, nil},
		{"decode", cat(run(0, 7, 1), run(1, 3, 1), run(2, 0, 1)), []attnTile{{0, 1}, {1, 1}, {2, 1}}},
		{"prefill 20", run(0, 0, 20), []attnTile{{0, 8}, {8, 8}, {16, 4}}},
		{"prefill 8", run(3, 5, 8), []attnTile{{0, 8}}},
		{"mixed", cat(run(1, 9, 1), run(0, 0, 10), run(2, 4, 1), run(0, 10, 3)),
			[]attnTile{{0, 1}, {1, 8}, {9, 2}, {11, 1}, {12, 3}}},
		{"gap", cat(run(0, 0, 3), run(0, 5, 2), run(0, 4, 1)), []attnTile{{0, 3}, {3, 2}, {5, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &step{n: len(tc.rows)}
			for _, r := range tc.rows {
				st.seq = append(st.seq, r.seq)
				st.pos = append(st.pos, r.pos)
			}
			st.makeTiles()
			if !slices.Equal(st.tiles, tc.want) {
				t.Errorf("tiles %v, want %v", st.tiles, tc.want)
			}
		})
	}
}

// tileFiles are the models the tiling is checked on: sliding-window
// layers (gemma3, window 16), grouped heads of size 64 (qwen3, the
// assembly's shapes), head size 8 (stories260K).
func tileFiles() []string {
	files := []string{"synth-gemma3-f32.gguf", "synth-qwen3-f32.gguf", "stories260K.gguf", "synth-llama-gqa-f32.gguf"}
	if testing.Short() || raceEnabled {
		return files[:2]
	}
	return files
}

// tileTol bounds the difference of tiled and untiled logits relative to the
// largest logit.
const tileTol = 1e-5

// relDiff is the largest |a-b| relative to the largest |b|.
func relDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	top := 0.0
	for _, v := range b {
		top = math.Max(top, math.Abs(float64(v)))
	}
	return maxAbsDiff(a, b) / top
}

// part is a run of rows of one slot in a batch.
type part struct{ slot, rows int }

// feed runs steps (each a batch of parts, rows in order) over the slots of
// seqs in a fresh cache and returns every row's logits, indexed by slot and
// position. With twin set, each row of slot 0 is followed in its batch by
// the same token of an extra slot, so slot 0's rows never neighbour each
// other and attention takes them one at a time, with the same rows in every
// matrix product (the products' results depend on the batch, which the
// comparison must not see).
func feed(t *testing.T, m *Model, o CacheOptions, seqs [][]int, steps [][]part, twin bool) map[[2]int][]float32 {
	t.Helper()
	c, err := m.NewCacheWith(len(seqs)+1, 64, o)
	if err != nil {
		t.Fatal(err)
	}
	done := make([]int, len(seqs))
	got := make(map[[2]int][]float32)
	for si, plan := range steps {
		b := &Batch{}
		var refs [][2]int
		add := func(s, seq, p int) {
			b.Tokens = append(b.Tokens, seqs[seq][p])
			b.Pos = append(b.Pos, p)
			b.Seq = append(b.Seq, s)
			b.Output = append(b.Output, true)
			refs = append(refs, [2]int{s, p})
		}
		for _, pt := range plan {
			for range pt.rows {
				add(pt.slot, pt.slot, done[pt.slot])
				if twin && pt.slot == 0 {
					add(len(seqs), 0, done[0])
				}
				done[pt.slot]++
			}
		}
		out, err := m.Forward(context.Background(), c, b)
		if err != nil {
			t.Fatalf("step %d: %v", si, err)
		}
		for i, r := range refs {
			got[r] = out[i]
		}
	}
	for s, n := range done {
		if c.Len(s) != n {
			t.Fatalf("slot %d: Len %d, want %d", s, c.Len(s), n)
		}
	}
	return got
}

// oneByOne runs seq through slot 0 of a fresh cache one token per Forward
// and returns every position's logits.
func oneByOne(t *testing.T, m *Model, seq []int, o CacheOptions) [][]float32 {
	t.Helper()
	c, err := m.NewCacheWith(1, len(seq), o)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]float32, len(seq))
	for i, tok := range seq {
		l, err := m.Forward(context.Background(), c, seqBatch([]int{tok}, 0, i, func(int) bool { return true }))
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		out[i] = l[0]
	}
	return out
}

// checkTiles runs steps with slot 0 tiled and untiled (twin) and compares
// every row; with F32 keys and values it also compares each slot's rows to
// the slot's tokens fed one at a time. (With F16 or Q8_0 the last is no
// test of attention: one-row and many-row matrix products differ in
// summation order, and rounding keys and values to 11 or 8 bits turns those
// 1e-7 differences into 1e-4 to 1e-2 ones, with or without tiles.)
func checkTiles(t *testing.T, m *Model, o CacheOptions, seqs [][]int, steps [][]part) {
	tiled := feed(t, m, o, seqs, steps, false)
	untiled := feed(t, m, o, seqs, steps, true)
	worst, worstSolo := 0.0, 0.0
	for r, want := range untiled {
		if r[0] == len(seqs) {
			continue
		}
		d := relDiff(tiled[r], want)
		worst = math.Max(worst, d)
		if d > tileTol {
			t.Errorf("slot %d pos %d: tiled logits differ from untiled by %.3g of the largest", r[0], r[1], d)
		}
	}
	if o.Type == KVF32 {
		for s, seq := range seqs {
			solo := oneByOne(t, m, seq, o)
			for p, want := range solo {
				d := relDiff(tiled[[2]int{s, p}], want)
				worstSolo = math.Max(worstSolo, d)
				if d > tileTol {
					t.Errorf("slot %d pos %d: tiled logits differ from one-by-one by %.3g of the largest", s, p, d)
				}
			}
		}
	}
	t.Logf("%d rows; max diff / max |logit|: %.3g vs untiled, %.3g vs one-by-one (f32 only)", len(tiled), worst, worstSolo)
}

// TestAttentionTiles checks a prefill through the tiled attention against
// the same rows taken one at a time, for every KV type and for block sizes
// that do and do not line up with the tiles.
func TestAttentionTiles(t *testing.T) {
	const n = 45 // five full tiles and a partial one; past gemma3's window
	for _, file := range tileFiles() {
		m := openModel(t, file)
		seqs := [][]int{randomTokens(rand.New(rand.NewPCG(3, 4)), m.Config.Vocab, n)}
		for _, typ := range []KVType{KVF32, KVF16, KVQ8_0} {
			for _, bs := range []int{16, 5} {
				t.Run(fmt.Sprintf("%s/%s/bs%d", file, typ, bs), func(t *testing.T) {
					checkTiles(t, m, CacheOptions{Type: typ, BlockSize: bs}, seqs, [][]part{{{0, n}}})
				})
			}
		}
	}
}

// TestAttentionTilesMixed puts one slot's prompt, in two chunks, in the same
// batches as other slots' single decode rows (before, inside and after the
// prompt rows).
func TestAttentionTilesMixed(t *testing.T) {
	for _, file := range tileFiles() {
		m := openModel(t, file)
		rng := rand.New(rand.NewPCG(5, 6))
		// Slot 0 is prompted; slots 1-3 start with a few tokens (a
		// prefill of their own) and decode one token per step.
		lens := []int{31, 6, 20, 3}
		seqs := make([][]int, len(lens))
		for s, n := range lens {
			seqs[s] = randomTokens(rng, m.Config.Vocab, n)
		}
		steps := [][]part{
			{{1, 4}, {2, 18}, {3, 1}},
			{{1, 1}, {0, 7}, {2, 1}, {0, 13}, {3, 1}},
			{{0, 11}, {2, 1}, {1, 1}, {3, 1}},
		}
		for _, typ := range []KVType{KVF32, KVF16, KVQ8_0} {
			t.Run(fmt.Sprintf("%s/%s", file, typ), func(t *testing.T) {
				checkTiles(t, m, CacheOptions{Type: typ}, seqs, steps)
			})
		}
	}
}

// TestPlanItems checks how a step's tiles become work items: whole tiles
// while there are enough of them for the workers, else one item per run of
// a tile with several (see attnSegment), each with its place in st.parts.
func TestPlanItems(t *testing.T) {
	type row struct{ seq, pos int }
	tests := []struct {
		name       string
		rows       []row
		window     int // sliding window: 0 for none
		splitBelow int
		items      []attnItem
		split      []attnSplit
	}{
		{"short rows stay whole", []row{{0, 3}, {1, 7}}, 0, 100,
			[]attnItem{{attnTile{0, 1}, 0, 1, -1}, {attnTile{1, 1}, 0, 1, -1}}, nil},
		{"long decode row split", []row{{0, 25}}, 0, 100,
			[]attnItem{{attnTile{0, 1}, 0, 1, 0}, {attnTile{0, 1}, 1, 2, 0}, {attnTile{0, 1}, 2, 3, 0}, {attnTile{0, 1}, 3, 4, 0}},
			[]attnSplit{{attnTile{0, 1}, 0, 4, 0}}},
		{"enough items", []row{{0, 25}, {1, 9}}, 0, 2,
			[]attnItem{{attnTile{0, 1}, 0, 4, -1}, {attnTile{1, 1}, 0, 2, -1}}, nil},
		{"window", []row{{0, 25}, {1, 9}}, 10, 100,
			[]attnItem{{attnTile{0, 1}, 2, 3, 0}, {attnTile{0, 1}, 3, 4, 0}, {attnTile{1, 1}, 0, 1, 1}, {attnTile{1, 1}, 1, 2, 1}},
			[]attnSplit{{attnTile{0, 1}, 2, 4, 0}, {attnTile{1, 1}, 0, 2, 2}}},
		{"tile across runs", []row{{0, 6}, {0, 7}, {0, 8}}, 0, 100,
			[]attnItem{{attnTile{0, 3}, 0, 1, 0}, {attnTile{0, 3}, 1, 2, 0}},
			[]attnSplit{{attnTile{0, 3}, 0, 2, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &Model{Config: Config{HeadsKV: 1}, seg: 8, splitBelow: tc.splitBelow}
			st := &step{m: m, n: len(tc.rows)}
			for _, r := range tc.rows {
				st.seq = append(st.seq, r.seq)
				st.pos = append(st.pos, r.pos)
			}
			first := func(p int) int { return max(0, p-tc.window+1) }
			if tc.window == 0 {
				first = func(int) int { return 0 }
			}
			st.makeTiles()
			parts := st.planItems(first, 1)
			if !slices.Equal(st.items, tc.items) || !slices.Equal(st.split, tc.split) {
				t.Errorf("items %v split %v, want %v and %v", st.items, st.split, tc.items, tc.split)
			}
			want := 0
			for _, it := range tc.split {
				want += it.s1 - it.s0
			}
			if parts != want {
				t.Errorf("parts %d, want %d", parts, want)
			}
		})
	}
}

// TestAttentionRuns checks attention cut into short runs: decoding one
// token at a time with each run an item of its own (folded after) gives
// the same logits bit for bit as with one item folding a row's runs in
// turn; the cut moves logits by at most tileTol from one run of
// attnSegment with F32 keys and values (F16 and Q8_0 round the next
// layers' keys and values, turning 1e-7 differences into 1e-4 ones: see
// checkTiles); and prompts in tiles, their runs split or not, agree with
// rows taken one at a time as in TestAttentionTiles. Runs of 8 fall inside
// blocks of 16, runs of 13 across blocks of 5.
func TestAttentionRuns(t *testing.T) {
	const n = 45 // past gemma3's window of 16
	for _, file := range tileFiles() {
		m := openModel(t, file)
		seq := randomTokens(rand.New(rand.NewPCG(7, 8)), m.Config.Vocab, n)
		for _, typ := range []KVType{KVF32, KVF16, KVQ8_0} {
			for _, c := range []struct{ seg, bs int }{{8, 16}, {13, 5}} {
				t.Run(fmt.Sprintf("%s/%s/run%d/bs%d", file, typ, c.seg, c.bs), func(t *testing.T) {
					defer func() { m.seg, m.splitBelow = attnSegment, attnSplitItems }()
					o := CacheOptions{Type: typ, BlockSize: c.bs}
					whole := oneByOne(t, m, seq, o)
					m.seg, m.splitBelow = c.seg, 0
					together := oneByOne(t, m, seq, o)
					m.splitBelow = 1 << 20
					split := oneByOne(t, m, seq, o)
					cut, worst := 0, 0.0
					for p := range split {
						if !slices.Equal(split[p], together[p]) {
							t.Fatalf("pos %d: logits with runs split differ from runs folded by one item", p)
						}
						if !slices.Equal(split[p], whole[p]) {
							cut++
						}
						d := relDiff(split[p], whole[p])
						worst = math.Max(worst, d)
						if d > tileTol && typ == KVF32 {
							t.Errorf("pos %d: runs of %d move logits by %.3g of the largest", p, c.seg, d)
						}
					}
					if cut == 0 {
						t.Errorf("runs of %d changed no position's logits: were rows cut?", c.seg)
					}
					t.Logf("runs of %d: %d of %d positions' logits differ from one run, by at most %.3g of the largest", c.seg, cut, n, worst)
					steps := [][]part{{{0, 20}}, {{0, 25}}}
					checkTiles(t, m, o, [][]int{seq}, steps)
					m.splitBelow = 0
					checkTiles(t, m, o, [][]int{seq}, steps)
				})
			}
		}
	}
}

// TestFold checks folding one run's partial attention into another's
// against float64 arithmetic (bound 1e-6 relative: a few float32
// roundings), whichever run has the larger maximum, and the heads that saw
// nothing of one run.
func TestFold(t *testing.T) {
	const nh, hdv = 4, 8
	inf := float32(math.Inf(-1))
	rng := rand.New(rand.NewPCG(9, 10))
	random := func(m []float32) attnPart {
		p := partAt(make([]float32, partLen(nh, hdv)), nh, hdv)
		copy(p.m, m)
		for h := range nh {
			if m[h] == inf {
				continue
			}
			p.l[h] = 1 + 10*rng.Float32()
			for k := range hdv {
				p.out[h*hdv+k] = rng.Float32()*4 - 2
			}
		}
		return p
	}
	// Head 0: a's maximum larger; 1: b's; 2: a saw nothing; 3: b saw nothing.
	a := random([]float32{3, -1, inf, 0.5})
	b := random([]float32{1, 2, 4, inf})
	want := make([]float64, nh*hdv)
	wantL := make([]float64, nh)
	for h := range nh {
		ma, mb := float64(a.m[h]), float64(b.m[h])
		mx := math.Max(ma, mb)
		ca, cb := math.Exp(ma-mx), math.Exp(mb-mx)
		if a.m[h] == inf {
			ca = 0
		}
		if b.m[h] == inf {
			cb = 0
		}
		wantL[h] = float64(a.l[h])*ca + float64(b.l[h])*cb
		for k := range hdv {
			want[h*hdv+k] = float64(a.out[h*hdv+k])*ca + float64(b.out[h*hdv+k])*cb
		}
	}
	wantM := []float32{3, 2, 4, 0.5}
	a.fold(b)
	for h := range nh {
		if a.m[h] != wantM[h] {
			t.Errorf("head %d: maximum %g, want %g", h, a.m[h], wantM[h])
		}
		if d := math.Abs(float64(a.l[h])-wantL[h]) / wantL[h]; d > 1e-6 {
			t.Errorf("head %d: weights' sum %g, want %g", h, a.l[h], wantL[h])
		}
		for k := range hdv {
			if d := math.Abs(float64(a.out[h*hdv+k]) - want[h*hdv+k]); d > 1e-6*math.Max(1, math.Abs(want[h*hdv+k])) {
				t.Errorf("head %d value %d: %g, want %g", h, k, a.out[h*hdv+k], want[h*hdv+k])
			}
		}
	}
}
