package model

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// soloLogits runs seq alone in a fresh cache as one batch and returns the
// logits of every position.
func soloLogits(t *testing.T, m *Model, seq []int) [][]float32 {
	t.Helper()
	return soloLogitsKV(t, m, KVDefault, seq)
}

// soloLogitsKV is soloLogits with a KV cache of type kv.
func soloLogitsKV(t *testing.T, m *Model, kv KVType, seq []int) [][]float32 {
	t.Helper()
	c, err := m.NewCacheWith(1, len(seq), CacheOptions{Type: kv})
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Forward(context.Background(), c, seqBatch(seq, 0, 0, func(int) bool { return true }))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func randomTokens(rng *rand.Rand, vocab, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = rng.IntN(vocab)
	}
	return s
}

// TestMixedBatch interleaves four sequences of different lengths in shared
// steps (prompt chunks next to single decode tokens, tokens of different
// slots alternating within a batch) and checks every requested logits row
// against running that sequence alone, bit for bit: a seeded request must
// give the same tokens whatever shares its steps (an ulp of difference in
// an activation can flip a rounding of the F16 cache, and so on to a
// token), and every kernel the model uses gives each row the same bits
// whatever the batch (tensor's TestBatchInvariance).
func TestMixedBatch(t *testing.T) {
	files := []string{"stories260K.gguf", "synth-gemma3-f32.gguf", "synth-qwen2-f32.gguf", "synth-phi3-f32.gguf"}
	if testing.Short() || raceEnabled {
		files = files[:1] // the large-vocabulary files cost seconds each under -race
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			m := openModel(t, file)
			rng := rand.New(rand.NewPCG(1, 2))
			lens := []int{30, 25, 12, 40} // gemma3's 16-token window is crossed
			seqs := make([][]int, len(lens))
			solo := make([][][]float32, len(lens))
			for s, n := range lens {
				seqs[s] = randomTokens(rng, m.Config.Vocab, n)
				solo[s] = soloLogits(t, m, seqs[s])
			}
			// Each step lists how many tokens every slot contributes.
			schedule := [][]int{
				{20, 0, 5, 0},
				{1, 15, 1, 17},
				{1, 1, 6, 13},
				{1, 9, 0, 1},
				{7, 0, 0, 9},
			}
			c := m.NewCache(len(lens), 64)
			done := make([]int, len(lens))
			worst, checked := 0.0, 0
			for si, counts := range schedule {
				b := &Batch{}
				type ref struct{ slot, pos int }
				var refs []ref
				// Round-robin over slots so sequences interleave token by token.
				left := append([]int(nil), counts...)
				for more := true; more; {
					more = false
					for s := range left {
						if left[s] == 0 {
							continue
						}
						more = true
						p := done[s]
						out := rng.IntN(2) == 0 || left[s] == 1
						b.Tokens = append(b.Tokens, seqs[s][p])
						b.Pos = append(b.Pos, p)
						b.Seq = append(b.Seq, s)
						b.Output = append(b.Output, out)
						if out {
							refs = append(refs, ref{s, p})
						}
						done[s]++
						left[s]--
					}
				}
				got, err := m.Forward(context.Background(), c, b)
				if err != nil {
					t.Fatalf("step %d: %v", si, err)
				}
				if len(got) != len(refs) {
					t.Fatalf("step %d: %d logits rows, want %d", si, len(got), len(refs))
				}
				for i, r := range refs {
					d := maxAbsDiff(got[i], solo[r.slot][r.pos])
					worst = math.Max(worst, d)
					checked++
					if d != 0 {
						t.Errorf("step %d slot %d pos %d: logits differ from the solo run by %.3g", si, r.slot, r.pos, d)
					}
				}
			}
			for s, n := range lens {
				if c.Len(s) != n {
					t.Errorf("slot %d: Len %d, want %d", s, c.Len(s), n)
				}
			}
			t.Logf("%d rows checked, max |logit diff| vs solo %.3g", checked, worst)
		})
	}
}

// TestTruncateClear checks that Truncate keeps a prefix usable for a new
// continuation, Clear forgets a slot without touching the others, and the
// accessors tolerate out-of-range slots.
func TestTruncateClear(t *testing.T) {
	files := []string{"stories260K.gguf", "synth-gemma3-f32.gguf"}
	if testing.Short() || raceEnabled {
		files = files[:1]
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) { testTruncateClear(t, openModel(t, file)) })
	}
}

