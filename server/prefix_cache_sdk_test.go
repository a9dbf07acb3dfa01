package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

// blockSize is the engine's KV block (model.DefaultBlockSize): only whole
// blocks of a prompt are served from the prefix cache.
const blockSize = 16

// expectCached is what the prefix cache can serve of prompt after earlier
// holds: the full blocks of their common prefix, never the last token.
func expectCached(prompt, earlier []int) int {
	n := 0
	for n < len(prompt) && n < len(earlier) && prompt[n] == earlier[n] {
		n++
	}
	return min(n/blockSize*blockSize, len(prompt)-1)
}

// TestPrefixCacheUsage sends chats that share a ~1000-token system prompt
// and reports prompt_tokens_details.cached_tokens through the SDK: 0 on the
// first request, the shared full blocks on the next (streamed usage too),
// with output identical to a server that never saw the prompt. The same for
// completions with token-id prompts.
func TestPrefixCacheUsage(t *testing.T) {
	opts := envOptions{engine: engineOpts(2, 1400, 8)}
	e, fresh := newEnv(t, opts), newEnv(t, opts)
	r := ref(t)
	ctx := context.Background()
	var sb strings.Builder
	for i := 0; sb.Len() < 2900; i++ {
		sb.WriteString([]string{"Once upon a time ", "there was a little dog. ", "It liked to play in the park ", "with Lily and Ben. "}[i%4])
	}
	system := sb.String()
	params := func(user string) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{
			Model:       modelID,
			Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(system), openai.UserMessage(user)},
			MaxTokens:   openai.Int(12),
			Temperature: openai.Float(0),
		}
	}
	prompt := func(user string) []int { return r.tok.Encode(chatML("system", system, "user", user), true, true) }
	p1, p2 := prompt("Tell me a story."), prompt("What did the dog do?")
	if len(p1) < 900 {
		t.Fatalf("system prompt is only %d tokens", len(p1))
	}
	chat := func(env *env, user string) (string, openai.CompletionUsage) {
		t.Helper()
		resp, err := env.client.Chat.Completions.New(ctx, params(user))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Choices[0].Message.Content, resp.Usage
	}
	check := func(what string, u openai.CompletionUsage, prompt []int, want int) {
		t.Helper()
		if u.PromptTokens != int64(len(prompt)) || u.PromptTokensDetails.CachedTokens != int64(want) ||
			!u.PromptTokensDetails.JSON.CachedTokens.Valid() {
			t.Errorf("%s: usage prompt %d cached %d (present %v), want %d and %d", what, u.PromptTokens,
				u.PromptTokensDetails.CachedTokens, u.PromptTokensDetails.JSON.CachedTokens.Valid(), len(prompt), want)
		}
	}

	_, u := chat(e, "Tell me a story.")
	check("first chat", u, p1, 0)
	got, u := chat(e, "What did the dog do?")
	want2 := expectCached(p2, p1)
	check("second chat", u, p2, want2)
	if want2 < 900 {
		t.Errorf("only %d tokens expected cached: the prompts do not share their system part", want2)
	}
	want, wu := chat(fresh, "What did the dog do?")
	check("uncached server", wu, p2, 0)
	if got != want {
		t.Errorf("cached prompt: %q, uncached: %q", got, want)
	}
	t.Logf("chat: %d prompt tokens, %d cached", len(p2), want2)

	// Streamed, with include_usage: the same question a third time.
	sp := params("What did the dog do?")
	sp.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := e.client.Chat.Completions.NewStreaming(ctx, sp)
	var text strings.Builder
	var su *openai.CompletionUsage
	for stream.Next() {
		ch := stream.Current()
		if len(ch.Choices) > 0 {
			text.WriteString(ch.Choices[0].Delta.Content)
		} else {
			su = &ch.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if su == nil {
		t.Fatal("no usage chunk")
	}
	check("streamed chat", *su, p2, min(len(p2)/blockSize*blockSize, len(p2)-1))
	if text.String() != want {
		t.Errorf("streamed: %q, uncached: %q", text.String(), want)
	}

	// Completions with token ids: 1000 shared, then different tails.
	shared := make([]int64, 1000)
	for i := range shared {
		shared[i] = int64(3 + (i*37)%500)
	}
	tail := func(k int64) openai.CompletionNewParamsPromptUnion {
		p := append(append([]int64(nil), shared...), k, k+1, k+2)
		return openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: p}
	}
	complete := func(env *env, k int64) (string, openai.CompletionUsage) {
		t.Helper()
		resp, err := env.client.Completions.New(ctx, openai.CompletionNewParams{
			Model: modelID, Prompt: tail(k), MaxTokens: openai.Int(8), Temperature: openai.Float(0)})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Choices[0].Text, resp.Usage
	}
	ids := func(k int) []int {
		p := make([]int, 0, 1003)
		for _, v := range shared {
			p = append(p, int(v))
		}
		return append(p, k, k+1, k+2)
	}
	_, u = complete(e, 10)
	check("first completion", u, ids(10), 0)
	got, u = complete(e, 20)
	check("second completion", u, ids(20), 992)
	want, _ = complete(fresh, 20)
	if got != want {
		t.Errorf("cached completion %q, uncached %q", got, want)
	}
	// Streamed without include_usage: usage rides on the last chunk.
	cs := e.client.Completions.NewStreaming(ctx, openai.CompletionNewParams{
		Model: modelID, Prompt: tail(30), MaxTokens: openai.Int(8), Temperature: openai.Float(0)})
	var last openai.CompletionUsage
	for cs.Next() {
		if c := cs.Current(); c.Usage.PromptTokens > 0 {
			last = c.Usage
		}
	}
	if err := cs.Err(); err != nil {
		t.Fatal(err)
	}
	check("streamed completion", last, ids(30), 992)
}
