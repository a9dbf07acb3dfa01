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
	m := benchModel(b)
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

// BenchmarkPrefill measures a 512-token prompt computed in one batch (logits
// of the last token only) on the model named by KILN_BENCH_MODEL, as kiln
// bench's prefill figure does, without the bench's limit measurements: it is
// the one to profile prefill with.
func BenchmarkPrefill(b *testing.B) {
	m := benchModel(b)
	const n = 512
	ctx := context.Background()
	prompt := make([]int, n)
	for i := range prompt {
		prompt[i] = (i*7919 + 13) % m.Config.Vocab
	}
	c := m.NewCache(1, n)
	batch := seqBatch(prompt, 0, 0, func(i int) bool { return i == n-1 })
	for b.Loop() {
		c.Truncate(0, 0)
		if _, err := m.Forward(ctx, c, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkBatchDecode measures one decode step of 1, 4 and 8 sequences at
// 256 cached positions each, on the model named by KILN_BENCH_MODEL (default
// the small synth-llama-gqa-q8_0 test model). tok/s of 8 over tok/s of 1 is
// what continuous batching can give at most: the HTTP server adds sampling
// and streaming on top.
func BenchmarkBatchDecode(b *testing.B) {
	m := benchModel(b)
	const depth = 256
	ctx := context.Background()
	for _, n := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("seqs%d", n), func(b *testing.B) {
			c := m.NewCache(n, depth+1)
			prompt := make([]int, depth)
			step := &Batch{}
			for s := range n {
				for i := range prompt {
					prompt[i] = (i*7919 + 13*s + 1) % m.Config.Vocab
				}
				if _, err := m.Forward(ctx, c, seqBatch(prompt, s, 0, func(int) bool { return false })); err != nil {
					b.Fatal(err)
				}
				step.Tokens = append(step.Tokens, 42+s)
				step.Pos = append(step.Pos, depth)
				step.Seq = append(step.Seq, s)
				step.Output = append(step.Output, true)
			}
			for b.Loop() {
				for s := range n {
					c.Truncate(s, depth)
				}
				if _, err := m.Forward(ctx, c, step); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// benchModel loads the model at KILN_BENCH_MODEL as kiln serve does (read
// into huge pages and repacked), or the small Q8_0 test model when it is
// unset.
func benchModel(b *testing.B) *Model {
	p := os.Getenv("KILN_BENCH_MODEL")
	if p == "" {
		return openModel(b, "synth-llama-gqa-q8_0.gguf")
	}
	f, err := gguf.OpenIn(p, gguf.HugePages)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	m, err := Load(f, Options{Workers: testWorkers})
	if err != nil {
		b.Fatal(err)
	}
	return m
}