func testTruncateClear(t *testing.T, m *Model) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	x := randomTokens(rng, m.Config.Vocab, 24)
	y := randomTokens(rng, m.Config.Vocab, 10)
	z := randomTokens(rng, m.Config.Vocab, 20)
	all := func(int) bool { return true }
	check := func(what string, got, want [][]float32) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
		}
		for i := range got {
			if d := maxAbsDiff(got[i], want[i]); d != 0 {
				t.Errorf("%s: row %d differs by %.3g", what, i, d)
			}
		}
	}
	forward := func(c *Cache, b *Batch) [][]float32 {
		t.Helper()
		out, err := m.Forward(ctx, c, b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	c := m.NewCache(3, 40)
	forward(c, seqBatch(z[:10], 0, 0, all))
	forward(c, seqBatch(x, 1, 0, all))
	if c.Len(0) != 10 || c.Len(1) != 24 || c.Len(2) != 0 {
		t.Fatalf("lengths %d %d %d, want 10 24 0", c.Len(0), c.Len(1), c.Len(2))
	}

	// Keep 12 positions of x, continue with y: same as x[:12]+y from scratch.
	c.Truncate(1, 12)
	if c.Len(1) != 12 {
		t.Fatalf("Len after Truncate(1, 12) = %d", c.Len(1))
	}
	if _, err := m.Forward(ctx, c, seqBatch(y[:1], 1, 13, all)); err == nil {
		t.Error("position 13 after Truncate to 12 was accepted")
	}
	got := forward(c, seqBatch(y, 1, 12, all))
	want := soloLogits(t, m, append(append([]int(nil), x[:12]...), y...))[12:]
	check("truncated then continued", got, want)

	c.Truncate(1, 100) // beyond the length: no-op
	if c.Len(1) != 22 {
		t.Errorf("Truncate beyond Len changed Len to %d", c.Len(1))
	}

	// Clear slot 1 and reuse it for x; slot 0 continues z undisturbed.
	c.Clear(1)
	if c.Len(1) != 0 {
		t.Errorf("Len after Clear = %d", c.Len(1))
	}
	check("cleared then refilled", forward(c, seqBatch(x, 1, 0, all)), soloLogits(t, m, x))
	check("other slot continued", forward(c, seqBatch(z[10:], 0, 10, all)), soloLogits(t, m, z)[10:])

	c.Truncate(0, -5)
	if c.Len(0) != 0 {
		t.Errorf("Truncate(0, -5): Len %d, want 0", c.Len(0))
	}
	for _, s := range []int{-1, 3, 1 << 40} {
		c.Clear(s)
		c.Truncate(s, 0)
		if c.Len(s) != 0 {
			t.Errorf("Len(%d) = %d, want 0", s, c.Len(s))
		}
	}
}

// countdownCtx reports cancellation after its Err method has been asked
// a given number of times, to cancel between two specific layers.
type countdownCtx struct {
	context.Context
	left atomic.Int32
}

func (c *countdownCtx) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestForwardErrors(t *testing.T) {
	m := openModel(t, "stories260K.gguf")
	other := openModel(t, "synth-llama-gqa-q4_0.gguf")
	bg := context.Background()
	cancelled, cancel := context.WithCancel(bg)
	cancel()

	one := func(tok, pos, slot int) *Batch {
		return &Batch{Tokens: []int{tok}, Pos: []int{pos}, Seq: []int{slot}, Output: []bool{true}}
	}
	tests := []struct {
		name  string
		ctx   context.Context
		cache func(c *Cache) *Cache
		batch *Batch
		want  string
		is    error
	}{
		{name: "token id negative", batch: one(-1, 3, 0), want: "id -1 out of range"},
		{name: "token id = vocab", batch: one(512, 3, 0), want: "id 512 out of range"},
		{name: "position >= ctx", batch: one(5, 8, 1), want: "position 8 out of range"},
		{name: "negative position", batch: one(5, -1, 1), want: "position -1 out of range"},
		{name: "runs past ctx", batch: seqBatch([]int{5, 6, 7, 8, 9, 10}, 0, 3, func(int) bool { return true }),
			want: "position 8 out of range"},
		{name: "gap after cached prefix", batch: one(5, 4, 0), want: "gap"},
		{name: "gap in batch", batch: &Batch{Tokens: []int{5, 6}, Pos: []int{0, 2}, Seq: []int{1, 1}, Output: []bool{true, true}}, want: "gap"},
		{name: "position already cached", batch: one(5, 2, 0), want: "already filled"},
		{name: "duplicate position", batch: &Batch{Tokens: []int{5, 6}, Pos: []int{0, 0}, Seq: []int{1, 1}, Output: []bool{true, true}}, want: "already filled"},
		{name: "slot negative", batch: one(5, 0, -1), want: "slot -1 out of range"},
		{name: "slot = slots", batch: one(5, 0, 2), want: "slot 2 out of range"},
		{name: "short Pos", batch: &Batch{Tokens: []int{5, 6}, Pos: []int{3}, Seq: []int{0, 0}, Output: []bool{true, true}}, want: "differ in length"},
		{name: "short Output", batch: &Batch{Tokens: []int{5}, Pos: []int{3}, Seq: []int{0}, Output: nil}, want: "differ in length"},
		{name: "nil batch", batch: nil, want: "nil"},
		{name: "nil cache", cache: func(*Cache) *Cache { return nil }, batch: one(5, 3, 0), want: "nil"},
		{name: "cache of another model", cache: func(*Cache) *Cache { return other.NewCache(2, 8) }, batch: one(5, 0, 0), want: "another model"},
		{name: "cancelled context", ctx: cancelled, batch: one(5, 3, 0), is: context.Canceled},
		{name: "cancelled between layers", ctx: &countdownCtx{Context: bg}, batch: one(5, 3, 0), is: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := m.NewCache(2, 8)
			prefix, err := m.Forward(bg, c, seqBatch([]int{1, 403, 407}, 0, 0, func(i int) bool { return i == 2 }))
			if err != nil {
				t.Fatal(err)
			}
			use := c
			if tc.cache != nil {
				use = tc.cache(c)
			}
			ctx := tc.ctx
			if ctx == nil {
				ctx = bg
			}
			if cd, ok := ctx.(*countdownCtx); ok {
				cd.left.Store(3) // entry check, layer 0, layer 1; cancelled before layer 2
			}
			out, err := m.Forward(ctx, use, tc.batch)
			if err == nil {
				t.Fatalf("Forward succeeded with %d rows, want an error", len(out))
			}
			t.Log(err)
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			if out != nil {
				t.Errorf("got %d logits rows with the error", len(out))
			}
			if c.Len(0) != 3 || c.Len(1) != 0 {
				t.Errorf("lengths after the error: %d %d, want 3 0", c.Len(0), c.Len(1))
			}
			// The cache still works: continuing gives the solo logits.
			got, err := m.Forward(bg, c, one(5, 3, 0))
			if err != nil {
				t.Fatal(err)
			}
			want := soloLogits(t, m, []int{1, 403, 407, 5})
			if d := maxAbsDiff(prefix[0], want[2]); d != 0 {
				t.Errorf("prefix logits differ by %.3g", d)
			}
			if d := maxAbsDiff(got[0], want[3]); d != 0 {
				t.Errorf("continuation after the error differs by %.3g", d)
			}
		})
	}
}

