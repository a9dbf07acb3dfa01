package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/kiln-llm/kiln/synth"
	"github.com/kiln-llm/kiln/tensor"
)

// BenchmarkThroughput measures aggregate completion tokens/s with 1, 4 and 8
// concurrent greedy requests (32 tokens each, distinct 16-token prompts) on
// the 110M Q8_0 shape of shared/reference/peer-speed.md, synthesized into a
// temporary file. Like every benchmark it runs only with -bench; building
// the ~140 MB model takes a few seconds.
func BenchmarkThroughput(b *testing.B) {
	spec, err := synth.Preset("bench-110m")
	if err != nil {
		b.Fatal(err)
	}
	spec.Type = tensor.Q8_0
	w, err := synth.Build(spec)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "bench-110m-q8_0.gguf")
	if err := w.WriteFile(path); err != nil {
		b.Fatal(err)
	}
	m, tok := openModelTok(b, path)
	const promptLen, maxTokens = 16, 32
	for _, conc := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("concurrent=%d", conc), func(b *testing.B) {
			e := newEngine(b, m, tok, Options{Parallel: conc, Ctx: 256})
			generated, iter := 0, 0
			for b.Loop() {
				chans := make([]<-chan Event, conc)
				for i := range chans {
					// Distinct prompts, so no request reuses another's cache.
					prompt := []int{1}
					for j := 1; j < promptLen; j++ {
						prompt = append(prompt, 300+(iter*conc+i)*promptLen+j)
					}
					ch, err := e.Submit(context.Background(), GenRequest{Prompt: prompt, MaxTokens: maxTokens, IgnoreEOS: true})
					if err != nil {
						b.Fatal(err)
					}
					chans[i] = ch
				}
				for _, ch := range chans {
					r := collect(b, ch)
					if r.last.Err != nil {
						b.Fatal(r.last.Err)
					}
					generated += r.last.CompletionTokens
				}
				iter++
			}
			b.ReportMetric(float64(generated)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
