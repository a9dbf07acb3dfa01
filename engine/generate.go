// Package engine turns requests into model steps. Engine is the server's
// continuous-batching scheduler: many sequences share each batched model step,
// joining and leaving between steps. Generate is the plain one-sequence loop
// the command line uses, and the independent reference the scheduler is
// tested against.
package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/kiln-llm/kiln/model"
)

// FinishReason says why generation ended, with OpenAI's names.
type FinishReason string

const (
	FinishStop   FinishReason = "stop"   // an end-of-generation token was produced
	FinishLength FinishReason = "length" // the token budget or the context ran out
)

// Picker chooses the next token from a row of logits (greedy, or a sampler).
type Picker func(logits []float32) int

// Request is one sequence to continue.
type Request struct {
	Prompt    []int
	MaxTokens int
	Pick      Picker
	// IsEnd reports end-of-generation tokens; the end token itself is not emitted.
	IsEnd func(tok int) bool
	// Emit receives each generated token as soon as it is chosen; returning an
	// error stops generation with that error.
	Emit func(tok int) error
	// PrefillChunk bounds the tokens of one prompt step, which bounds the
	// activation memory a long prompt needs; 0 means DefaultPrefillChunk.
	PrefillChunk int
}

// DefaultPrefillChunk is the prompt step size when a request sets none.
const DefaultPrefillChunk = 256

// Generate runs req on slot of cache (which it clears first) and returns why it stopped.
func Generate(ctx context.Context, m *model.Model, cache *model.Cache, slot int, req Request) (FinishReason, error) {
	if len(req.Prompt) == 0 {
		return "", errors.New("engine: empty prompt")
	}
	if req.Pick == nil || req.Emit == nil {
		return "", errors.New("engine: request needs Pick and Emit")
	}
	cache.Clear(slot)
	defer cache.Clear(slot)

	chunk := req.PrefillChunk
	if chunk <= 0 {
		chunk = DefaultPrefillChunk
	}
	var logits []float32
	for start := 0; start < len(req.Prompt); start += chunk {
		end := min(start+chunk, len(req.Prompt))
		b := &model.Batch{}
		for i := start; i < end; i++ {
			b.Tokens = append(b.Tokens, req.Prompt[i])
			b.Pos = append(b.Pos, i)
			b.Seq = append(b.Seq, slot)
			b.Output = append(b.Output, i == len(req.Prompt)-1)
		}
		out, err := m.Forward(ctx, cache, b)
		if err != nil {
			return "", fmt.Errorf("engine: prompt step at %d: %w", start, err)
		}
		if end == len(req.Prompt) {
			logits = out[0]
		}
	}

	pos := len(req.Prompt)
	for n := 0; n < req.MaxTokens; n++ {
		tok := req.Pick(logits)
		if req.IsEnd != nil && req.IsEnd(tok) {
			return FinishStop, nil
		}
		if err := req.Emit(tok); err != nil {
			return "", err
		}
		if n+1 == req.MaxTokens || pos >= cache.Ctx() {
			break
		}
		out, err := m.Forward(ctx, cache, &model.Batch{Tokens: []int{tok}, Pos: []int{pos}, Seq: []int{slot}, Output: []bool{true}})
		if err != nil {
			return "", fmt.Errorf("engine: decode step at %d: %w", pos, err)
		}
		logits = out[0]
		pos++
	}
	return FinishLength, nil
}
