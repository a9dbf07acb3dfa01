package synth

import (
	"context"
	"math"
	"testing"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/model"
	"github.com/kiln-llm/kiln/tensor"
	"github.com/kiln-llm/kiln/tokenizer"
)

// TestModelsRun loads a synthesized model of every architecture and tensor
// family with the real loader and checks the forward pass over it: finite
// logits, and a quantized copy tracking the F32 original.
func TestModelsRun(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2", "qwen3", "gemma3", "phi3"} {
		t.Run(arch, func(t *testing.T) {
			ref := logitsOf(t, small(arch, tensor.F32))
			q := logitsOf(t, small(arch, tensor.Q8_0))
			// Q8_0 weights (relative RMS error ~0.5%) move these logits by
			// far less than their spread; a wrong layout or a misread
			// tensor moves them by about the spread itself.
			var diff, spread float64
			for i := range ref {
				diff = math.Max(diff, math.Abs(float64(ref[i]-q[i])))
				spread = math.Max(spread, math.Abs(float64(ref[i])))
			}
			if diff > 0.1*spread {
				t.Errorf("Q8_0 logits differ from F32 by %.4f (logit range %.4f)", diff, spread)
			}
		})
	}
}

func logitsOf(t *testing.T, s Spec) []float32 {
	t.Helper()
	path, _ := writeSpec(t, s)
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.Load(f, model.Options{Workers: 1})
	if err != nil {
		t.Fatalf("load %s: %v", s.Arch, err)
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode("the cat saw a big dog", true, false)
	b := &model.Batch{}
	for i, id := range ids {
		b.Tokens = append(b.Tokens, id)
		b.Pos = append(b.Pos, i)
		b.Seq = append(b.Seq, 0)
		b.Output = append(b.Output, i == len(ids)-1)
	}
	out, err := m.Forward(context.Background(), m.NewCache(1, 64), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range out[0] {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatal("non-finite logit")
		}
	}
	return append([]float32(nil), out[0]...)
}

// The built-in vocabulary turns its seed words into single tokens, so the
// demo model's prompts are a few word pieces, not a run of bytes.
func TestBuiltinVocabTokenizes(t *testing.T) {
	path, _ := writeSpec(t, small("llama", tensor.F32))
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode("The cat saw a big dog", false, false)
	var pieces []string
	for _, id := range ids {
		pieces = append(pieces, tok.Piece(id))
	}
	want := []string{"▁The", "▁cat", "▁saw", "▁a", "▁big", "▁dog"}
	if len(pieces) != len(want) {
		t.Fatalf("pieces %q, want %q", pieces, want)
	}
	for i := range want {
		if pieces[i] != want[i] {
			t.Fatalf("pieces %q, want %q", pieces, want)
		}
	}
	if got := tok.Decode(tok.Encode("héllo ☃", false, false), false); got != " héllo ☃" {
		t.Fatalf("byte fallback round trip: %q", got)
	}
}
