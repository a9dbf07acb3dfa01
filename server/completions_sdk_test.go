package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// The golden continuation of stories260K from BOS (shared/models/README.md).
var goldenIDs = []int{403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
	410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352,
	266, 268, 388, 426, 338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415,
	426, 13, 438, 310, 439, 419, 357, 336, 432, 313, 438, 310, 432, 278, 316, 439, 419, 298, 414, 267}

const goldenText = " Once upon a time, there was a little girl named Lily. She loved to play outside in the park. " +
	"One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to"

func greedyCompletion(prompt openai.CompletionNewParamsPromptUnion, maxTokens int64) openai.CompletionNewParams {
	return openai.CompletionNewParams{
		Model:       openai.CompletionNewParamsModel(modelID),
		Prompt:      prompt,
		MaxTokens:   openai.Int(maxTokens),
		Temperature: openai.Float(0),
	}
}

// TestCompletionGolden generates the README's golden continuation from the
// BOS token through /v1/completions, streamed and not, and checks the
// token ids through logprobs.
func TestCompletionGolden(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	p := greedyCompletion(openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: []int64{1}}, 64)
	p.Logprobs = openai.Int(0)
	resp, err := e.client.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	r := ref(t)
	want := r.tok.Decode(goldenIDs[:64], false)
	if !strings.HasPrefix(goldenText, want) {
		t.Fatalf("test bug: golden ids decode to %q", want)
	}
	c := resp.Choices[0]
	if c.Text != want || c.FinishReason != "length" {
		t.Errorf("text %q finish %q, want %q length", c.Text, c.FinishReason, want)
	}
	if len(c.Logprobs.Tokens) != 64 {
		t.Fatalf("%d logprob tokens, want 64", len(c.Logprobs.Tokens))
	}
	for i, tok := range c.Logprobs.Tokens {
		if tok != string(r.tok.TokenBytes(goldenIDs[i])) {
			t.Errorf("token %d is %q, want id %d %q", i, tok, goldenIDs[i], r.tok.TokenBytes(goldenIDs[i]))
		}
	}
	if resp.Usage.PromptTokens != 1 || resp.Usage.CompletionTokens != 64 || resp.Object != "text_completion" ||
		!strings.HasPrefix(resp.ID, "cmpl-") || resp.SystemFingerprint != e.model.Fingerprint {
		t.Errorf("envelope %+v usage %+v", resp, resp.Usage)
	}

	// Streamed: usage rides on the last chunk (003) without include_usage.
	s := e.client.Completions.NewStreaming(ctx, greedyCompletion(openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: []int64{1}}, 64))
	var text strings.Builder
	var last openai.Completion
	n := 0
	for s.Next() {
		last = s.Current()
		for _, c := range last.Choices {
			text.WriteString(c.Text)
		}
		n++
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != want || n < 10 {
		t.Errorf("streamed %q in %d chunks, want %q", text.String(), n, want)
	}
	if last.Usage.CompletionTokens != 64 || last.Usage.PromptTokens != 1 || len(last.Choices) != 1 || last.Choices[0].FinishReason != "length" {
		t.Errorf("last chunk %+v", last)
	}
}

