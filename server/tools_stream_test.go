package server_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kiln-llm/kiln/constrain"
	"github.com/kiln-llm/kiln/engine"
	"github.com/kiln-llm/kiln/server"
	"github.com/openai/openai-go/v3"
)

// rechunker stands between the server and the real engine and splits each
// event's text into pieces of at most two characters, as a model whose
// tokens are that short would send them (the engine coalesces events for a
// slow reader, so the real split depends on timing). Tokens ride with the
// last piece of their event.
type rechunker struct{ server.Generator }

func (r rechunker) Submit(ctx context.Context, req engine.GenRequest) (<-chan engine.Event, error) {
	in, err := r.Generator.Submit(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make(chan engine.Event)
	go func() {
		defer close(out)
		for ev := range in {
			text := ev.Text
			for len(text) > 0 {
				n := 0
				for k := 0; k < 2 && n < len(text); k++ {
					_, size := utf8.DecodeRuneInString(text[n:])
					n += size
				}
				if n == len(text) {
					break
				}
				out <- engine.Event{Text: text[:n]}
				text = text[n:]
			}
			ev.Text = text
			out <- ev
		}
	}()
	return out, nil
}

// streamCalls runs a streaming request and returns the tool-call deltas in
// order, the accumulated message and the finish reason.
func streamCalls(t *testing.T, e *env, p openai.ChatCompletionNewParams) ([]openai.ChatCompletionChunkChoiceDeltaToolCall, openai.ChatCompletionMessage, string) {
	t.Helper()
	s := e.client.Chat.Completions.NewStreaming(context.Background(), p)
	acc := openai.ChatCompletionAccumulator{}
	var deltas []openai.ChatCompletionChunkChoiceDeltaToolCall
	for s.Next() {
		c := s.Current()
		acc.AddChunk(c)
		for _, ch := range c.Choices {
			deltas = append(deltas, ch.Delta.ToolCalls...)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return deltas, acc.Choices[0].Message, string(acc.Choices[0].FinishReason)
}

// TestForcedCallStreamsFragments: a forced call streams in OpenAI's delta
// shape (first delta: index, id, type, name, arguments ""; then argument
// fragments), the fragments concatenate to the non-streamed arguments of
// the same seed, and they validate against the function's schema.
func TestForcedCallStreamsFragments(t *testing.T) {
	e := newEnv(t, envOptions{wrap: func(g server.Generator) server.Generator { return rechunker{g} }})
	tools := []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(weatherTool), openai.ChatCompletionFunctionTool(timeTool)}
	schemas := map[string][]byte{"get_weather": []byte(mustJSON(t, weatherTool.Parameters)), "get_time": []byte(mustJSON(t, timeTool.Parameters))}
	ids := map[string]bool{}
	for seed := int64(1); seed <= 6; seed++ {
		p := userChat("Weather in Paris?", 200)
		p.Temperature = openai.Float(1)
		p.Seed = openai.Int(seed)
		p.Tools = tools
		// A named function streams from its first token; with "required"
		// the name goes out once generated (the arguments may come first,
		// and then follow it at once).
		p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
		minDeltas := 2
		if seed%2 == 0 {
			p.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"})
			minDeltas = 4
		}
		whole, err := e.client.Chat.Completions.New(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		want := whole.Choices[0].Message.ToolCalls[0]
		deltas, msg, finish := streamCalls(t, e, p)
		if finish != "tool_calls" || len(deltas) < minDeltas {
			t.Fatalf("seed %d: finish %q, %d deltas", seed, finish, len(deltas))
		}
		head := deltas[0]
		if head.Index != 0 || !strings.HasPrefix(head.ID, "call_") || head.Type != "function" || head.Function.Name != want.Function.Name || head.Function.Arguments != "" {
			t.Errorf("seed %d: first delta %+v", seed, head)
		}
		var args strings.Builder
		for i, d := range deltas[1:] {
			if d.Index != 0 || d.ID != "" || d.Function.Name != "" {
				t.Errorf("seed %d: delta %d carries more than arguments: %+v", seed, i+1, d)
			}
			args.WriteString(d.Function.Arguments)
		}
		if args.String() != want.Function.Arguments {
			t.Errorf("seed %d: fragments concatenate to %q, non-streamed %q", seed, args.String(), want.Function.Arguments)
		}
		if err := constrain.Validate(schemas[head.Function.Name], []byte(args.String())); err != nil {
			t.Errorf("seed %d: streamed arguments %s do not validate: %v", seed, args.String(), err)
		}
		if len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Arguments != args.String() {
			t.Errorf("seed %d: accumulated %+v", seed, msg.ToolCalls)
		}
		for _, id := range []string{head.ID, want.ID} {
			if ids[id] || len(id) != len("call_")+24 {
				t.Errorf("seed %d: id %q repeated or malformed", seed, id)
			}
			ids[id] = true
		}
	}
}

// TestLegacyFunctionCallShape: the deprecated functions / function_call
// interface answers with message.function_call and finish_reason
// "function_call", streamed (function_call deltas: name first, then
// argument fragments) and not, with the same arguments for one seed.
func TestLegacyFunctionCallShape(t *testing.T) {
	e := newEnv(t, envOptions{wrap: func(g server.Generator) server.Generator { return rechunker{g} }})
	p := userChat("Weather?", 200)
	p.Temperature = openai.Float(1)
	p.Seed = openai.Int(5)
	//lint:ignore SA1019 the deprecated fields are part of the API under test
	p.Functions = []openai.ChatCompletionNewParamsFunction{{Name: weatherTool.Name, Parameters: weatherTool.Parameters}}
	p.FunctionCall = openai.ChatCompletionNewParamsFunctionCallUnion{OfFunctionCallOption: &openai.ChatCompletionFunctionCallOptionParam{Name: "get_weather"}}
	resp, err := e.client.Chat.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	m := resp.Choices[0].Message
	//lint:ignore SA1019 the deprecated fields are part of the API under test
	fc := m.FunctionCall
	if resp.Choices[0].FinishReason != "function_call" || fc.Name != "get_weather" || len(m.ToolCalls) != 0 {
		t.Fatalf("not streamed: finish %q, call %+v, tool_calls %d", resp.Choices[0].FinishReason, fc, len(m.ToolCalls))
	}
	schema := []byte(mustJSON(t, weatherTool.Parameters))
	if err := constrain.Validate(schema, []byte(fc.Arguments)); err != nil {
		t.Errorf("arguments %s: %v", fc.Arguments, err)
	}

	s := e.client.Chat.Completions.NewStreaming(context.Background(), p)
	var name, args strings.Builder
	var pieces, toolDeltas int
	finish := ""
	for s.Next() {
		for _, ch := range s.Current().Choices {
			//lint:ignore SA1019 the deprecated fields are part of the API under test
			d := ch.Delta.FunctionCall
			if d.Name != "" && pieces > 0 {
				t.Errorf("name %q after the first function_call delta", d.Name)
			}
			if d.Name != "" || d.Arguments != "" {
				pieces++
			}
			name.WriteString(d.Name)
			args.WriteString(d.Arguments)
			toolDeltas += len(ch.Delta.ToolCalls)
			if ch.FinishReason != "" {
				finish = string(ch.FinishReason)
			}
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if finish != "function_call" || name.String() != "get_weather" || args.String() != fc.Arguments || pieces < 3 || toolDeltas != 0 {
		t.Errorf("streamed: finish %q name %q args %q (want %q) in %d pieces, %d tool_calls deltas", finish, name.String(), args.String(), fc.Arguments, pieces, toolDeltas)
	}
}
