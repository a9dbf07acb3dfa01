package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/synth"
	"github.com/kiln-llm/kiln/tensor"
)

func synthCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "path of the GGUF file to write (required)")
	preset := fs.String("preset", "", "named shape: "+strings.Join(synth.PresetNames(), ", "))
	typ := fs.String("type", "f32", "tensor type of the 2-D weights (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k ... q6_k)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed and shape give the same file")
	vocabFrom := fs.String("vocab-from", "", "copy the tokenizer of this GGUF file (default: a built-in SentencePiece-style vocabulary)")
	s := synth.Spec{}
	fs.StringVar(&s.Arch, "arch", "llama", "architecture: llama, qwen2, qwen3, gemma3, phi3 (ignored with --preset)")
	fs.IntVar(&s.Embd, "embd", 64, "embedding width")
	fs.IntVar(&s.Layers, "layers", 2, "number of layers")
	fs.IntVar(&s.Heads, "heads", 4, "attention heads")
	fs.IntVar(&s.HeadsKV, "heads-kv", 2, "key/value heads")
	fs.IntVar(&s.HeadDim, "head-dim", 0, "head width (default embd/heads)")
	fs.IntVar(&s.FF, "ff", 128, "feed-forward width")
	fs.IntVar(&s.Vocab, "vocab", 0, "vocabulary size, padded with unused tokens (default: what the built-in vocabulary needs)")
	fs.IntVar(&s.Ctx, "ctx", 2048, "training context length")
	fs.Float64Var(&s.RopeBase, "rope-base", 10000, "RoPE frequency base")
	fs.Float64Var(&s.RMSEps, "rms-eps", 1e-5, "RMSNorm epsilon")
	fs.BoolVar(&s.Tied, "tied", false, "tie the output projection to the token embeddings")
	fs.IntVar(&s.SlidingWindow, "sliding-window", 0, "gemma3 sliding-window size")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *out == "" {
		return fmt.Errorf("synth: --out is required")
	}
	if *preset != "" {
		p, err := synth.Preset(*preset)
		if err != nil {
			return err
		}
		s = p
	}
	t, err := tensor.ParseType(*typ)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	s.Type, s.Seed = t, *seed
	if *vocabFrom != "" {
		vf, err := gguf.Open(*vocabFrom)
		if err != nil {
			return err
		}
		defer vf.Close()
		s.VocabFrom = vf
	}
	w, err := synth.Build(s)
	if err != nil {
		return err
	}
	if err := w.WriteFile(*out); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "wrote %s (%s, %s)\n", *out, s.Arch, t)
	return err
}
