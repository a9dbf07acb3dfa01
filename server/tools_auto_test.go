package server_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/constrain"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
)

// Bounded tools: every argument has a length or value bound, so a call
// ends within a few dozen tokens however the model (and a logit_bias
// favouring "{" inside strings) samples.
var (
	autoCity = shared.FunctionDefinitionParam{
		Name: "get_weather",
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{
			"city": map[string]any{"type": "string", "maxLength": 6},
			"days": map[string]any{"type": "integer", "minimum": 1, "maximum": 7},
		}, "required": []any{"city", "days"}, "additionalProperties": false},
	}
	autoUnit = shared.FunctionDefinitionParam{
		Name: "set_unit",
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{
			"unit": map[string]any{"enum": []any{"celsius", "fahrenheit"}},
		}, "required": []any{"unit"}, "additionalProperties": false},
	}
)

// llama3Template is a Llama 3 style template (role headers), so the probe
// picks the Llama 3 call format: a message that opens with "{" is calls
// separated by ";".
const llama3Template = `{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + (message['content'] or '') + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}`

// TestAutoToolCallsConstrained checks tool_choice auto on the story model,
// made to start a call by a logit_bias on "{" (and, for parallel calls, on
// ";"): from the first byte of the call the output is constrained, so at
// temperature 1 every call of every seed parses, names a declared function
// and validates against its parameters, streamed or not; parallel false
// allows exactly one call.
func TestAutoToolCallsConstrained(t *testing.T) {
	schemas := map[string][]byte{"get_weather": []byte(mustJSON(t, autoCity.Parameters)), "set_unit": []byte(mustJSON(t, autoUnit.Parameters))}
	tools := []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(autoCity), openai.ChatCompletionFunctionTool(autoUnit)}
	brace := byteToken(t, "{")
	for _, tt := range []struct {
		name      string
		template  string
		parallel  bool
		bias      map[string]int64
		wantMulti bool // some choice makes several calls
	}{
		{"generic", "", true, map[string]int64{strconv.Itoa(brace): 100}, false},
		{"generic no parallel", "", false, map[string]int64{strconv.Itoa(brace): 100}, false},
		{"llama3 parallel", llama3Template, true, map[string]int64{strconv.Itoa(brace): 100, "2": 10}, true},
		{"llama3 no parallel", llama3Template, false, map[string]int64{strconv.Itoa(brace): 100, "2": 10}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{chatTemplate: tt.template, engine: engineOpts(8, 1024, 16)})
			ctx := context.Background()
			calls, multi := 0, 0
			streamedCalls, fragmented := 0, 0
			check := func(seed int64, i int, finish string, content string, got []openai.ChatCompletionMessageToolCallUnion) {
				t.Helper()
				if finish != "tool_calls" || len(got) == 0 {
					t.Fatalf("seed %d choice %d: finish %q, %d calls, content %q", seed, i, finish, len(got), content)
				}
				if !tt.parallel && len(got) != 1 {
					t.Fatalf("seed %d choice %d: %d calls with parallel_tool_calls false", seed, i, len(got))
				}
				if strings.TrimSpace(content) != "" {
					t.Errorf("seed %d choice %d: content %q beside the calls", seed, i, content)
				}
				ids := map[string]bool{}
				for _, c := range got {
					s, ok := schemas[c.Function.Name]
					if !ok {
						t.Fatalf("seed %d choice %d: unknown function %q", seed, i, c.Function.Name)
					}
					if err := constrain.Validate(s, []byte(c.Function.Arguments)); err != nil {
						t.Fatalf("seed %d choice %d: arguments %s of %s: %v", seed, i, c.Function.Arguments, c.Function.Name, err)
					}
					if ids[c.ID] || !strings.HasPrefix(c.ID, "call_") {
						t.Errorf("seed %d choice %d: call id %q repeated or malformed", seed, i, c.ID)
					}
					ids[c.ID] = true
				}
				calls += len(got)
				if len(got) > 1 {
					multi++
				}
			}
			const n = 8
			for seed := int64(0); seed < 5; seed++ {
				p := userChat("What is the weather?", 400)
				p.Temperature = openai.Float(1)
				p.Seed = openai.Int(seed)
				p.N = openai.Int(n)
				p.Tools = tools
				p.ParallelToolCalls = openai.Bool(tt.parallel)
				p.LogitBias = tt.bias
				resp, err := e.client.Chat.Completions.New(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				for i, c := range resp.Choices {
					check(seed, i, string(c.FinishReason), c.Message.Content, c.Message.ToolCalls)
				}
				if seed > 1 {
					continue
				}
				// Streamed, the same seed gives the same calls.
				s := e.client.Chat.Completions.NewStreaming(ctx, p)
				acc := openai.ChatCompletionAccumulator{}
				type callKey struct{ choice, index int64 }
				deltas := map[callKey]int{}
				for s.Next() {
					ch := s.Current()
					acc.AddChunk(ch)
					for _, c := range ch.Choices {
						for _, d := range c.Delta.ToolCalls {
							k := callKey{c.Index, d.Index}
							// The first delta of a call carries its id,
							// type and name; later ones only arguments.
							if first := deltas[k] == 0; first != (d.ID != "") || first != (d.Function.Name != "") {
								t.Fatalf("seed %d: delta %d of call %+v: %+v", seed, deltas[k], k, d)
							}
							deltas[k]++
						}
					}
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				// Streamed as generated: a name, then the arguments in
				// several fragments. A call whose arguments come before
				// its name (any key order is valid) has them complete by
				// the time its first delta can go out: two deltas.
				for _, n := range deltas {
					streamedCalls++
					if n >= 3 {
						fragmented++
					}
				}
				for i, c := range acc.Choices {
					check(seed, i, string(c.FinishReason), c.Message.Content, c.Message.ToolCalls)
					want := resp.Choices[i].Message.ToolCalls
					if len(c.Message.ToolCalls) != len(want) {
						t.Fatalf("seed %d choice %d: %d streamed calls, %d not streamed", seed, i, len(c.Message.ToolCalls), len(want))
					}
					for k, sc := range c.Message.ToolCalls {
						if sc.Function.Name != want[k].Function.Name || sc.Function.Arguments != want[k].Function.Arguments {
							t.Errorf("seed %d choice %d call %d: streamed %+v, not streamed %+v", seed, i, k, sc.Function, want[k].Function)
						}
					}
				}
			}
			t.Logf("%d calls in %d choices (%d with several calls), all valid", calls, 5*n+2*n, multi)
			t.Logf("streamed: %d of %d calls in fragments", fragmented, streamedCalls)
			if fragmented == 0 {
				t.Errorf("only %d of %d streamed calls came in fragments", fragmented, streamedCalls)
			}
			if tt.wantMulti && multi == 0 {
				t.Errorf("no choice made parallel calls")
			}
		})
	}
}

// Without a call, auto mode is free text: a bias that makes the story
// model open with a letter leaves everything as content, never a call.
func TestAutoToolFreeText(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := userChat("Hello", 30)
	p.Temperature = openai.Float(1)
	p.Seed = openai.Int(1)
	p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(autoCity)}
	resp, err := e.client.Chat.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Choices[0]
	if c.FinishReason == "tool_calls" || c.Message.Content == "" {
		t.Fatalf("free text: %+v", c)
	}
	var v any
	if json.Unmarshal([]byte(c.Message.Content), &v) == nil {
		t.Errorf("free text parsed as JSON: %q", c.Message.Content)
	}
}