// TestCompletionFields covers echo, stop (kept), logprobs with echo, n and
// several prompts, token-array prompts, include_usage and JSON mode.
func TestCompletionFields(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := ref(t)
	ctx := context.Background()
	prompt := "Once upon a time"
	ids := r.tok.Encode(prompt, true, true)
	_, full := r.greedy(t, ids, 30)

	t.Run("stop kept", func(t *testing.T) {
		k := strings.Index(full[3:], " ") + 3
		stop := full[k : k+3]
		p := greedyCompletion(openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)}, 30)
		p.Stop = openai.CompletionNewParamsStopUnion{OfString: openai.String(stop)}
		resp, err := e.client.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		want := full[:strings.Index(full, stop)+len(stop)]
		if c := resp.Choices[0]; c.Text != want || c.FinishReason != "stop" {
			t.Errorf("text %q finish %q, want %q stop", c.Text, c.FinishReason, want)
		}
	})

	t.Run("echo logprobs", func(t *testing.T) {
		p := greedyCompletion(openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)}, 5)
		p.Echo = openai.Bool(true)
		p.Logprobs = openai.Int(2)
		resp, err := e.client.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		gen, _ := r.greedy(t, ids, 5)
		c := resp.Choices[0]
		if c.Text != prompt+r.tok.Decode(gen, false) {
			t.Errorf("echo text %q", c.Text)
		}
		lp := c.Logprobs
		// The SDK drops the whole top_logprobs array when its first entry
		// is null (as the legacy format writes it for the first echoed
		// token), so read it from the raw JSON.
		var tops []map[string]float64
		if err := json.Unmarshal([]byte(lp.JSON.TopLogprobs.Raw()), &tops); err != nil {
			t.Fatalf("top_logprobs %s: %v", lp.JSON.TopLogprobs.Raw(), err)
		}
		if tops[0] != nil {
			t.Errorf("the first echoed token's top_logprobs must be null: %v", tops[0])
		}
		lp.TopLogprobs = tops
		if len(lp.Tokens) != len(ids)+5 || len(lp.TokenLogprobs) != len(ids)+5 || len(lp.TextOffset) != len(ids)+5 {
			t.Fatalf("logprobs lengths %d/%d/%d, want %d", len(lp.Tokens), len(lp.TokenLogprobs), len(lp.TextOffset), len(ids)+5)
		}
		raw := c.Logprobs.JSON.TokenLogprobs.Raw()
		if !strings.HasPrefix(raw, "[null,") {
			t.Errorf("the first echoed token's logprob must be null: %s", raw[:min(40, len(raw))])
		}
		for i := 1; i < len(lp.TokenLogprobs); i++ {
			if lp.TokenLogprobs[i] > 0 || math.IsNaN(lp.TokenLogprobs[i]) || lp.TextOffset[i] < lp.TextOffset[i-1] {
				t.Errorf("position %d: logprob %v offset %d", i, lp.TokenLogprobs[i], lp.TextOffset[i])
			}
			if len(lp.TopLogprobs[i]) < 2 || len(lp.TopLogprobs[i]) > 3 {
				t.Errorf("position %d: %d alternatives, want 2 or 3", i, len(lp.TopLogprobs[i]))
			}
		}
		// Greedy: every generated token is its position's best.
		for i := len(ids); i < len(lp.Tokens); i++ {
			best := math.Inf(-1)
			for _, v := range lp.TopLogprobs[i] {
				best = math.Max(best, v)
			}
			if math.Abs(best-lp.TokenLogprobs[i]) > 1e-6 {
				t.Errorf("generated token %d (%q) has logprob %v, best alternative %v", i, lp.Tokens[i], lp.TokenLogprobs[i], best)
			}
		}
	})

	t.Run("prompts times n", func(t *testing.T) {
		p := openai.CompletionNewParams{
			Model:       openai.CompletionNewParamsModel(modelID),
			Prompt:      openai.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{"Once upon a time", "The dog"}},
			MaxTokens:   openai.Int(6),
			N:           openai.Int(2),
			Temperature: openai.Float(0),
		}
		resp, err := e.client.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Choices) != 4 {
			t.Fatalf("%d choices, want 4", len(resp.Choices))
		}
		for k, c := range resp.Choices {
			pi := k / 2
			_, want := r.greedy(t, r.tok.Encode([]string{"Once upon a time", "The dog"}[pi], true, true), 6)
			if int(c.Index) != k || c.Text != want {
				t.Errorf("choice %d: index %d text %q, want %q", k, c.Index, c.Text, want)
			}
		}
		dog := r.tok.Encode("The dog", true, true)
		if resp.Usage.PromptTokens != int64(len(ids)+len(dog)) || resp.Usage.CompletionTokens != 24 {
			t.Errorf("usage %+v", resp.Usage)
		}
	})

	t.Run("token arrays", func(t *testing.T) {
		arr := make([]int64, len(ids))
		for i, id := range ids {
			arr[i] = int64(id)
		}
		p := greedyCompletion(openai.CompletionNewParamsPromptUnion{OfArrayOfTokenArrays: [][]int64{arr, {1}}}, 8)
		resp, err := e.client.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		_, w0 := r.greedy(t, ids, 8)
		if resp.Choices[0].Text != w0 || resp.Choices[1].Text != r.tok.Decode(goldenIDs[:8], false) {
			t.Errorf("token-array prompts: %q %q", resp.Choices[0].Text, resp.Choices[1].Text)
		}
		p = greedyCompletion(openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: []int64{1, 9999}}, 8)
		_, err = e.client.Completions.New(ctx, p)
		var apierr *openai.Error
		if !errors.As(err, &apierr) || apierr.StatusCode != 400 || apierr.Param != "prompt[1]" {
			t.Errorf("out-of-vocabulary prompt id: %v", err)
		}
	})

	t.Run("include_usage stream", func(t *testing.T) {
		p := greedyCompletion(openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)}, 10)
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		p.Echo = openai.Bool(true)
		s := e.client.Completions.NewStreaming(ctx, p)
		var text strings.Builder
		var chunks []openai.Completion
		for s.Next() {
			chunks = append(chunks, s.Current())
			for _, c := range s.Current().Choices {
				text.WriteString(c.Text)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		_, want := r.greedy(t, ids, 10)
		if text.String() != prompt+want {
			t.Errorf("streamed echo %q, want %q", text.String(), prompt+want)
		}
		last := chunks[len(chunks)-1]
		if len(last.Choices) != 0 || last.Usage.CompletionTokens != 10 {
			t.Errorf("final usage chunk %+v", last)
		}
	})

	t.Run("json mode", func(t *testing.T) {
		p := greedyCompletion(openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)}, 300)
		schema := map[string]any{"type": "object", "properties": map[string]any{"n": map[string]any{"type": "integer", "minimum": 1, "maximum": 9}},
			"required": []any{"n"}, "additionalProperties": false}
		resp, err := e.client.Completions.New(ctx, p, option.WithJSONSet("response_format", map[string]any{"type": "json_object", "schema": schema}))
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ N int }
		if err := json.Unmarshal([]byte(resp.Choices[0].Text), &v); err != nil || v.N < 1 || v.N > 9 {
			t.Errorf("json mode text %q: %v", resp.Choices[0].Text, err)
		}
	})
}

