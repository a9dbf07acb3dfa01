package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// chatBody builds a minimal valid chat body with extra top-level members.
func chatBody(extra string) string {
	b := `{"model":"m","messages":[{"role":"user","content":"hi"}]`
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

// withMessages builds a chat body with the given messages array.
func withMessages(msgs string) string {
	return `{"model":"m","messages":` + msgs + `}`
}

func TestDecodeChatValid(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, r *ChatCompletionRequest)
	}{
		{"minimal defaults", chatBody(""), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "model", r.Model, "m")
			eq(t, "len(messages)", len(r.Messages), 1)
			m := r.Messages[0]
			eq(t, "role", m.Role, RoleUser)
			eq(t, "content", m.Content.String(), "hi")
			eq(t, "is parts", m.Content.IsParts(), false)
			_, ok := r.MaxTokens()
			eq(t, "max tokens set", ok, false)
			eq(t, "choices", r.Choices(), 1)
			eq(t, "stops", r.Stops() == nil, true)
			eq(t, "tool choice", r.EffectiveToolChoice(), ToolChoice{Mode: ToolChoiceNone})
			eq(t, "parallel", r.ParallelToolCallsEnabled(), true)
			eq(t, "truncate", r.TruncateToContext(), true)
			eq(t, "stream", r.Stream, false)
			eq(t, "include usage", r.IncludeUsage(), false)
			eq(t, "logprobs", r.Logprobs, false)
			eq(t, "temperature nil", r.Temperature == nil, true)
			eq(t, "text only", r.CheckTextOnly() == nil, true)
		}},
		{"nulls mean unset", chatBody(`"temperature":null,"top_p":null,"n":null,"stop":null,"max_tokens":null,"seed":null,"logit_bias":null,"tools":null,"tool_choice":null,"response_format":null,"stream":null,"stream_options":null,"user":null,"logprobs":null,"top_logprobs":null,"functions":null,"function_call":null,"parallel_tool_calls":null,"frequency_penalty":null,"presence_penalty":null,"max_completion_tokens":null`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "temperature", r.Temperature == nil && r.TopP == nil && r.N == nil && r.Seed == nil, true)
			eq(t, "stop", r.Stop == nil && r.LogitBias == nil && r.Tools == nil && r.ToolChoice == nil, true)
			eq(t, "rf", r.ResponseFormat == nil && r.StreamOptions == nil && r.ParallelToolCalls == nil, true)
			eq(t, "penalties", r.FrequencyPenalty == nil && r.PresencePenalty == nil, true)
			_, ok := r.MaxTokens()
			eq(t, "max tokens", ok, false)
		}},
		{"sampling", chatBody(`"temperature":0.7,"top_p":0.9,"top_k":40,"min_p":0.05,"frequency_penalty":-0.5,"presence_penalty":1.5,"repetition_penalty":1.1,"seed":42,"n":3,"user":"u-1"`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "temperature", *r.Temperature, 0.7)
			eq(t, "top_p", *r.TopP, 0.9)
			eq(t, "top_k", *r.TopK, 40)
			eq(t, "min_p", *r.MinP, 0.05)
			eq(t, "frequency", *r.FrequencyPenalty, -0.5)
			eq(t, "presence", *r.PresencePenalty, 1.5)
			eq(t, "repetition", *r.RepetitionPenalty, 1.1)
			eq(t, "seed", *r.Seed, int64(42))
			eq(t, "choices", r.Choices(), 3)
			eq(t, "user", r.User, "u-1")
		}},
		{"range bounds inclusive", chatBody(`"temperature":2,"top_p":0,"frequency_penalty":2,"presence_penalty":-2,"n":128,"top_k":0`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "temperature", *r.Temperature, 2.0)
			eq(t, "top_p", *r.TopP, 0.0)
			eq(t, "n", r.Choices(), 128)
		}},
		{"integral decimal and negative seed", chatBody(`"seed":-7,"n":2.0,"max_tokens":1e2`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "seed", *r.Seed, int64(-7))
			eq(t, "n", r.Choices(), 2)
			mt, _ := r.MaxTokens()
			eq(t, "max tokens", mt, 100)
		}},
		{"large seed", chatBody(`"seed":9007199254740993`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "seed", *r.Seed, int64(9007199254740993))
		}},
		{"max_tokens", chatBody(`"max_tokens":100`), func(t *testing.T, r *ChatCompletionRequest) {
			mt, ok := r.MaxTokens()
			eq(t, "max tokens", mt, 100)
			eq(t, "ok", ok, true)
		}},
		{"max_completion_tokens alias wins", chatBody(`"max_tokens":100,"max_completion_tokens":50`), func(t *testing.T, r *ChatCompletionRequest) {
			mt, ok := r.MaxTokens()
			eq(t, "max tokens", mt, 50)
			eq(t, "ok", ok, true)
		}},
		{"max_completion_tokens alone", chatBody(`"max_completion_tokens":7`), func(t *testing.T, r *ChatCompletionRequest) {
			mt, _ := r.MaxTokens()
			eq(t, "max tokens", mt, 7)
		}},
		{"stop string", chatBody(`"stop":"\n\n"`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "stops", r.Stops(), []string{"\n\n"})
		}},
		{"stop array", chatBody(`"stop":["a","bb","ccc","</s>"]`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "stops", r.Stops(), []string{"a", "bb", "ccc", "</s>"})
		}},
		{"stop empty array", chatBody(`"stop":[]`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "stops", r.Stops() == nil, true)
		}},
		{"logit_bias", chatBody(`"logit_bias":{"50256":-100,"15":2.5,"0":100,"7":null}`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "logit_bias", r.LogitBias, map[int]float64{50256: -100, 15: 2.5, 0: 100})
		}},
		{"logprobs", chatBody(`"logprobs":true,"top_logprobs":5`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "logprobs", r.Logprobs, true)
			eq(t, "top", *r.TopLogprobs, 5)
		}},
		{"logprobs without top", chatBody(`"logprobs":true`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "logprobs", r.Logprobs, true)
			eq(t, "top", r.TopLogprobs == nil, true)
		}},
		{"stream include usage", chatBody(`"stream":true,"stream_options":{"include_usage":true}`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "stream", r.Stream, true)
			eq(t, "include usage", r.IncludeUsage(), true)
		}},
		{"stream without options", chatBody(`"stream":true`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "include usage", r.IncludeUsage(), false)
		}},
		{"stream false", chatBody(`"stream":false`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "stream", r.Stream, false)
		}},
		{"response_format text", chatBody(`"response_format":{"type":"text"}`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "type", r.ResponseFormat.Type, FormatText)
			eq(t, "json", r.ResponseFormat.WantsJSON(), false)
		}},
		{"response_format json_object", chatBody(`"response_format":{"type":"json_object"}`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "type", r.ResponseFormat.Type, FormatJSONObject)
			eq(t, "json", r.ResponseFormat.WantsJSON(), true)
			eq(t, "schema", r.ResponseFormat.SchemaJSON() == nil, true)
		}},
		{"response_format json_object schema keeps bytes", chatBody(`"response_format":{"type":"json_object","schema":{"type":"object","properties":{"z":{"type":"string"},"a":{"type":"integer"}}}}`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "schema", string(r.ResponseFormat.SchemaJSON()), `{"type":"object","properties":{"z":{"type":"string"},"a":{"type":"integer"}}}`)
		}},
		{"response_format json_schema", chatBody(`"response_format":{"type":"json_schema","json_schema":{"name":"person-v1","description":"d","schema":{"type":"object", "required":["b","a"]},"strict":true}}`), func(t *testing.T, r *ChatCompletionRequest) {
			js := r.ResponseFormat.JSONSchema
			eq(t, "name", js.Name, "person-v1")
			eq(t, "description", js.Description, "d")
			eq(t, "strict", *js.Strict, true)
			eq(t, "schema", string(r.ResponseFormat.SchemaJSON()), `{"type":"object", "required":["b","a"]}`)
			eq(t, "json", r.ResponseFormat.WantsJSON(), true)
		}},
		{"context behaviour error", chatBody(`"context_length_exceeded_behavior":"error"`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "truncate", r.TruncateToContext(), false)
		}},
		{"context behaviour truncate", chatBody(`"context_length_exceeded_behavior":"truncate"`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "truncate", r.TruncateToContext(), true)
			eq(t, "value", r.ContextLengthExceededBehavior, ContextTruncate)
		}},
		{"unknown fields ignored", chatBody(`"store":true,"metadata":{"a":"b"},"service_tier":"auto","reasoning_effort":"low","whatever":[1,{"x":null}]`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "model", r.Model, "m")
		}},
		{"duplicate key last wins", `{"model":"a","model":"b","messages":[{"role":"user","content":"x"}]}`, func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "model", r.Model, "b")
		}},
		{"all roles", withMessages(`[
			{"role":"system","content":"s","name":"sys"},
			{"role":"developer","content":[{"type":"text","text":"d"}]},
			{"role":"user","content":"u","name":"alice"},
			{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"a\":1}"}}]},
			{"role":"tool","tool_call_id":"call_1","content":"sunny"},
			{"role":"assistant","function_call":{"name":"f","arguments":"{}"}},
			{"role":"function","name":"f","content":"result"},
			{"role":"function","name":"f","content":null},
			{"role":"assistant","refusal":"no"},
			{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"refusal","refusal":"r"}]}
		]`), func(t *testing.T, r *ChatCompletionRequest) {
			ms := r.Messages
			eq(t, "len", len(ms), 10)
			eq(t, "system", [2]string{ms[0].Role, ms[0].Content.String()}, [2]string{RoleSystem, "s"})
			eq(t, "system name", ms[0].Name, "sys")
			eq(t, "developer", ms[1].Content.String(), "d")
			eq(t, "developer parts", ms[1].Content.IsParts(), true)
			eq(t, "user name", ms[2].Name, "alice")
			eq(t, "assistant content nil", ms[3].Content == nil, true)
			eq(t, "tool call", ms[3].ToolCalls, []ToolCall{{ID: "call_1", Type: "function", Function: FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris","a":1}`}}})
			eq(t, "tool", [2]string{ms[4].ToolCallID, ms[4].Content.String()}, [2]string{"call_1", "sunny"})
			eq(t, "function_call", *ms[5].FunctionCall, FunctionCall{Name: "f", Arguments: "{}"})
			eq(t, "function", [2]string{ms[6].Name, ms[6].Content.String()}, [2]string{"f", "result"})
			eq(t, "function null content", ms[7].Content == nil, true)
			eq(t, "refusal", *ms[8].Refusal, "no")
			eq(t, "assistant parts", ms[9].Content.String(), "a\nr")
		}},
		{"tool call type defaults to function", withMessages(`[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":""}}]}]`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "type", r.Messages[0].ToolCalls[0].Type, "function")
		}},
		{"content parts keep raw and type", withMessages(`[{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}},{"type":"input_audio","input_audio":{"data":"UklG","format":"wav"}},{"type":"file","file":{"file_id":"file-1","filename":"a.pdf"}}]}]`), func(t *testing.T, r *ChatCompletionRequest) {
			ps := r.Messages[0].Content.Parts
			eq(t, "types", []string{ps[0].Type, ps[1].Type, ps[2].Type, ps[3].Type}, []string{PartText, PartImageURL, PartInputAudio, PartFile})
			eq(t, "image", *ps[1].ImageURL, ImageURL{URL: "data:image/png;base64,AAAA", Detail: "low"})
			eq(t, "audio", *ps[2].InputAudio, InputAudio{Data: "UklG", Format: "wav"})
			eq(t, "file", *ps[3].File, FileRef{FileID: "file-1", Filename: "a.pdf"})
			eq(t, "raw", string(ps[1].Raw), `{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}}`)
			eq(t, "text", r.Messages[0].Content.String(), "look")
			e := r.CheckTextOnly()
			if e == nil {
				t.Fatal("CheckTextOnly accepted an image part")
			}
			eq(t, "text-only status", e.Status, http.StatusBadRequest)
			eq(t, "text-only param", *e.Param, "messages[0].content[1]")
			eq(t, "text-only code", *e.Code, CodeUnsupportedContent)
		}},
		{"empty string content", withMessages(`[{"role":"user","content":""}]`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "content", r.Messages[0].Content != nil && r.Messages[0].Content.Text == "", true)
		}},
		{"tools and choices", chatBody(`"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"z":{},"a":{}}},"strict":true}},{"type":"function","function":{"name":"no-params_2"}}],"tool_choice":{"type":"function","function":{"name":"no-params_2"}},"parallel_tool_calls":false`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "n tools", len(r.Tools), 2)
			f := r.Tools[0].Function
			eq(t, "name", f.Name, "get_weather")
			eq(t, "desc", f.Description, "Weather")
			eq(t, "params bytes", string(f.Parameters), `{"type":"object","properties":{"z":{},"a":{}}}`)
			eq(t, "strict", *f.Strict, true)
			eq(t, "no params", r.Tools[1].Function.Parameters == nil, true)
			eq(t, "choice", r.EffectiveToolChoice(), ToolChoice{Mode: ToolChoiceFunction, Function: "no-params_2"})
			eq(t, "parallel", r.ParallelToolCallsEnabled(), false)
			eq(t, "legacy", r.UsesLegacyFunctions(), false)
			eq(t, "effective", len(r.EffectiveTools()), 2)
		}},
		{"tools default auto", chatBody(`"tools":[{"type":"function","function":{"name":"f"}}]`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "choice", r.EffectiveToolChoice(), ToolChoice{Mode: ToolChoiceAuto})
		}},
		{"tool_choice required", chatBody(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "choice", r.EffectiveToolChoice(), ToolChoice{Mode: ToolChoiceRequired})
		}},
		{"tool_choice none with tools", chatBody(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "choice", r.EffectiveToolChoice(), ToolChoice{Mode: ToolChoiceNone})
		}},
		{"tool_choice auto without tools", chatBody(`"tool_choice":"auto"`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "choice", r.EffectiveToolChoice(), ToolChoice{Mode: ToolChoiceAuto})
		}},
		{"empty tools is no tools", chatBody(`"tools":[]`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "choice", r.EffectiveToolChoice(), ToolChoice{Mode: ToolChoiceNone})
		}},
		{"legacy functions mapped", chatBody(`"functions":[{"name":"lookup","parameters":{"type":"object"}}],"function_call":{"name":"lookup"}`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "legacy", r.UsesLegacyFunctions(), true)
			tools := r.EffectiveTools()
			eq(t, "tools", len(tools), 1)
			eq(t, "type", tools[0].Type, "function")
			eq(t, "name", tools[0].Function.Name, "lookup")
			eq(t, "params", string(tools[0].Function.Parameters), `{"type":"object"}`)
			eq(t, "choice", r.EffectiveToolChoice(), ToolChoice{Mode: ToolChoiceFunction, Function: "lookup"})
			eq(t, "parallel", r.ParallelToolCallsEnabled(), false)
		}},
		{"legacy function_call none", chatBody(`"functions":[{"name":"lookup"}],"function_call":"none"`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "choice", r.EffectiveToolChoice(), ToolChoice{Mode: ToolChoiceNone})
		}},
		{"legacy functions default auto", chatBody(`"functions":[{"name":"lookup"}]`), func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "choice", r.EffectiveToolChoice(), ToolChoice{Mode: ToolChoiceAuto})
		}},
		{"whitespace around body", "\n  " + chatBody("") + "\n", func(t *testing.T, r *ChatCompletionRequest) {
			eq(t, "model", r.Model, "m")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, e := DecodeChatCompletionRequest([]byte(tc.body))
			if e != nil {
				t.Fatalf("unexpected error: %v", e)
			}
			tc.check(t, r)
		})
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

