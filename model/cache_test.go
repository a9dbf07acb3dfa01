package model

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/internal/testmodels"
)

// TestKVTypes runs the reference cases teacher-forced with F16 and Q8_0
// keys/values and compares them with the same model on F32 keys/values
// (which TestReference holds to the references). The bounds are the
// measured worst case over these files rounded up (F16 measured 9.0e-3,
// Q8_0 0.24, both on synth-llama-gqa, whose q/k gain makes attention
// logits large; the same files' F16 weights differ from llama.cpp by 1e-2).
// Greedy choices must agree wherever the F32 run's top-1/top-2 gap exceeds
// twice the bound.
func TestKVTypes(t *testing.T) {
	files := []string{"synth-llama-gqa-f32", "synth-qwen3-f32", "synth-gemma3-f32", "synth-phi3-f32", "synth-qwen2-f32"}
	if testing.Short() || raceEnabled {
		files = files[:2]
	}
	bounds := []struct {
		typ KVType
		tol float64
	}{{KVF16, 1.5e-2}, {KVQ8_0, 0.3}}
	refDir := testmodels.Reference(t)
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			ref := readRef(t, filepath.Join(refDir, "logits", file+".json"))
			m := openModel(t, ref.Model)
			for _, b := range bounds {
				worst, gaps := 0.0, 0
				for _, rc := range ref.Cases {
					seq := append(append([]int(nil), rc.PromptTokens...), rc.GeneratedTokens...)
					np, ng := len(rc.PromptTokens), len(rc.GeneratedTokens)
					want := kvLogits(t, m, KVF32, seq, np, ng)
					got := kvLogits(t, m, b.typ, seq, np, ng)
					for step := range want {
						lw, lg := logSoftmax(want[step]), logSoftmax(got[step])
						for _, e := range rc.TopLogprobs[step] {
							worst = math.Max(worst, math.Abs(lw[e.ID]-lg[e.ID]))
						}
						top := argmax(want[step])
						second := math.Inf(-1)
						for id, v := range lw {
							if id != top {
								second = math.Max(second, v)
							}
						}
						if lw[top]-second > 2*b.tol {
							gaps++
							if g := argmax(got[step]); g != top {
								t.Errorf("%s case %s step %d: argmax %d, F32 KV %d (gap %.3g)", b.typ, rc.Name, step, g, top, lw[top]-second)
							}
						}
					}
				}
				t.Logf("%s KV vs F32 KV: max |dlogprob| %.3g over top-10 ids (bound %g), %d argmax checks", b.typ, worst, b.tol, gaps)
				if worst > b.tol {
					t.Errorf("%s KV: max |dlogprob| %.3g > %g", b.typ, worst, b.tol)
				}
			}
		})
	}
}

// kvLogits runs seq teacher-forced on a cache of type typ: the prompt as one
// batch, then the generated tokens one step at a time (the decode path),
// returning the logits after each prompt+generated[:i].
func kvLogits(t *testing.T, m *Model, typ KVType, seq []int, np, ng int) [][]float32 {
	t.Helper()
	c, err := m.NewCacheWith(1, len(seq), CacheOptions{Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out, err := m.Forward(ctx, c, seqBatch(seq[:np], 0, 0, func(i int) bool { return i == np-1 }))
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]float32{out[0]}
	for i := np; i < np+ng-1; i++ {
		out, err := m.Forward(ctx, c, seqBatch(seq[i:i+1], 0, i, func(int) bool { return true }))
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, out[0])
	}
	return rows
}

