package model

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/internal/testmodels"
)

// testWorkers keeps tests representative of the 2-core CI machines.
const testWorkers = 2

// modelPath finds a model file by name in the models directory or synth/.
func modelPath(t testing.TB, name string) string {
	t.Helper()
	dir := testmodels.Dir(t)
	for _, p := range []string{filepath.Join(dir, "synth", name), filepath.Join(dir, name)} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("model %s not found under %s", name, dir)
	return ""
}

// openModel opens and loads a model file, closing it when the test ends.
// Keys and values are F32: the references allow 1e-4, which F16 ones do
// not reach (TestKVTypes measures them).
func openModel(t testing.TB, name string) *Model {
	t.Helper()
	return openModelWith(t, name, Options{Workers: testWorkers, KV: KVF32})
}

func openModelWith(t testing.TB, name string, opt Options) *Model {
	t.Helper()
	f, err := gguf.Open(modelPath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	m, err := Load(f, opt)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type refLogprob struct {
	ID      int     `json:"id"`
	Logprob float64 `json:"logprob"`
}

type refCase struct {
	Name            string         `json:"name"`
	PromptTokens    []int          `json:"prompt_tokens"`
	GeneratedTokens []int          `json:"generated_tokens"`
	TopLogprobs     [][]refLogprob `json:"top_logprobs"`
}

type refFile struct {
	Model       string    `json:"model"`
	WeightTypes []string  `json:"weight_types"`
	Cases       []refCase `json:"cases"`
}

func readRef(t testing.TB, path string) refFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r refFile
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// logSoftmax returns the float64 log-probabilities of a logits row.
func logSoftmax(logits []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(sum)
	out := make([]float64, len(logits))
	for i, v := range logits {
		out[i] = float64(v) - lse
	}
	return out
}

// argmax returns the index of the largest value, the lowest on ties (the
// references' rule).
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// seqBatch is a batch of tokens of one slot starting at position start.
func seqBatch(tokens []int, slot, start int, output func(i int) bool) *Batch {
	b := &Batch{}
	for i, tok := range tokens {
		b.Tokens = append(b.Tokens, tok)
		b.Pos = append(b.Pos, start+i)
		b.Seq = append(b.Seq, slot)
		b.Output = append(b.Output, output(i))
	}
	return b
}

// greedy feeds prompt as one batch then generates steps tokens one Forward
// at a time, returning the generated ids.
func greedy(t testing.TB, m *Model, prompt []int, steps int) []int {
	t.Helper()
	ctx := context.Background()
	c := m.NewCache(1, len(prompt)+steps)
	out, err := m.Forward(ctx, c, seqBatch(prompt, 0, 0, func(i int) bool { return i == len(prompt)-1 }))
	if err != nil {
		t.Fatal(err)
	}
	var gen []int
	for s := 0; s < steps; s++ {
		tok := argmax(out[0])
		gen = append(gen, tok)
		if s == steps-1 {
			break
		}
		out, err = m.Forward(ctx, c, seqBatch([]int{tok}, 0, len(prompt)+s, func(int) bool { return true }))
		if err != nil {
			t.Fatal(err)
		}
	}
	return gen
}
