package api

import (
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func sptr(s string) *string { return &s }

func TestGoldenJSON(t *testing.T) {
	usage := Usage{PromptTokens: 9, CompletionTokens: 3, TotalTokens: 12}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"chat completion text", ChatCompletion{
			ID: "chatcmpl-1", Created: 1700000000, Model: "qwen", SystemFingerprint: "fp_kiln",
			Choices: []ChatChoice{{Index: 0, Message: ChatResponseMessage{Role: "assistant", Content: sptr("Hello!")}, FinishReason: FinishStop}},
			Usage:   usage,
		}, `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"qwen","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12},"system_fingerprint":"fp_kiln"}`},
		{"chat completion tool calls", ChatCompletion{
			ID: "chatcmpl-2", Created: 1, Model: "m", SystemFingerprint: "fp",
			Choices: []ChatChoice{{Index: 0, Message: ChatResponseMessage{Role: "assistant", ToolCalls: []ToolCall{
				{ID: "call_a", Type: "function", Function: FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}},
			}}, FinishReason: FinishToolCalls}},
			Usage: usage,
		}, `{"id":"chatcmpl-2","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12},"system_fingerprint":"fp"}`},
		{"chat completion legacy function call", ChatCompletion{
			ID: "c", Created: 1, Model: "m", SystemFingerprint: "fp",
			Choices: []ChatChoice{{Message: ChatResponseMessage{Role: "assistant", FunctionCall: &FunctionCall{Name: "f", Arguments: "{}"}}, FinishReason: FinishFunctionCall}},
		}, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,"function_call":{"name":"f","arguments":"{}"}},"logprobs":null,"finish_reason":"function_call"}],"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0},"system_fingerprint":"fp"}`},
		{"chat completion logprobs", ChatCompletion{
			ID: "c", Created: 1, Model: "m", SystemFingerprint: "fp",
			Choices: []ChatChoice{{Index: 1, Message: ChatResponseMessage{Role: "assistant", Content: sptr("Hi")}, FinishReason: FinishLength,
				Logprobs: &ChatLogprobs{Content: []TokenLogprob{
					{Token: "Hi", Logprob: -0.25, Bytes: TokenBytes([]byte("Hi")), TopLogprobs: []TopLogprob{
						{Token: "Hi", Logprob: -0.25, Bytes: []int{72, 105}},
						{Token: "é", Logprob: Logprob(math.Inf(-1)), Bytes: TokenBytes([]byte("é"))},
					}},
					{Token: "!", Logprob: -1.5, Bytes: []int{33}},
				}}}},
		}, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":1,"message":{"role":"assistant","content":"Hi","refusal":null},"logprobs":{"content":[{"token":"Hi","logprob":-0.25,"bytes":[72,105],"top_logprobs":[{"token":"Hi","logprob":-0.25,"bytes":[72,105]},{"token":"é","logprob":-9999,"bytes":[195,169]}]},{"token":"!","logprob":-1.5,"bytes":[33],"top_logprobs":[]}],"refusal":null},"finish_reason":"length"}],"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0},"system_fingerprint":"fp"}`},
		{"chat completion no choices", ChatCompletion{ID: "c", Model: "m"},
			`{"id":"c","object":"chat.completion","created":0,"model":"m","choices":[],"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0},"system_fingerprint":""}`},
		{"chunk first", ChatCompletionChunk{ID: "c", Created: 2, Model: "m", SystemFingerprint: "fp",
			Choices: []ChunkChoice{{Delta: ChatDelta{Role: "assistant", Content: sptr("")}}}},
			`{"id":"c","object":"chat.completion.chunk","created":2,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`},
		{"chunk content with usage stream", ChatCompletionChunk{ID: "c", Created: 2, Model: "m", SystemFingerprint: "fp", StreamUsage: true,
			Choices: []ChunkChoice{{Delta: ChatDelta{Content: sptr("Hel")}}}},
			`{"id":"c","object":"chat.completion.chunk","created":2,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}],"usage":null}`},
		{"chunk finish", ChatCompletionChunk{ID: "c", Created: 2, Model: "m", SystemFingerprint: "fp",
			Choices: []ChunkChoice{{Index: 2, FinishReason: FinishStop}}},
			`{"id":"c","object":"chat.completion.chunk","created":2,"model":"m","system_fingerprint":"fp","choices":[{"index":2,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`},
		{"chunk usage last", ChatCompletionChunk{ID: "c", Created: 2, Model: "m", SystemFingerprint: "fp", StreamUsage: true, Usage: &usage},
			`{"id":"c","object":"chat.completion.chunk","created":2,"model":"m","system_fingerprint":"fp","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`},
		{"chunk tool call start", ChatCompletionChunk{ID: "c", Created: 2, Model: "m", SystemFingerprint: "fp",
			Choices: []ChunkChoice{{Delta: ChatDelta{Role: "assistant", ToolCalls: []ToolCallDelta{{Index: 0, ID: "call_x", Type: "function", Function: FunctionCallDelta{Name: "f"}}}}}}},
			`{"id":"c","object":"chat.completion.chunk","created":2,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_x","type":"function","function":{"name":"f","arguments":""}}]},"logprobs":null,"finish_reason":null}]}`},
		{"chunk tool call args", ChatCompletionChunk{ID: "c", Created: 2, Model: "m", SystemFingerprint: "fp",
			Choices: []ChunkChoice{{Delta: ChatDelta{ToolCalls: []ToolCallDelta{{Index: 1, Function: FunctionCallDelta{Arguments: `{"a":`}}}}}}},
			`{"id":"c","object":"chat.completion.chunk","created":2,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"a\":"}}]},"logprobs":null,"finish_reason":null}]}`},
		{"chunk logprobs", ChatCompletionChunk{ID: "c", Created: 2, Model: "m", SystemFingerprint: "fp",
			Choices: []ChunkChoice{{Delta: ChatDelta{Content: sptr("a")}, Logprobs: &ChatLogprobs{Content: []TokenLogprob{{Token: "a", Logprob: -0.5, Bytes: []int{97}}}}}}},
			`{"id":"c","object":"chat.completion.chunk","created":2,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":"a"},"logprobs":{"content":[{"token":"a","logprob":-0.5,"bytes":[97],"top_logprobs":[]}],"refusal":null},"finish_reason":null}]}`},
		{"completion", Completion{ID: "cmpl-1", Created: 3, Model: "m", SystemFingerprint: "fp", Usage: &usage,
			Choices: []CompletionChoice{{Text: " there\n", Index: 0, FinishReason: FinishStop}, {Text: "x", Index: 1, FinishReason: FinishLength}}},
			`{"id":"cmpl-1","object":"text_completion","created":3,"model":"m","system_fingerprint":"fp","choices":[{"text":" there\n","index":0,"logprobs":null,"finish_reason":"stop"},{"text":"x","index":1,"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`},
		{"completion legacy logprobs with echo", Completion{ID: "cmpl-2", Created: 3, Model: "m", SystemFingerprint: "fp", Usage: &usage,
			Choices: []CompletionChoice{{Text: "Hi there", FinishReason: FinishLength, Logprobs: &CompletionLogprobs{
				Tokens:        []string{"Hi", " there"},
				TokenLogprobs: []Logprob{Logprob(math.NaN()), -0.75},
				TopLogprobs:   []OrderedTokens{nil, {{" there", -0.75}, {" all", -1.25}, {"!", Logprob(math.Inf(-1))}}},
				TextOffset:    []int{0, 2},
			}}}},
			`{"id":"cmpl-2","object":"text_completion","created":3,"model":"m","system_fingerprint":"fp","choices":[{"text":"Hi there","index":0,"logprobs":{"tokens":["Hi"," there"],"token_logprobs":[null,-0.75],"top_logprobs":[null,{" there":-0.75," all":-1.25,"!":-9999}],"text_offset":[0,2]},"finish_reason":"length"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`},
		{"completion stream chunk", Completion{ID: "cmpl-3", Created: 3, Model: "m", SystemFingerprint: "fp",
			Choices: []CompletionChoice{{Text: "tok"}}},
			`{"id":"cmpl-3","object":"text_completion","created":3,"model":"m","system_fingerprint":"fp","choices":[{"text":"tok","index":0,"logprobs":null,"finish_reason":null}]}`},
		{"completion stream chunk include_usage", Completion{ID: "cmpl-3", Created: 3, Model: "m", SystemFingerprint: "fp", StreamUsage: true,
			Choices: []CompletionChoice{{Text: "tok"}}},
			`{"id":"cmpl-3","object":"text_completion","created":3,"model":"m","system_fingerprint":"fp","choices":[{"text":"tok","index":0,"logprobs":null,"finish_reason":null}],"usage":null}`},
		{"completion stream last chunk (003)", Completion{ID: "cmpl-3", Created: 3, Model: "m", SystemFingerprint: "fp", Usage: &usage,
			Choices: []CompletionChoice{{Text: "", FinishReason: FinishStop}}},
			`{"id":"cmpl-3","object":"text_completion","created":3,"model":"m","system_fingerprint":"fp","choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`},
		{"completion usage-only chunk", Completion{ID: "cmpl-3", Created: 3, Model: "m", SystemFingerprint: "fp", Usage: &usage, StreamUsage: true},
			`{"id":"cmpl-3","object":"text_completion","created":3,"model":"m","system_fingerprint":"fp","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`},
		{"model", Model{ID: "qwen2.5-0.5b", Created: 1700000000, OwnedBy: "kiln"},
			`{"id":"qwen2.5-0.5b","object":"model","created":1700000000,"owned_by":"kiln"}`},
		{"model list", ModelList{Data: []Model{{ID: "a", Created: 1, OwnedBy: "kiln"}, {ID: "b", Created: 2, OwnedBy: "kiln"}}},
			`{"object":"list","data":[{"id":"a","object":"model","created":1,"owned_by":"kiln"},{"id":"b","object":"model","created":2,"owned_by":"kiln"}]}`},
		{"empty model list", ModelList{}, `{"object":"list","data":[]}`},
		{"model list pointer", &ModelList{}, `{"object":"list","data":[]}`},
		{"tokenize", TokenizeResponse{Tokens: []int{1, 2}}, `{"tokens":[1,2]}`},
		{"tokenize empty", TokenizeResponse{}, `{"tokens":[]}`},
		{"detokenize", DetokenizeResponse{Prompt: "Hello"}, `{"prompt":"Hello"}`},
		{"usage", usage, `{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}`},
		{"logprob clamp positive", []Logprob{0.5, -1e-7, -20000}, `[0,-1e-7,-9999]`},
		{"ordered tokens empty", OrderedTokens{}, `{}`},
		{"error invalid", *NewInvalidRequest("messages[1].content", CodeInvalidType, "bad"),
			`{"error":{"message":"bad","type":"invalid_request_error","param":"messages[1].content","code":"invalid_type"}}`},
		{"error no param no code", NewInvalidRequest("", "", "bad"),
			`{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}`},
		{"error internal", NewInternal(""),
			`{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Errorf("invalid JSON: %s", got)
			}
		})
	}
}

func TestErrorConstructors(t *testing.T) {
	tests := []struct {
		name   string
		e      *Error
		status int
		typ    string
		param  string
		code   string
		msg    string
	}{
		{"invalid", NewInvalidRequest("temperature", CodeInvalidType, "m"), 400, TypeInvalidRequest, "temperature", CodeInvalidType, "m"},
		{"context", NewContextLengthExceeded("messages", "too long"), 400, TypeInvalidRequest, "messages", CodeContextLengthExceed, "too long"},
		{"auth", NewAuthentication(""), 401, TypeInvalidRequest, "", CodeInvalidAPIKey, "Incorrect API key"},
		{"model", NewModelNotFound("gpt-5"), 404, TypeInvalidRequest, "model", CodeModelNotFound, "The model 'gpt-5' does not exist"},
		{"route", NewRouteNotFound("POST", "/v1/nope"), 404, TypeInvalidRequest, "", CodeUnknownURL, "Invalid URL (POST /v1/nope)"},
		{"method", NewMethodNotAllowed("GET", "/v1/chat/completions"), 405, TypeInvalidRequest, "", CodeMethodNotAllowed, "GET /v1/chat/completions"},
		{"too large", NewRequestTooLarge(1 << 20), 413, TypeInvalidRequest, "", CodeRequestTooLarge, "1048576 bytes"},
		{"overloaded", NewOverloaded("", 2*time.Second), 429, TypeRateLimit, "", CodeRateLimitExceeded, "overloaded"},
		{"unavailable", NewUnavailable("loading", 0), 503, TypeServer, "", CodeServiceUnavailable, "loading"},
		{"internal", NewInternal("boom"), 500, TypeServer, "", "", "boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.e
			eq(t, "status", e.Status, tc.status)
			eq(t, "type", e.Type, tc.typ)
			p, c := "", ""
			if e.Param != nil {
				p = *e.Param
			}
			if e.Code != nil {
				c = *e.Code
			}
			eq(t, "param", p, tc.param)
			eq(t, "code", c, tc.code)
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message %q lacks %q", e.Message, tc.msg)
			}
			if !strings.Contains(e.Error(), tc.msg) {
				t.Errorf("Error() %q lacks %q", e.Error(), tc.msg)
			}
			// Round trip through the envelope.
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			var back Error
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			back.Status, back.RetryAfter = e.Status, e.RetryAfter
			eq(t, "round trip", back, *e)
		})
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		e          *Error
		status     int
		retryAfter string
		body       string
	}{
		{"invalid", NewInvalidRequest("n", CodeIntegerBelowMin, "bad n"), 400, "",
			`{"error":{"message":"bad n","type":"invalid_request_error","param":"n","code":"integer_below_min_value"}}` + "\n"},
		{"overloaded rounds retry-after up", NewOverloaded("busy", 1500*time.Millisecond), 429, "2",
			`{"error":{"message":"busy","type":"rate_limit_exceeded","param":null,"code":"rate_limit_exceeded"}}` + "\n"},
		{"nil error", nil, 500, "",
			`{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}` + "\n"},
		{"bad status", &Error{Status: 200, Type: TypeServer, Message: "x"}, 500, "",
			`{"error":{"message":"x","type":"server_error","param":null,"code":null}}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteError(rec, tc.e)
			eq(t, "status", rec.Code, tc.status)
			eq(t, "content-type", rec.Header().Get("Content-Type"), "application/json")
			eq(t, "retry-after", rec.Header().Get("Retry-After"), tc.retryAfter)
			eq(t, "body", rec.Body.String(), tc.body)
		})
	}
}

func TestResponseRoundTrip(t *testing.T) {
	// Marshalled responses must decode back into the same types, so Go
	// clients (and the server's tests) can use them.
	in := ChatCompletionChunk{ID: "c", Created: 2, Model: "m", SystemFingerprint: "fp",
		Choices: []ChunkChoice{{Index: 1, Delta: ChatDelta{Content: sptr("x")}, FinishReason: FinishLength}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out ChatCompletionChunk
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	eq(t, "chunk", out, in)

	cl := CompletionLogprobs{Tokens: []string{"a"}, TokenLogprobs: []Logprob{Logprob(math.NaN())}}
	b, err = json.Marshal(cl)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		TokenLogprobs []Logprob `json:"token_logprobs"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.TokenLogprobs) != 1 || !math.IsNaN(float64(back.TokenLogprobs[0])) {
		t.Errorf("null logprob did not come back as NaN: %v", back.TokenLogprobs)
	}
	var fr FinishReason = "x"
	if err := json.Unmarshal([]byte("null"), &fr); err != nil || fr != "" {
		t.Errorf("null finish_reason = %q, %v", fr, err)
	}
}
