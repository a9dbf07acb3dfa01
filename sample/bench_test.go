package sample

import (
	"math/rand/v2"
	"testing"
)

func benchConfigs() map[string]Params {
	return map[string]Params{
		"greedy":                   {},
		"temp1":                    {Temperature: 1},
		"topk40":                   {Temperature: 0.8, TopK: 40},
		"topp0.9":                  {Temperature: 1, TopP: 0.9},
		"minp0.05":                 {Temperature: 1, MinP: 0.05},
		"topk40_topp0.95_minp0.05": {Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05},
		"penalties_topp0.9": {Temperature: 1, TopP: 0.9, PresencePenalty: 0.5, FrequencyPenalty: 0.5,
			RepetitionPenalty: 1.1, LogitBias: map[int]float32{5: 2, 7: -100}},
	}
}

// llmLogits imitates a language model's row: a broad normal body (sd 2.5)
// and a few dozen candidates 10 to 20 nats above it, so the body holds a
// few percent of the mass and top_p 0.9 keeps a handful of tokens.
func llmLogits(vocab int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	l := make([]float32, vocab)
	for i := range l {
		l[i] = float32(r.NormFloat64() * 2.5)
	}
	for j := range 40 {
		l[r.IntN(vocab)] = float32(20 - 0.25*float64(j))
	}
	return l
}

// BenchmarkSample measures one Sample call at Qwen's vocabulary (151936) on
// an LLM-like row (see llmLogits). The "flat" case has only a normal body
// (sd 1), where top_p 0.9 keeps most of the vocabulary: the worst case of
// the bucketed filter.
func BenchmarkSample(b *testing.B) {
	const vocab = 151936
	logits := llmLogits(vocab, 1)
	flat := make([]float32, vocab)
	r := rand.New(rand.NewPCG(2, 2))
	for i := range flat {
		flat[i] = float32(r.NormFloat64())
	}
	history := make([]int, 200)
	for i := range history {
		history[i] = r.IntN(vocab)
	}
	run := func(name string, p Params, row []float32) {
		b.Run(name, func(b *testing.B) {
			s := New(p, vocab)
			s.Prompt(history)
			for _, id := range history[:50] {
				s.Accept(id)
			}
			c := startCPU()
			for b.Loop() {
				s.Sample(row, nil)
			}
			c.report(b)
		})
	}
	for name, p := range benchConfigs() {
		run(name, p, logits)
	}
	run("topp0.9_flat", Params{Temperature: 1, TopP: 0.9}, flat)
}

func BenchmarkLogprobs(b *testing.B) {
	logits := llmLogits(151936, 3)
	b.Run("Logprob", func(b *testing.B) {
		c := startCPU()
		for b.Loop() {
			Logprob(logits, 17)
		}
		c.report(b)
	})
	b.Run("TopLogprobs20", func(b *testing.B) {
		c := startCPU()
		for b.Loop() {
			TopLogprobs(logits, 20)
		}
		c.report(b)
	})
	b.Run("Logprobs1", func(b *testing.B) {
		c := startCPU()
		for b.Loop() {
			Logprobs(logits, 17, 1)
		}
		c.report(b)
	})
	b.Run("Logprobs20", func(b *testing.B) {
		c := startCPU()
		for b.Loop() {
			Logprobs(logits, 17, 20)
		}
		c.report(b)
	})
}