// TestPagedCache checks the block pool's sharing rules on stories260K with
// blocks of 4 positions: copies share blocks until written (copy on write),
// published blocks are found again by their tokens, cached blocks are
// evicted least recently released first, a full pool fails a step without
// changing anything, and every step's logits match the sequence run alone.
// The pool's bookkeeping is verified after every operation.
func TestPagedCache(t *testing.T) {
	m := openModel(t, "stories260K.gguf")
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 9))
	const bs = 4
	c, err := m.NewCacheWith(3, 40, CacheOptions{Type: KVF32, BlockSize: bs, Blocks: 16})
	if err != nil {
		t.Fatal(err)
	}
	all := func(int) bool { return true }
	check := func(what string) {
		t.Helper()
		if err := c.check(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	inUse := func() int { return c.Stats().InUse }
	run := func(what string, slot int, seq []int, start int) {
		t.Helper()
		got, err := m.Forward(ctx, c, seqBatch(seq[start:], slot, start, all))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		want := soloLogits(t, m, seq)[start:]
		for i := range got {
			if d := maxAbsDiff(got[i], want[i]); d != 0 {
				t.Fatalf("%s: position %d differs from the solo run by %.3g", what, start+i, d)
			}
		}
		check(what)
	}
	cat := func(a, b []int) []int { return append(append([]int(nil), a...), b...) }

	x := randomTokens(rng, m.Config.Vocab, 10) // blocks 0,1 full, block 2 half
	run("prompt", 0, x, 0)
	if got := inUse(); got != 3 {
		t.Fatalf("10 positions use %d blocks, want 3", got)
	}

	// A copy shares all three blocks; the first write into the shared
	// half block copies it, for whichever slot writes first.
	if err := c.CopyPrefix(0, 1, 10); err != nil {
		t.Fatal(err)
	}
	check("copy")
	if got := inUse(); got != 3 {
		t.Fatalf("after CopyPrefix %d blocks in use, want 3 (shared)", got)
	}
	y, z := randomTokens(rng, m.Config.Vocab, 1), randomTokens(rng, m.Config.Vocab, 3)
	run("copy continued", 1, cat(x, y), 10)
	if got := inUse(); got != 4 {
		t.Fatalf("after writing into the shared block %d blocks in use, want 4", got)
	}
	run("source continued", 0, cat(x, z), 10) // its own block is private again
	if got := inUse(); got != 5 {
		t.Fatalf("after the source grew into a new block %d blocks in use, want 5", got)
	}

	// Publish slot 0's full blocks (0..2: positions 0..11), then clear it:
	// they stay cached. A new prompt sharing 9 tokens attaches 2 blocks.
	src := cat(x, z)
	c.Publish(0, src)
	check("publish")
	c.Clear(0)
	c.Clear(1)
	check("clear")
	if st := c.Stats(); st.InUse != 0 || st.Cached != 3 {
		t.Fatalf("after Clear: %+v, want 0 in use and 3 cached", st)
	}
	w := cat(src[:9], randomTokens(rng, m.Config.Vocab, 6))
	if got := c.AttachPrefix(2, w); got != 8 {
		t.Fatalf("AttachPrefix reused %d positions, want 8", got)
	}
	check("attach")
	run("attached prefix continued", 2, w, 8)
	// Different tokens in the first block share nothing.
	other := cat([]int{(src[0] + 1) % m.Config.Vocab}, src[1:])
	if got := c.AttachPrefix(1, other); got != 0 {
		t.Fatalf("AttachPrefix of a different first token reused %d positions", got)
	}

	// Truncating into a published block and rewriting copies it: the
	// cached version stays valid for the next request.
	c.Clear(2)
	if got := c.AttachPrefix(2, src); got != 12 {
		t.Fatalf("AttachPrefix of the published sequence reused %d, want 12", got)
	}
	c.Truncate(2, 6)
	v := cat(src[:6], randomTokens(rng, m.Config.Vocab, 5))
	run("rewrite inside a published block", 2, v, 6)
	c.Clear(2)
	check("clear")
	if got := c.AttachPrefix(0, src); got != 12 {
		t.Fatalf("after a rewrite the published blocks give %d positions, want 12", got)
	}
	run("published prefix still valid", 0, cat(src, y), 12)
}

// TestCacheEviction fills a pool of 6 blocks of 4 positions: cached blocks
// are given up least recently released first, and the tail of a sequence
// before its head (so what stays cached is still a usable prefix); a step
// needing more blocks than the pool can free fails with ErrCacheFull and
// changes nothing.
func TestCacheEviction(t *testing.T) {
	m := openModel(t, "stories260K.gguf")
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 1))
	c, err := m.NewCacheWith(2, 40, CacheOptions{Type: KVF16, BlockSize: 4, Blocks: 6})
	if err != nil {
		t.Fatal(err)
	}
	all := func(int) bool { return true }
	fill := func(slot int, seq []int, start int) error {
		_, err := m.Forward(ctx, c, seqBatch(seq[start:], slot, start, all))
		if cerr := c.check(); cerr != nil {
			t.Fatal(cerr)
		}
		return err
	}
	a, b, d := randomTokens(rng, m.Config.Vocab, 8), randomTokens(rng, m.Config.Vocab, 8), randomTokens(rng, m.Config.Vocab, 12)
	for _, seq := range [][]int{a, b} {
		if err := fill(0, seq, 0); err != nil {
			t.Fatal(err)
		}
		c.Publish(0, seq)
		c.Clear(0)
	}
	if st := c.Stats(); st.Cached != 4 || st.Allocated != 4 {
		t.Fatalf("after two published sequences: %+v, want 4 cached of 4", st)
	}
	// Three blocks for d: two never used, then the LRU one: a's tail.
	if err := fill(1, d, 0); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Evicted != 1 || st.Allocated != 6 || st.Cached != 3 {
		t.Fatalf("after d: %+v, want 1 evicted, 6 allocated, 3 cached", st)
	}
	if got := c.AttachPrefix(0, a); got != 4 {
		t.Fatalf("a after eviction of its tail: %d positions cached, want 4", got)
	}
	if got := c.AttachPrefix(0, b); got != 8 {
		t.Fatalf("b: %d positions cached, want 8", got)
	}
	// Slot 0 holds b's 2 blocks, slot 1 d's 3; a's head is the one block
	// left to evict; 12 more positions need 3.
	more := append(append([]int(nil), b...), randomTokens(rng, m.Config.Vocab, 12)...)
	err = fill(0, more, 8)
	if !errors.Is(err, ErrCacheFull) {
		t.Fatalf("step beyond the pool: %v, want ErrCacheFull", err)
	}
	if c.Len(0) != 8 || c.Len(1) != 12 {
		t.Fatalf("failed step changed lengths to %d, %d", c.Len(0), c.Len(1))
	}
	// Within the pool it goes on (4 more positions: one block).
	if err := fill(0, more[:12], 8); err != nil {
		t.Fatal(err)
	}
	t.Logf("pool: %+v", c.Stats())
}

