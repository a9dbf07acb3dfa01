package model

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/kiln-llm/kiln/gguf"
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

// BenchmarkDecodeKV measures one decode step after 100 and 1000 cached
// positions for each KV type, on the model named by KILN_BENCH_MODEL (a
// path; default the small synth-llama-gqa-q8_0 test model). The figure to
// watch is how tok/s falls from 100 to 1000 positions: that is attention.
func BenchmarkDecodeKV(b *testing.B) {
	var m *Model
	if p := os.Getenv("KILN_BENCH_MODEL"); p != "" {
		f, err := gguf.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		if m, err = Load(f, Options{Workers: testWorkers}); err != nil {
			b.Fatal(err)
		}
	} else {
		m = openModel(b, "synth-llama-gqa-q8_0.gguf")
	}
	ctx := context.Background()
	for _, pos := range []int{100, 1000} {
		prompt := make([]int, pos)
		for i := range prompt {
			prompt[i] = (i*7919 + 13) % m.Config.Vocab
		}
		for _, kv := range []KVType{KVF32, KVF16, KVQ8_0} {
			b.Run(fmt.Sprintf("pos%d/%s", pos, kv), func(b *testing.B) {
				c, err := m.NewCacheWith(1, pos+1, CacheOptions{Type: kv})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := m.Forward(ctx, c, seqBatch(prompt, 0, 0, func(i int) bool { return i == pos-1 })); err != nil {
					b.Fatal(err)
				}
				step := seqBatch([]int{42}, 0, pos, func(int) bool { return true })
				for b.Loop() {
					c.Truncate(0, pos)
					if _, err := m.Forward(ctx, c, step); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
				b.ReportMetric(float64(pos*c.PositionBytes())*float64(b.N)/b.Elapsed().Seconds()/1e9, "KV-GB/s")
			})
		}
	}
}