// TestContextLength checks context_length_exceeded_behavior and the prompt
// that alone is too long.
func TestContextLength(t *testing.T) {
	e := newEnv(t, envOptions{engine: engineOpts(2, 64, 8)})
	ctx := context.Background()
	ban := map[string]int64{"2": -100} // no end of text: run to the budget
	p := greedyCompletion(openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: []int64{1, 403, 407}}, 1000)
	p.LogitBias = ban
	resp, err := e.client.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage.CompletionTokens != 61 || resp.Choices[0].FinishReason != "length" {
		t.Errorf("truncate: usage %+v finish %q, want 61 tokens (64 - 3)", resp.Usage, resp.Choices[0].FinishReason)
	}
	var apierr *openai.Error
	_, err = e.client.Completions.New(ctx, p, option.WithJSONSet("context_length_exceeded_behavior", "error"))
	if !errors.As(err, &apierr) || apierr.StatusCode != 400 || apierr.Code != "context_length_exceeded" || apierr.Param != "max_tokens" {
		t.Errorf("error behavior: %v", err)
	}
	long := make([]int64, 64)
	for i := range long {
		long[i] = 300
	}
	_, err = e.client.Completions.New(ctx, greedyCompletion(openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: long}, 1))
	if !errors.As(err, &apierr) || apierr.StatusCode != 400 || apierr.Code != "context_length_exceeded" {
		t.Errorf("prompt too long: %v", err)
	}
	cp := userChat(strings.Repeat("word ", 40), 1)
	_, err = e.client.Chat.Completions.New(ctx, cp)
	if !errors.As(err, &apierr) || apierr.StatusCode != 400 || apierr.Code != "context_length_exceeded" || apierr.Param != "messages" {
		t.Errorf("chat prompt too long: %v", err)
	}
}

// TestCompletionSampling checks the sampling fields of /v1/completions by
// their effect, as for chat.
func TestCompletionSampling(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := ref(t)
	_, greedy := r.greedy(t, r.tok.Encode("The cat", true, true), 16)
	base := func() openai.CompletionNewParams {
		return openai.CompletionNewParams{Model: openai.CompletionNewParamsModel(modelID),
			Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("The cat")}, MaxTokens: openai.Int(16),
			Temperature: openai.Float(1), Seed: openai.Int(5), User: openai.String("u1")}
	}
	gen := func(p openai.CompletionNewParams, opts ...option.RequestOption) string {
		t.Helper()
		resp, err := e.client.Completions.New(context.Background(), p, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Choices[0].Text
	}
	if got := gen(base(), option.WithJSONSet("top_k", 1)); got != greedy {
		t.Errorf("top_k=1: %q, want greedy %q", got, greedy)
	}
	p := base()
	p.TopP = openai.Float(1e-9)
	if got := gen(p); got != greedy {
		t.Errorf("tiny top_p: %q, want greedy %q", got, greedy)
	}
	if a, b := gen(base()), gen(base()); a != b {
		t.Errorf("seeded sampling not reproducible: %q vs %q", a, b)
	}
	// Penalties act on repeated output tokens: use the golden story,
	// whose greedy text repeats words within 64 tokens.
	p = base()
	p.Prompt = openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: []int64{1}}
	p.MaxTokens = openai.Int(64)
	p.Temperature = openai.Float(0)
	greedy = r.tok.Decode(goldenIDs[:64], false)
	if got := gen(p); got != greedy {
		t.Fatalf("golden: %q", got)
	}
	p.FrequencyPenalty = openai.Float(2)
	if got := gen(p); got == greedy {
		t.Errorf("frequency_penalty had no effect")
	}
	p.FrequencyPenalty = openai.Float(0)
	p.PresencePenalty = openai.Float(2)
	if got := gen(p); got == greedy {
		t.Errorf("presence_penalty had no effect")
	}
}