func TestParseKVType(t *testing.T) {
	tests := []struct {
		in   string
		want KVType
		ok   bool
	}{
		{"f16", KVF16, true}, {"F32", KVF32, true}, {"q8_0", KVQ8_0, true}, {"Q8_0", KVQ8_0, true},
		{"q8", 0, false}, {"", 0, false}, {"default", 0, false}, {"bf16", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseKVType(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseKVType(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && !strings.EqualFold(got.String(), tt.in) {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
	m := openModel(t, "stories260K.gguf")
	for _, o := range []CacheOptions{{Type: KVQ8_0 + 1}, {BlockSize: -1}, {Blocks: -3}} {
		if _, err := m.NewCacheWith(1, 8, o); err == nil {
			t.Errorf("NewCacheWith(%+v) accepted", o)
		}
	}
	if c, err := m.NewCacheWith(1, 8, CacheOptions{}); err != nil || c.Type() != KVF32 || c.BlockSize() != DefaultBlockSize {
		t.Errorf("default options on a model loaded with KV f32: %v, type %v, block %d", err, c.Type(), c.BlockSize())
	}
}

// TestCacheMaxBytes checks the bound the server sizes its heap limit by:
// the pool's block count (given, or slots x blocks per context) times the
// block's positions times a position's bytes (stories260K: 5 layers, 4 KV
// heads of 8 dimensions, keys and values).
func TestCacheMaxBytes(t *testing.T) {
	m := openModel(t, "stories260K.gguf")
	for _, tc := range []struct {
		slots, ctx int
		o          CacheOptions
		want       int64
	}{
		{2, 40, CacheOptions{Type: KVF32, BlockSize: 16}, 2 * 3 * 16 * 5 * 4 * 16 * 4},
		{2, 40, CacheOptions{Type: KVF16, BlockSize: 4, Blocks: 6}, 6 * 4 * 5 * 4 * 16 * 2},
		{1, 17, CacheOptions{Type: KVF16}, 2 * 16 * 5 * 4 * 16 * 2},
	} {
		c, err := m.NewCacheWith(tc.slots, tc.ctx, tc.o)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.MaxBytes(); got != tc.want {
			t.Errorf("%d slots x %d, %+v: MaxBytes %d, want %d", tc.slots, tc.ctx, tc.o, got, tc.want)
		}
	}
}
