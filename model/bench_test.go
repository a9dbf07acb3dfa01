package model

import (
	"context"
	"testing"
)

// BenchmarkForward measures one decode step (a batch of one token after a
// 64-token prompt) and a 64-token prefill (logits of the last token only).
func BenchmarkForward(b *testing.B) {
	for _, file := range []string{"synth-llama-gqa-q4_0.gguf", "synth-llama-gqa-f32.gguf"} {
		m := openModel(b, file)
		prompt := make([]int, 64)
		for i := range prompt {
			prompt[i] = (i*37 + 11) % m.Config.Vocab
		}
		ctx := context.Background()
		last := func(i int) bool { return i == len(prompt)-1 }
		b.Run(file+"/decode", func(b *testing.B) {
			c := m.NewCache(1, 128)
			if _, err := m.Forward(ctx, c, seqBatch(prompt, 0, 0, last)); err != nil {
				b.Fatal(err)
			}
			step := seqBatch([]int{42}, 0, len(prompt), func(int) bool { return true })
			b.ReportAllocs()
			for b.Loop() {
				c.Truncate(0, len(prompt))
				if _, err := m.Forward(ctx, c, step); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
		b.Run(file+"/prefill64", func(b *testing.B) {
			c := m.NewCache(1, 128)
			batch := seqBatch(prompt, 0, 0, last)
			b.ReportAllocs()
			for b.Loop() {
				c.Truncate(0, 0)
				if _, err := m.Forward(ctx, c, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(prompt))/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