type errCase struct {
	name  string
	body  string
	param string // "" means null
	code  string // "" means null
	msg   string // substring the message must contain
}

func checkErr(t *testing.T, e *Error, tc errCase) {
	t.Helper()
	if e == nil {
		t.Fatalf("accepted an invalid body")
	}
	if e.Status != http.StatusBadRequest || e.Type != TypeInvalidRequest {
		t.Errorf("status/type = %d %s, want 400 %s", e.Status, e.Type, TypeInvalidRequest)
	}
	gotParam := ""
	if e.Param != nil {
		gotParam = *e.Param
		if gotParam == "" {
			t.Errorf("param is an empty string; want null")
		}
	}
	if gotParam != tc.param {
		t.Errorf("param = %q, want %q (message %q)", gotParam, tc.param, e.Message)
	}
	gotCode := ""
	if e.Code != nil {
		gotCode = *e.Code
	}
	if gotCode != tc.code {
		t.Errorf("code = %q, want %q (message %q)", gotCode, tc.code, e.Message)
	}
	if !strings.Contains(e.Message, tc.msg) {
		t.Errorf("message %q does not contain %q", e.Message, tc.msg)
	}
	if _, err := json.Marshal(e); err != nil {
		t.Errorf("marshal error: %v", err)
	}
}

