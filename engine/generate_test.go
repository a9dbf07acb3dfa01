package engine

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/internal/testmodels"
	"github.com/kiln-llm/kiln/model"
	"github.com/kiln-llm/kiln/sample"
)

func loadStories(t *testing.T) *model.Model {
	t.Helper()
	f, err := gguf.Open(testmodels.Path(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	m, err := model.Load(f, model.Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// golden is the greedy continuation of stories260K from BOS given in
// shared/models/README.md (checked there with a float64 reference).
var golden = []int{
	403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
	410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352,
	266, 268, 388, 426, 338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415,
	426, 13, 438, 310, 439, 419, 357, 336, 432, 313, 438, 310, 432, 278, 316, 439, 419, 298, 414, 267,
}

func generate(t *testing.T, m *model.Model, prompt []int, n, chunk int) ([]int, FinishReason) {
	t.Helper()
	var got []int
	cache := m.NewCache(1, 512)
	reason, err := Generate(context.Background(), m, cache, 0, Request{
		Prompt: prompt, MaxTokens: n, Pick: sample.Greedy, PrefillChunk: chunk,
		IsEnd: func(tok int) bool { return tok == 2 },
		Emit:  func(tok int) error { got = append(got, tok); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, reason
}

func TestGreedyGolden(t *testing.T) {
	m := loadStories(t)
	got, reason := generate(t, m, []int{1}, len(golden), 0)
	if reason != FinishLength {
		t.Errorf("finish %q, want length", reason)
	}
	for i := range golden {
		if i >= len(got) || got[i] != golden[i] {
			t.Fatalf("token %d: got %v, want golden %v", i, got, golden)
		}
	}
}

// A prompt fed in chunks of 3 must continue exactly as one fed whole.
func TestPrefillChunksAgree(t *testing.T) {
	m := loadStories(t)
	prompt := append([]int{1}, golden[:40]...)
	whole, _ := generate(t, m, prompt, 10, 0)
	chunked, _ := generate(t, m, prompt, 10, 3)
	if len(whole) != 10 {
		t.Fatalf("got %d tokens", len(whole))
	}
	for i := range whole {
		if whole[i] != chunked[i] {
			t.Fatalf("chunked prefill diverged: %v vs %v", chunked, whole)
		}
	}
	for i, tok := range whole {
		if tok != golden[40+i] {
			t.Fatalf("continuation %v, want golden %v", whole, golden[40:50])
		}
	}
}

func TestStopAndErrors(t *testing.T) {
	m := loadStories(t)
	cache := m.NewCache(1, 512)
	// Ending on the first token: nothing is emitted and the reason is stop.
	n := 0
	reason, err := Generate(context.Background(), m, cache, 0, Request{
		Prompt: []int{1}, MaxTokens: 5, Pick: sample.Greedy,
		IsEnd: func(int) bool { return true },
		Emit:  func(int) error { n++; return nil },
	})
	if err != nil || reason != FinishStop || n != 0 {
		t.Fatalf("reason %q, err %v, emitted %d", reason, err, n)
	}
	// Emit's error stops generation and comes back.
	stop := errors.New("client went away")
	_, err = Generate(context.Background(), m, cache, 0, Request{
		Prompt: []int{1}, MaxTokens: 5, Pick: sample.Greedy,
		Emit: func(int) error { return stop },
	})
	if !errors.Is(err, stop) {
		t.Fatalf("err %v, want %v", err, stop)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, m, cache, 0, Request{Prompt: []int{1}, MaxTokens: 5, Pick: sample.Greedy, Emit: func(int) error { return nil }}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: err %v", err)
	}
	if _, err := Generate(context.Background(), m, cache, 0, Request{MaxTokens: 5, Pick: sample.Greedy, Emit: func(int) error { return nil }}); err == nil {
		t.Fatal("empty prompt accepted")
	}
	if cache.Len(0) != 0 {
		t.Fatalf("slot not freed: %d positions cached", cache.Len(0))
	}
}

// A cache smaller than the request ends generation with FinishLength when it
// fills, never with an out-of-range step.
func TestGenerateStopsAtCacheEnd(t *testing.T) {
	m := loadStories(t)
	var got []int
	reason, err := Generate(context.Background(), m, m.NewCache(1, 8), 0, Request{
		Prompt: []int{1, 403, 407, 261}, MaxTokens: 10, Pick: sample.Greedy,
		Emit: func(tok int) error { got = append(got, tok); return nil },
	})
	if err != nil || reason != FinishLength {
		t.Fatalf("reason %q, err %v", reason, err)
	}
	// Positions 4..7 hold generated tokens 1..4; the fifth token is chosen
	// from the logits of position 7 and needs no further step.
	if want := golden[3:8]; !slices.Equal(got, want) {
		t.Fatalf("tokens %v, want %v", got, want)
	}
}
