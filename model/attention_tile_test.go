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