func TestForwardEmptyAndNoOutput(t *testing.T) {
	m := openModel(t, "stories260K.gguf")
	c := m.NewCache(1, 16)
	out, err := m.Forward(context.Background(), c, &Batch{})
	if err != nil || len(out) != 0 {
		t.Fatalf("empty batch: %d rows, %v", len(out), err)
	}
	// A prompt without any output row still fills the cache.
	out, err = m.Forward(context.Background(), c, seqBatch([]int{1, 403, 407}, 0, 0, func(int) bool { return false }))
	if err != nil || len(out) != 0 || c.Len(0) != 3 {
		t.Fatalf("no-output prompt: %d rows, Len %d, %v", len(out), c.Len(0), err)
	}
	out, err = m.Forward(context.Background(), c, seqBatch([]int{261}, 0, 3, func(int) bool { return true }))
	if err != nil {
		t.Fatal(err)
	}
	want := soloLogits(t, m, []int{1, 403, 407, 261})
	if d := maxAbsDiff(out[0], want[3]); d != 0 {
		t.Errorf("logits after a no-output prompt differ by %.3g", d)
	}
}

// TestCopyPrefix seeds slots from another slot's prefix and checks that each
// copy continues bit for bit like the whole sequence run from scratch, that
// the copies are independent of the source and of each other, and that bad
// arguments are refused without changing anything, for each cache type
// (the copy of a block shared in the middle has a branch per type).
func TestCopyPrefix(t *testing.T) {
	files := []string{"stories260K.gguf", "synth-gemma3-f32.gguf"}
	if testing.Short() || raceEnabled {
		files = files[:1]
	}
	for _, file := range files {
		m := openModel(t, file)
		for _, kv := range []KVType{KVF32, KVQ8_0, KVF16} {
			t.Run(file+"/"+kv.String(), func(t *testing.T) { testCopyPrefix(t, m, kv) })
		}
	}
}