func TestDecodeChatInvalid(t *testing.T) {
	tool := func(name string) string {
		return `{"type":"function","function":{"name":"` + name + `"}}`
	}
	many := func(item string, n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = strings.ReplaceAll(item, "#", string(rune('a'+i%26))+strings.Repeat("x", i/26))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	tests := []errCase{
		// Body shape.
		{"empty body", "", "", CodeInvalidJSON, "empty"},
		{"whitespace body", "  \n", "", CodeInvalidJSON, "empty"},
		{"truncated json", `{"model":"m",`, "", CodeInvalidJSON, "could not parse the JSON body"},
		{"syntax error", `{"model":m}`, "", CodeInvalidJSON, "invalid character"},
		{"trailing garbage", chatBody("") + "x", "", CodeInvalidJSON, "could not parse"},
		{"array body", `[{"model":"m"}]`, "", CodeInvalidJSON, "must be a JSON object, but got an array"},
		{"string body", `"hello"`, "", CodeInvalidJSON, "must be a JSON object"},
		{"null body", `null`, "", CodeInvalidJSON, "must be a JSON object"},
		// model
		{"missing model", `{"messages":[{"role":"user","content":"hi"}]}`, "model", CodeMissingParameter, "Missing required parameter: 'model'"},
		{"null model", `{"model":null,"messages":[{"role":"user","content":"hi"}]}`, "model", CodeMissingParameter, "model"},
		{"model number", `{"model":5,"messages":[{"role":"user","content":"hi"}]}`, "model", CodeInvalidType, "expected a string, but got a number"},
		{"empty model", `{"model":"","messages":[{"role":"user","content":"hi"}]}`, "model", CodeInvalidValue, "empty"},
		// messages
		{"missing messages", `{"model":"m"}`, "messages", CodeMissingParameter, "'messages'"},
		{"messages object", `{"model":"m","messages":{}}`, "messages", CodeInvalidType, "expected an array of messages, but got an object"},
		{"empty messages", withMessages(`[]`), "messages", CodeEmptyArray, "empty array"},
		{"message not object", withMessages(`["hi"]`), "messages[0]", CodeInvalidType, "expected an object, but got a string"},
		{"missing role", withMessages(`[{"content":"hi"}]`), "messages[0].role", CodeMissingParameter, ""},
		{"role number", withMessages(`[{"role":1,"content":"hi"}]`), "messages[0].role", CodeInvalidType, ""},
		{"unknown role", withMessages(`[{"role":"bot","content":"hi"}]`), "messages[0].role", CodeInvalidValue, "'system', 'developer', 'user', 'assistant', 'tool', 'function'"},
		{"user without content", withMessages(`[{"role":"user"}]`), "messages[0].content", CodeMissingParameter, ""},
		{"user null content", withMessages(`[{"role":"user","content":null}]`), "messages[0].content", CodeMissingParameter, ""},
		{"system without content", withMessages(`[{"role":"user","content":"a"},{"role":"system"}]`), "messages[1].content", CodeMissingParameter, ""},
		{"content number", withMessages(`[{"role":"user","content":5}]`), "messages[0].content", CodeInvalidType, "a string or an array of content parts"},
		{"content object", withMessages(`[{"role":"user","content":{"type":"text"}}]`), "messages[0].content", CodeInvalidType, "got an object"},
		{"content empty parts", withMessages(`[{"role":"user","content":[]}]`), "messages[0].content", CodeEmptyArray, ""},
		{"part not object", withMessages(`[{"role":"user","content":["hi"]}]`), "messages[0].content[0]", CodeInvalidType, ""},
		{"part missing type", withMessages(`[{"role":"user","content":[{"text":"hi"}]}]`), "messages[0].content[0].type", CodeMissingParameter, ""},
		{"part unknown type", withMessages(`[{"role":"user","content":[{"type":"video","video":{}}]}]`), "messages[0].content[0].type", CodeInvalidValue, "'video'"},
		{"system image part", withMessages(`[{"role":"system","content":[{"type":"image_url","image_url":{"url":"x"}}]}]`), "messages[0].content[0].type", CodeInvalidValue, "Supported values are: 'text'"},
		{"user refusal part", withMessages(`[{"role":"user","content":[{"type":"refusal","refusal":"x"}]}]`), "messages[0].content[0].type", CodeInvalidValue, ""},
		{"text part missing text", withMessages(`[{"role":"user","content":[{"type":"text"}]}]`), "messages[0].content[0].text", CodeMissingParameter, ""},
		{"text part number", withMessages(`[{"role":"user","content":[{"type":"text","text":1}]}]`), "messages[0].content[0].text", CodeInvalidType, ""},
		{"image part missing url", withMessages(`[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{}}]}]`), "messages[0].content[1].image_url.url", CodeMissingParameter, ""},
		{"image part missing object", withMessages(`[{"role":"user","content":[{"type":"image_url"}]}]`), "messages[0].content[0].image_url", CodeMissingParameter, ""},
		{"image part string", withMessages(`[{"role":"user","content":[{"type":"image_url","image_url":"http://x"}]}]`), "messages[0].content[0].image_url", CodeInvalidType, ""},
		{"audio missing format", withMessages(`[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"x"}}]}]`), "messages[0].content[0].input_audio.format", CodeMissingParameter, ""},
		{"assistant empty", withMessages(`[{"role":"user","content":"a"},{"role":"assistant"}]`), "messages[1].content", CodeMissingParameter, "tool_calls"},
		{"assistant null content no calls", withMessages(`[{"role":"user","content":"a"},{"role":"assistant","content":null,"tool_calls":null}]`), "messages[1].content", CodeMissingParameter, ""},
		{"tool_calls not array", withMessages(`[{"role":"assistant","tool_calls":{}}]`), "messages[0].tool_calls", CodeInvalidType, ""},
		{"tool call missing id", withMessages(`[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]`), "messages[1].tool_calls[0].id", CodeMissingParameter, ""},
		{"tool call bad type", withMessages(`[{"role":"assistant","tool_calls":[{"id":"c","type":"custom","function":{"name":"f","arguments":"{}"}}]}]`), "messages[0].tool_calls[0].type", CodeInvalidValue, ""},
		{"tool call missing function", withMessages(`[{"role":"assistant","tool_calls":[{"id":"c","type":"function"}]}]`), "messages[0].tool_calls[0].function", CodeMissingParameter, ""},
		{"tool call arguments object", withMessages(`[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{"a":1}}}]}]`), "messages[0].tool_calls[0].function.arguments", CodeInvalidType, "expected a string, but got an object"},
		{"tool call missing arguments", withMessages(`[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f"}}]}]`), "messages[0].tool_calls[0].function.arguments", CodeMissingParameter, ""},
		{"assistant function_call missing name", withMessages(`[{"role":"assistant","function_call":{"arguments":"{}"}}]`), "messages[0].function_call.name", CodeMissingParameter, ""},
		{"refusal number", withMessages(`[{"role":"assistant","refusal":1}]`), "messages[0].refusal", CodeInvalidType, ""},
		{"tool without id", withMessages(`[{"role":"user","content":"a"},{"role":"tool","content":"r"}]`), "messages[1].tool_call_id", CodeMissingParameter, ""},
		{"tool without content", withMessages(`[{"role":"tool","tool_call_id":"c"}]`), "messages[0].content", CodeMissingParameter, ""},
		{"tool id number", withMessages(`[{"role":"tool","tool_call_id":3,"content":"r"}]`), "messages[0].tool_call_id", CodeInvalidType, ""},
		{"function without name", withMessages(`[{"role":"user","content":"a"},{"role":"function","content":"r"}]`), "messages[1].name", CodeMissingParameter, ""},
		{"function content parts", withMessages(`[{"role":"function","name":"f","content":[{"type":"text","text":"r"}]}]`), "messages[0].content", CodeInvalidType, ""},
		{"name number", withMessages(`[{"role":"user","content":"a","name":7}]`), "messages[0].name", CodeInvalidType, ""},
		// Sampling parameters.
		{"temperature string", chatBody(`"temperature":"hot"`), "temperature", CodeInvalidType, "expected a number, but got a string"},
		{"temperature bool", chatBody(`"temperature":true`), "temperature", CodeInvalidType, "expected a number, but got a boolean"},
		{"temperature high", chatBody(`"temperature":2.5`), "temperature", CodeDecimalAboveMax, "<= 2"},
		{"temperature negative", chatBody(`"temperature":-0.1`), "temperature", CodeDecimalBelowMin, ">= 0"},
		{"temperature overflow", chatBody(`"temperature":1e400`), "temperature", CodeInvalidValue, "out of range"},
		{"top_p high", chatBody(`"top_p":1.5`), "top_p", CodeDecimalAboveMax, ""},
		{"top_p array", chatBody(`"top_p":[1]`), "top_p", CodeInvalidType, "got an array"},
		{"top_k negative", chatBody(`"top_k":-1`), "top_k", CodeIntegerBelowMin, ""},
		{"top_k decimal", chatBody(`"top_k":1.5`), "top_k", CodeInvalidType, "expected an integer, but got a decimal"},
		{"min_p high", chatBody(`"min_p":2`), "min_p", CodeDecimalAboveMax, ""},
		{"frequency high", chatBody(`"frequency_penalty":2.01`), "frequency_penalty", CodeDecimalAboveMax, ""},
		{"presence low", chatBody(`"presence_penalty":-3`), "presence_penalty", CodeDecimalBelowMin, ""},
		{"repetition zero", chatBody(`"repetition_penalty":0`), "repetition_penalty", CodeInvalidValue, "> 0"},
		{"repetition negative", chatBody(`"repetition_penalty":-1`), "repetition_penalty", CodeDecimalBelowMin, ""},
		{"n zero", chatBody(`"n":0`), "n", CodeIntegerBelowMin, ">= 1"},
		{"n too big", chatBody(`"n":129`), "n", CodeIntegerAboveMax, "<= 128"},
		{"n string", chatBody(`"n":"2"`), "n", CodeInvalidType, "expected an integer, but got a string"},
		{"max_tokens zero", chatBody(`"max_tokens":0`), "max_tokens", CodeIntegerBelowMin, ">= 1"},
		{"max_tokens negative", chatBody(`"max_tokens":-5`), "max_tokens", CodeIntegerBelowMin, ""},
		{"max_tokens decimal", chatBody(`"max_tokens":1.5`), "max_tokens", CodeInvalidType, ""},
		{"max_tokens huge", chatBody(`"max_tokens":99999999999999999999999`), "max_tokens", CodeInvalidValue, "out of range"},
		{"max_completion_tokens zero", chatBody(`"max_completion_tokens":0`), "max_completion_tokens", CodeIntegerBelowMin, ""},
		{"seed string", chatBody(`"seed":"1"`), "seed", CodeInvalidType, ""},
		{"seed decimal", chatBody(`"seed":1.5`), "seed", CodeInvalidType, ""},
		{"logprobs string", chatBody(`"logprobs":"yes"`), "logprobs", CodeInvalidType, "expected a boolean"},
		{"logprobs number", chatBody(`"logprobs":1`), "logprobs", CodeInvalidType, ""},
		{"top_logprobs high", chatBody(`"logprobs":true,"top_logprobs":21`), "top_logprobs", CodeIntegerAboveMax, "<= 20"},
		{"top_logprobs negative", chatBody(`"logprobs":true,"top_logprobs":-1`), "top_logprobs", CodeIntegerBelowMin, ""},
		{"top_logprobs without logprobs", chatBody(`"top_logprobs":3`), "top_logprobs", CodeInvalidValue, "'logprobs' must be set to true"},
		{"top_logprobs with logprobs false", chatBody(`"logprobs":false,"top_logprobs":0`), "top_logprobs", CodeInvalidValue, ""},
		{"logit_bias array", chatBody(`"logit_bias":[1]`), "logit_bias", CodeInvalidType, ""},
		{"logit_bias word key", chatBody(`"logit_bias":{"hello":1}`), "logit_bias", CodeInvalidValue, "'hello' is not a token id"},
		{"logit_bias negative key", chatBody(`"logit_bias":{"-1":1}`), "logit_bias", CodeInvalidValue, ""},
		{"logit_bias high", chatBody(`"logit_bias":{"5":101}`), "logit_bias", CodeInvalidValue, "-100 to 100"},
		{"logit_bias low", chatBody(`"logit_bias":{"5":-100.5}`), "logit_bias", CodeInvalidValue, ""},
		{"logit_bias string value", chatBody(`"logit_bias":{"5":"1"}`), "logit_bias", CodeInvalidType, "number for token 5"},
		{"stop number", chatBody(`"stop":5`), "stop", CodeInvalidType, "a string or an array of strings"},
		{"stop too many", chatBody(`"stop":["a","b","c","d","e"]`), "stop", CodeArrayTooLong, "maximum length 4"},
		{"stop element number", chatBody(`"stop":["a",1]`), "stop[1]", CodeInvalidType, ""},
		{"stop empty string", chatBody(`"stop":""`), "stop", CodeInvalidValue, "empty"},
		{"stop empty element", chatBody(`"stop":["a",""]`), "stop[1]", CodeInvalidValue, ""},
		{"stream string", chatBody(`"stream":"true"`), "stream", CodeInvalidType, ""},
		{"stream_options without stream", chatBody(`"stream_options":{"include_usage":true}`), "stream_options", CodeInvalidValue, "only allowed when 'stream' is true"},
		{"stream_options with stream false", chatBody(`"stream":false,"stream_options":{"include_usage":true}`), "stream_options", CodeInvalidValue, ""},
		{"stream_options bad type", chatBody(`"stream":true,"stream_options":true`), "stream_options", CodeInvalidType, ""},
		{"include_usage string", chatBody(`"stream":true,"stream_options":{"include_usage":"yes"}`), "stream_options.include_usage", CodeInvalidType, ""},
		{"response_format string", chatBody(`"response_format":"json"`), "response_format", CodeInvalidType, ""},
		{"response_format no type", chatBody(`"response_format":{}`), "response_format.type", CodeMissingParameter, ""},
		{"response_format bad type", chatBody(`"response_format":{"type":"xml"}`), "response_format.type", CodeInvalidValue, "'text', 'json_object', 'json_schema'"},
		{"json_object schema string", chatBody(`"response_format":{"type":"json_object","schema":"x"}`), "response_format.schema", CodeInvalidType, ""},
		{"json_schema missing member", chatBody(`"response_format":{"type":"json_schema"}`), "response_format.json_schema", CodeMissingParameter, ""},
		{"json_schema missing name", chatBody(`"response_format":{"type":"json_schema","json_schema":{"schema":{}}}`), "response_format.json_schema.name", CodeMissingParameter, ""},
		{"json_schema bad name", chatBody(`"response_format":{"type":"json_schema","json_schema":{"name":"a b"}}`), "response_format.json_schema.name", CodeInvalidValue, "pattern"},
		{"json_schema schema array", chatBody(`"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":[]}}`), "response_format.json_schema.schema", CodeInvalidType, ""},
		{"json_schema strict string", chatBody(`"response_format":{"type":"json_schema","json_schema":{"name":"a","strict":"yes"}}`), "response_format.json_schema.strict", CodeInvalidType, ""},
		{"context behaviour bad", chatBody(`"context_length_exceeded_behavior":"drop"`), "context_length_exceeded_behavior", CodeInvalidValue, "'truncate', 'error'"},
		{"user number", chatBody(`"user":5`), "user", CodeInvalidType, ""},
		// Tools.
		{"tools object", chatBody(`"tools":{}`), "tools", CodeInvalidType, ""},
		{"tools too many", chatBody(`"tools":` + many(tool("f#"), 129)), "tools", CodeArrayTooLong, "maximum length 128"},
		{"tool not object", chatBody(`"tools":["f"]`), "tools[0]", CodeInvalidType, ""},
		{"tool missing type", chatBody(`"tools":[{"function":{"name":"f"}}]`), "tools[0].type", CodeMissingParameter, ""},
		{"tool custom type", chatBody(`"tools":[{"type":"custom","custom":{"name":"f"}}]`), "tools[0].type", CodeInvalidValue, ""},
		{"tool missing function", chatBody(`"tools":[{"type":"function"}]`), "tools[0].function", CodeMissingParameter, ""},
		{"tool missing name", chatBody(`"tools":[{"type":"function","function":{}}]`), "tools[0].function.name", CodeMissingParameter, ""},
		{"tool bad name space", chatBody(`"tools":[` + tool("get weather") + `]`), "tools[0].function.name", CodeInvalidValue, "^[a-zA-Z0-9_-]{1,64}$"},
		{"tool bad name dot", chatBody(`"tools":[` + tool("ok") + `,` + tool("a.b") + `]`), "tools[1].function.name", CodeInvalidValue, ""},
		{"tool name empty", chatBody(`"tools":[` + tool("") + `]`), "tools[0].function.name", CodeInvalidValue, ""},
		{"tool name 65", chatBody(`"tools":[` + tool(strings.Repeat("a", 65)) + `]`), "tools[0].function.name", CodeInvalidValue, ""},
		{"tool parameters string", chatBody(`"tools":[{"type":"function","function":{"name":"f","parameters":"{}"}}]`), "tools[0].function.parameters", CodeInvalidType, "expected an object"},
		{"tool description number", chatBody(`"tools":[{"type":"function","function":{"name":"f","description":1}}]`), "tools[0].function.description", CodeInvalidType, ""},
		{"tool strict string", chatBody(`"tools":[{"type":"function","function":{"name":"f","strict":"true"}}]`), "tools[0].function.strict", CodeInvalidType, ""},
		{"tool duplicate names", chatBody(`"tools":[` + tool("f") + `,` + tool("f") + `]`), "tools[1].function.name", CodeInvalidValue, "more than once"},
		{"tool_choice bad string", chatBody(`"tools":[` + tool("f") + `],"tool_choice":"sometimes"`), "tool_choice", CodeInvalidValue, "'none', 'auto', 'required'"},
		{"tool_choice number", chatBody(`"tools":[` + tool("f") + `],"tool_choice":1`), "tool_choice", CodeInvalidType, ""},
		{"tool_choice required without tools", chatBody(`"tool_choice":"required"`), "tool_choice", CodeInvalidValue, "only allowed when 'tools' are specified"},
		{"tool_choice named without tools", chatBody(`"tool_choice":{"type":"function","function":{"name":"f"}}`), "tool_choice", CodeInvalidValue, ""},
		{"tool_choice unknown name", chatBody(`"tools":[` + tool("f") + `],"tool_choice":{"type":"function","function":{"name":"g"}}`), "tool_choice", CodeInvalidValue, "no function named 'g'"},
		{"tool_choice missing name", chatBody(`"tools":[` + tool("f") + `],"tool_choice":{"type":"function","function":{}}`), "tool_choice.function.name", CodeMissingParameter, ""},
		{"tool_choice missing function", chatBody(`"tools":[` + tool("f") + `],"tool_choice":{"type":"function"}`), "tool_choice.function", CodeMissingParameter, ""},
		{"tool_choice bad type", chatBody(`"tools":[` + tool("f") + `],"tool_choice":{"type":"allowed_tools"}`), "tool_choice.type", CodeInvalidValue, ""},
		{"parallel string", chatBody(`"parallel_tool_calls":"no"`), "parallel_tool_calls", CodeInvalidType, ""},
		{"functions and tools", chatBody(`"tools":[` + tool("f") + `],"functions":[{"name":"g"}]`), "functions", CodeInvalidValue, "cannot both be set"},
		{"functions too many", chatBody(`"functions":` + many(`{"name":"f#"}`, 129)), "functions", CodeArrayTooLong, ""},
		{"function bad name", chatBody(`"functions":[{"name":"a/b"}]`), "functions[0].name", CodeInvalidValue, ""},
		{"function duplicate", chatBody(`"functions":[{"name":"a"},{"name":"a"}]`), "functions[1].name", CodeInvalidValue, ""},
		{"function_call required", chatBody(`"functions":[{"name":"a"}],"function_call":"required"`), "function_call", CodeInvalidValue, "'none', 'auto'"},
		{"function_call unknown", chatBody(`"functions":[{"name":"a"}],"function_call":{"name":"b"}`), "function_call", CodeInvalidValue, "no function named 'b'"},
		{"function_call without functions", chatBody(`"function_call":{"name":"b"}`), "function_call", CodeInvalidValue, ""},
		{"function_call number", chatBody(`"functions":[{"name":"a"}],"function_call":3`), "function_call", CodeInvalidType, ""},
		{"function_call and tool_choice", chatBody(`"tools":[` + tool("f") + `],"tool_choice":"auto","function_call":"auto"`), "function_call", CodeInvalidValue, "cannot both be set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, e := DecodeChatCompletionRequest([]byte(tc.body))
			if r != nil && e == nil {
				t.Fatalf("accepted: %+v", r)
			}
			checkErr(t, e, tc)
		})
	}
}

// TestDecodeChatToolsAtLimit checks that exactly MaxTools tools are accepted.
func TestDecodeChatToolsAtLimit(t *testing.T) {
	parts := make([]string, MaxTools)
	for i := range parts {
		parts[i] = `{"type":"function","function":{"name":"f_` + strconv.Itoa(i) + `"}}`
	}
	r, e := DecodeChatCompletionRequest([]byte(chatBody(`"tools":[` + strings.Join(parts, ",") + `]`)))
	if e != nil {
		t.Fatalf("128 tools rejected: %v", e)
	}
	eq(t, "tools", len(r.EffectiveTools()), MaxTools)
}
