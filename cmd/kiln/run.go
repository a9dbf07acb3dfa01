package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/kiln-llm/kiln/engine"
	"github.com/kiln-llm/kiln/model"
	"github.com/kiln-llm/kiln/sample"
)

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := modelFlag(fs)
	prompt := fs.String("prompt", "", "prompt text (the model's BOS token is added when the model asks for it)")
	maxTokens := fs.Int("max-tokens", 128, "maximum number of tokens to generate")
	temperature := fs.Float64("temperature", 0, "sampling temperature; 0 is greedy")
	seed := fs.Uint64("seed", 0, "random seed for sampling")
	threads := fs.Int("threads", 0, "worker goroutines (default: one per CPU)")
	ctxSize := fs.Int("ctx-size", 4096, "context window in tokens (capped at the model's training context)")
	kvType := kvTypeFlag(fs)
	mmap := mmapFlag(fs)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("run: unexpected argument %q (the prompt goes in --prompt)", fs.Arg(0))
	}
	if *maxTokens < 0 || *temperature < 0 || *ctxSize < 1 {
		return fmt.Errorf("run: --max-tokens and --temperature must not be negative, --ctx-size must be positive")
	}
	kv, err := parseKV(*kvType)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	l, err := load(*modelPath, &model.Options{Workers: *threads, KV: kv}, placement(*mmap), stderr)
	if err != nil {
		return err
	}
	defer l.Close()

	ids := l.tok.Encode(*prompt, true, true)
	if len(ids) == 0 {
		if l.tok.BOS() < 0 {
			return fmt.Errorf("run: empty prompt and the model has no BOS token to start from")
		}
		ids = []int{l.tok.BOS()}
	}
	n := min(*ctxSize, l.model.Config.CtxTrain)
	if len(ids) >= n {
		return fmt.Errorf("run: the prompt has %d tokens; the context holds %d", len(ids), n)
	}
	cache := l.model.NewCache(1, n)
	limitHeap(cache.MaxBytes())
	s := sample.New(sample.Params{Temperature: *temperature, Seed: *seed}, l.model.Config.Vocab)
	s.Prompt(ids)
	out := bufio.NewWriter(stdout)
	dec := l.tok.NewDecoder(false)
	_, err = engine.Generate(ctx, l.model, cache, 0, engine.Request{
		Prompt:    ids,
		MaxTokens: min(*maxTokens, n-len(ids)),
		Pick: func(logits []float32) int {
			t := s.Sample(logits, nil)
			s.Accept(t)
			return t
		},
		IsEnd: l.tok.IsEOG,
		Emit: func(tok int) error {
			if _, err := out.WriteString(dec.Add(tok)); err != nil {
				return err
			}
			return out.Flush()
		},
	})
	out.WriteString(dec.Flush())
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	// stdout carries only the generated text; the line end that keeps a
	// terminal tidy goes to stderr.
	fmt.Fprintln(stderr)
	return err
}