func testCopyPrefix(t *testing.T, m *Model, kv KVType) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	x := randomTokens(rng, m.Config.Vocab, 30) // the shared prompt
	all := func(int) bool { return true }
	forward := func(c *Cache, b *Batch) [][]float32 {
		t.Helper()
		out, err := m.Forward(ctx, c, b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	check := func(what string, got, want [][]float32) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
		}
		for i := range got {
			if d := maxAbsDiff(got[i], want[i]); d != 0 {
				t.Errorf("%s: row %d differs by %.3g", what, i, d)
			}
		}
	}
	cat := func(a, b []int) []int { return append(append([]int(nil), a...), b...) }

	c, err := m.NewCacheWith(4, 64, CacheOptions{Type: kv})
	if err != nil {
		t.Fatal(err)
	}
	forward(c, seqBatch(x, 0, 0, all))
	// Slot 2 held a longer, different sequence: the copy replaces it.
	forward(c, seqBatch(randomTokens(rng, m.Config.Vocab, 50), 2, 0, all))

	tests := []struct {
		name string
		dst  int
		n    int
		tail []int
	}{
		{"whole prompt, empty slot", 1, 30, randomTokens(rng, m.Config.Vocab, 12)},
		{"prefix over a longer slot", 2, 17, randomTokens(rng, m.Config.Vocab, 20)},
		{"nothing", 3, 0, randomTokens(rng, m.Config.Vocab, 8)},
	}
	for _, tt := range tests {
		if err := c.CopyPrefix(0, tt.dst, tt.n); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if c.Len(tt.dst) != tt.n || c.Len(0) != 30 {
			t.Fatalf("%s: lengths src %d dst %d, want 30 %d", tt.name, c.Len(0), c.Len(tt.dst), tt.n)
		}
	}
	// The copies diverge in one shared step; each must match its whole
	// sequence from scratch, so no slot sees another's writes.
	b := &Batch{}
	for _, tt := range tests {
		for i, tok := range tt.tail {
			b.Tokens = append(b.Tokens, tok)
			b.Pos = append(b.Pos, tt.n+i)
			b.Seq = append(b.Seq, tt.dst)
			b.Output = append(b.Output, true)
		}
	}
	got := forward(c, b)
	row := 0
	for _, tt := range tests {
		want := soloLogitsKV(t, m, kv, cat(x[:tt.n], tt.tail))[tt.n:]
		check(tt.name, got[row:row+len(tt.tail)], want)
		row += len(tt.tail)
	}
	// The source continues as if never copied.
	y := randomTokens(rng, m.Config.Vocab, 6)
	check("source continued", forward(c, seqBatch(y, 0, 30, all)), soloLogitsKV(t, m, kv, cat(x, y))[30:])

	// src == dst truncates.
	if err := c.CopyPrefix(1, 1, 5); err != nil || c.Len(1) != 5 {
		t.Errorf("CopyPrefix(1, 1, 5): err %v, Len %d, want 5", err, c.Len(1))
	}
	for _, bad := range []struct{ src, dst, n int }{
		{-1, 1, 0}, {0, 4, 1}, {4, 0, 0}, {0, -1, 0}, {0, 1, -1}, {0, 1, 37}, {3, 1, 9},
	} {
		before := []int{c.Len(0), c.Len(1), c.Len(2), c.Len(3)}
		if err := c.CopyPrefix(bad.src, bad.dst, bad.n); err == nil {
			t.Errorf("CopyPrefix(%d, %d, %d) accepted", bad.src, bad.dst, bad.n)
		}
		if after := []int{c.Len(0), c.Len(1), c.Len(2), c.Len(3)}; !slices.Equal(before, after) {
			t.Errorf("CopyPrefix(%d, %d, %d) failed but changed lengths %v -> %v", bad.src, bad.dst, bad.n, before, after)
		}
	}
}
