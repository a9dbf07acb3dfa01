package api

import (
	"encoding/json"
	"testing"
)

var fuzzSeeds = []string{
	chatBody(""),
	chatBody(`"temperature":0.5,"top_p":1,"n":2,"stop":["a"],"logit_bias":{"1":2},"logprobs":true,"top_logprobs":2,"seed":3`),
	chatBody(`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}}`),
	chatBody(`"functions":[{"name":"f"}],"function_call":"auto"`),
	chatBody(`"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}}`),
	chatBody(`"stream":true,"stream_options":{"include_usage":true}`),
	withMessages(`[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"u"}}]},{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"1","content":"r"}]`),
	`{"model":"m","prompt":[[1,2],[3]],"logprobs":5,"echo":true}`,
	`[]`, `{`, `null`, `{"model":1e999}`, `{"messages":[{"role":"user","content":"\ud800"}]}`,
}

// checkDecoded asserts the decoder's contract on any input: exactly one of
// the results is set, errors are well-formed 400s, and accepted requests
// satisfy the validated invariants.
func checkDecoded(t *testing.T, ok bool, e *Error) {
	if ok == (e != nil) {
		t.Fatalf("result set = %v together with error %v", ok, e)
	}
	if e != nil {
		if e.Status != 400 || e.Type != TypeInvalidRequest || e.Message == "" {
			t.Fatalf("malformed error %+v", e)
		}
		if _, err := json.Marshal(e); err != nil {
			t.Fatalf("marshal error: %v", err)
		}
	}
}

func checkGeneration(t *testing.T, g *GenerationParams) {
	if g.Temperature != nil && (*g.Temperature < 0 || *g.Temperature > 2) {
		t.Fatalf("temperature %v accepted", *g.Temperature)
	}
	if n := g.Choices(); n < 1 || n > MaxChoices {
		t.Fatalf("n %d accepted", n)
	}
	if len(g.Stop) > MaxStops {
		t.Fatalf("%d stops accepted", len(g.Stop))
	}
	if mt, ok := g.MaxTokens(); ok && mt < 1 {
		t.Fatalf("max tokens %d accepted", mt)
	}
	if g.StreamOptions != nil && !g.Stream {
		t.Fatal("stream_options without stream accepted")
	}
	for id, b := range g.LogitBias {
		if id < 0 || b < -100 || b > 100 {
			t.Fatalf("logit bias %d:%v accepted", id, b)
		}
	}
}

func FuzzDecodeChatCompletionRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, e := DecodeChatCompletionRequest(body)
		checkDecoded(t, r != nil, e)
		if r == nil {
			return
		}
		if r.Model == "" || len(r.Messages) == 0 {
			t.Fatal("accepted without model or messages")
		}
		checkGeneration(t, &r.GenerationParams)
		if len(r.EffectiveTools()) > MaxTools {
			t.Fatal("too many tools accepted")
		}
		for _, tl := range r.EffectiveTools() {
			if !validName(tl.Function.Name) {
				t.Fatalf("function name %q accepted", tl.Function.Name)
			}
		}
		tc := r.EffectiveToolChoice()
		if tc.Mode == ToolChoiceFunction && !hasFunction(r.EffectiveTools(), tc.Function) {
			t.Fatalf("tool choice %q not in tools", tc.Function)
		}
		if r.TopLogprobs != nil && !r.Logprobs {
			t.Fatal("top_logprobs without logprobs accepted")
		}
		for _, m := range r.Messages {
			_ = m.Content.String()
		}
		_ = r.CheckTextOnly()
	})
}

func FuzzDecodeCompletionRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, e := DecodeCompletionRequest(body)
		checkDecoded(t, r != nil, e)
		if r == nil {
			return
		}
		if r.Prompt.Len() == 0 || (r.Prompt.Texts != nil) == (r.Prompt.TokenIDs != nil) {
			t.Fatalf("bad prompt %+v accepted", r.Prompt)
		}
		for _, ids := range r.Prompt.TokenIDs {
			if len(ids) == 0 {
				t.Fatal("empty token prompt accepted")
			}
			for _, id := range ids {
				if id < 0 || id > maxTokenID {
					t.Fatalf("token id %d accepted", id)
				}
			}
		}
		if r.Logprobs != nil && (*r.Logprobs < 0 || *r.Logprobs > MaxCompletionLogprobs) {
			t.Fatalf("logprobs %d accepted", *r.Logprobs)
		}
		checkGeneration(t, &r.GenerationParams)
	})
}
