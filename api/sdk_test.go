package api_test

// These tests drive the official openai-go SDK (pinned v3.96.0, test-only
// dependency) against an httptest server that decodes with this package and
// answers with its response types: the SDK's request bodies must decode to
// the intended values, and our responses must parse into the SDK's types.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/api"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// fakeServer decodes every request with the api package and hands the result
// to respond, which writes the answer.
type fakeServer struct {
	t       *testing.T
	chat    func(w http.ResponseWriter, r *api.ChatCompletionRequest)
	compl   func(w http.ResponseWriter, r *api.CompletionRequest)
	lastRaw []byte
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		api.WriteError(w, api.NewInternal("read body"))
		return
	}
	f.lastRaw = body
	switch {
	case req.Method == http.MethodGet && req.URL.Path == "/v1/models":
		writeJSON(w, api.ModelList{Data: []api.Model{{ID: "kiln-test", Created: 1700000000, OwnedBy: "kiln"}}})
	case req.Method != http.MethodPost:
		api.WriteError(w, api.NewMethodNotAllowed(req.Method, req.URL.Path))
	case req.URL.Path == "/v1/chat/completions":
		r, e := api.DecodeChatCompletionRequest(body)
		if e != nil {
			api.WriteError(w, e)
			return
		}
		f.chat(w, r)
	case req.URL.Path == "/v1/completions":
		r, e := api.DecodeCompletionRequest(body)
		if e != nil {
			api.WriteError(w, e)
			return
		}
		f.compl(w, r)
	default:
		api.WriteError(w, api.NewRouteNotFound(req.Method, req.URL.Path))
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		api.WriteError(w, api.NewInternal(err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func writeSSE(w http.ResponseWriter, events ...any) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, ev := range events {
		b, err := json.Marshal(ev)
		if err != nil {
			panic(err) // test data only
		}
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func newClient(t *testing.T, f *fakeServer) openai.Client {
	t.Helper()
	f.t = t
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return openai.NewClient(
		option.WithBaseURL(srv.URL+"/v1/"),
		option.WithAPIKey("test-key"),
		option.WithMaxRetries(0),
		option.WithRequestTimeout(10*time.Second),
	)
}

func sp(s string) *string { return &s }

func check[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestSDKChatToolRoundTrip(t *testing.T) {
	var got []*api.ChatCompletionRequest
	f := &fakeServer{}
	f.chat = func(w http.ResponseWriter, r *api.ChatCompletionRequest) {
		got = append(got, r)
		writeJSON(w, api.ChatCompletion{
			ID: "chatcmpl-1", Created: 1700000000, Model: r.Model, SystemFingerprint: "fp_kiln",
			Choices: []api.ChatChoice{{
				Message: api.ChatResponseMessage{Role: "assistant", ToolCalls: []api.ToolCall{{
					ID: "call_1", Type: "function", Function: api.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris","unit":"c"}`},
				}}},
				Logprobs: &api.ChatLogprobs{Content: []api.TokenLogprob{{Token: "{", Logprob: -0.125, Bytes: []int{123},
					TopLogprobs: []api.TopLogprob{{Token: "{", Logprob: -0.125, Bytes: []int{123}}}}}},
				FinishReason: api.FinishToolCalls,
			}},
			Usage: api.Usage{PromptTokens: 20, CompletionTokens: 10, TotalTokens: 30},
		})
	}
	client := newClient(t, f)
	params := openai.ChatCompletionNewParams{
		Model: "kiln-test",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are terse."),
			openai.UserMessage("Weather in Paris?"),
		},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:        "get_weather",
			Description: openai.String("Current weather"),
			Parameters: shared.FunctionParameters{
				"type":       "object",
				"properties": map[string]any{"city": map[string]any{"type": "string"}},
				"required":   []string{"city"},
			},
			Strict: openai.Bool(true),
		})},
		ToolChoice:          openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"}),
		ParallelToolCalls:   openai.Bool(false),
		Temperature:         openai.Float(0.2),
		TopP:                openai.Float(0.95),
		Seed:                openai.Int(1234),
		MaxCompletionTokens: openai.Int(64),
		N:                   openai.Int(1),
		Stop:                openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"\n\n", "END"}},
		LogitBias:           map[string]int64{"50256": -100},
		Logprobs:            openai.Bool(true),
		TopLogprobs:         openai.Int(1),
		FrequencyPenalty:    openai.Float(0.5),
		PresencePenalty:     openai.Float(-0.5),
		User:                openai.String("user-1"),
	}
	resp, err := client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatalf("SDK call: %v", err)
	}
	r := got[0]
	check(t, "model", r.Model, "kiln-test")
	check(t, "roles", []string{r.Messages[0].Role, r.Messages[1].Role}, []string{"system", "user"})
	check(t, "user text", r.Messages[1].Content.String(), "Weather in Paris?")
	check(t, "tool name", r.Tools[0].Function.Name, "get_weather")
	var schema map[string]any
	if err := json.Unmarshal(r.Tools[0].Function.Parameters, &schema); err != nil || schema["type"] != "object" {
		t.Errorf("parameters = %s (%v)", r.Tools[0].Function.Parameters, err)
	}
	check(t, "strict", *r.Tools[0].Function.Strict, true)
	check(t, "tool choice", r.EffectiveToolChoice(), api.ToolChoice{Mode: api.ToolChoiceFunction, Function: "get_weather"})
	check(t, "parallel", r.ParallelToolCallsEnabled(), false)
	check(t, "temperature", *r.Temperature, 0.2)
	check(t, "top_p", *r.TopP, 0.95)
	check(t, "seed", *r.Seed, int64(1234))
	mt, _ := r.MaxTokens()
	check(t, "max tokens", mt, 64)
	check(t, "stops", r.Stops(), []string{"\n\n", "END"})
	check(t, "logit bias", r.LogitBias, map[int]float64{50256: -100})
	check(t, "logprobs", r.Logprobs, true)
	check(t, "top logprobs", *r.TopLogprobs, 1)
	check(t, "penalties", [2]float64{*r.FrequencyPenalty, *r.PresencePenalty}, [2]float64{0.5, -0.5})
	check(t, "user", r.User, "user-1")
	check(t, "stream", r.Stream, false)

	// The SDK must read our response.
	c := resp.Choices[0]
	check(t, "finish", c.FinishReason, "tool_calls")
	check(t, "content", c.Message.Content, "")
	check(t, "call args", c.Message.ToolCalls[0].Function.Arguments, `{"city":"Paris","unit":"c"}`)
	check(t, "call id", c.Message.ToolCalls[0].ID, "call_1")
	check(t, "usage", [3]int64{resp.Usage.PromptTokens, resp.Usage.CompletionTokens, resp.Usage.TotalTokens}, [3]int64{20, 10, 30})
	//lint:ignore SA1019 Kiln sends system_fingerprint (spec README), so the SDK must still read it.
	check(t, "fingerprint", resp.SystemFingerprint, "fp_kiln")
	check(t, "object", string(resp.Object), "chat.completion")
	check(t, "logprob", c.Logprobs.Content[0].Logprob, -0.125)
	check(t, "logprob bytes", c.Logprobs.Content[0].Bytes, []int64{123})

	// Second turn: the SDK's own conversion of our message back into a
	// param, plus the tool result.
	params.Messages = append(params.Messages, c.Message.ToParam(), openai.ToolMessage(`{"temp":21}`, "call_1"))
	params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("auto")}
	if _, err := client.Chat.Completions.New(context.Background(), params); err != nil {
		t.Fatalf("second SDK call: %v", err)
	}
	r = got[1]
	check(t, "messages", len(r.Messages), 4)
	a := r.Messages[2]
	check(t, "assistant role", a.Role, "assistant")
	check(t, "assistant calls", a.ToolCalls, []api.ToolCall{{ID: "call_1", Type: "function", Function: api.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris","unit":"c"}`}}})
	check(t, "tool msg", [3]string{r.Messages[3].Role, r.Messages[3].ToolCallID, r.Messages[3].Content.String()}, [3]string{"tool", "call_1", `{"temp":21}`})
	check(t, "auto", r.EffectiveToolChoice(), api.ToolChoice{Mode: api.ToolChoiceAuto})
}

func TestSDKChatFormsAndParts(t *testing.T) {
	var got *api.ChatCompletionRequest
	f := &fakeServer{}
	f.chat = func(w http.ResponseWriter, r *api.ChatCompletionRequest) {
		got = r
		if e := r.CheckTextOnly(); e != nil {
			api.WriteError(w, e)
			return
		}
		writeJSON(w, api.ChatCompletion{ID: "c", Model: r.Model, Choices: []api.ChatChoice{{Message: api.ChatResponseMessage{Role: "assistant", Content: sp(`{"a":1}`)}, FinishReason: api.FinishStop}}})
	}
	client := newClient(t, f)
	ctx := context.Background()

	// json_schema response format, developer message, max_tokens.
	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:     "m",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.DeveloperMessage("Answer in JSON."), openai.UserMessage("go")},
		MaxTokens: openai.Int(10),
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "obj", Schema: map[string]any{"type": "object"}, Strict: openai.Bool(true)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "content", resp.Choices[0].Message.Content, `{"a":1}`)
	check(t, "refusal", resp.Choices[0].Message.Refusal, "")
	check(t, "format", got.ResponseFormat.Type, api.FormatJSONSchema)
	check(t, "schema name", got.ResponseFormat.JSONSchema.Name, "obj")
	check(t, "schema", string(got.ResponseFormat.SchemaJSON()), `{"type":"object"}`)
	check(t, "developer", got.Messages[0].Role, "developer")
	mt, _ := got.MaxTokens()
	check(t, "max tokens", mt, 10)

	// json_object and legacy functions.
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:          "m",
		Messages:       []openai.ChatCompletionMessageParamUnion{openai.UserMessage("go")},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}},
		//lint:ignore SA1019 the deprecated functions interface is in scope (spec 000).
		Functions:    []openai.ChatCompletionNewParamsFunction{{Name: "lookup", Parameters: shared.FunctionParameters{"type": "object"}}},
		FunctionCall: openai.ChatCompletionNewParamsFunctionCallUnion{OfFunctionCallOption: &openai.ChatCompletionFunctionCallOptionParam{Name: "lookup"}},
		Stop:         openai.ChatCompletionNewParamsStopUnion{OfString: openai.String("###")},
	})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "json object", got.ResponseFormat.Type, api.FormatJSONObject)
	check(t, "legacy", got.UsesLegacyFunctions(), true)
	check(t, "legacy choice", got.EffectiveToolChoice(), api.ToolChoice{Mode: api.ToolChoiceFunction, Function: "lookup"})
	check(t, "stop", got.Stops(), []string{"###"})

	// An image part: decoded with its type, then rejected precisely.
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "m",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
			openai.TextContentPart("What is this?"),
			openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64,iVBORw0KGgo=", Detail: "low"}),
		})},
	})
	var apierr *openai.Error
	if !errors.As(err, &apierr) {
		t.Fatalf("want an API error, got %v", err)
	}
	check(t, "status", apierr.StatusCode, 400)
	check(t, "param", apierr.Param, "messages[0].content[1]")
	check(t, "code", apierr.Code, api.CodeUnsupportedContent)
	check(t, "type", apierr.Type, api.TypeInvalidRequest)
	check(t, "part types", []string{got.Messages[0].Content.Parts[0].Type, got.Messages[0].Content.Parts[1].Type}, []string{"text", "image_url"})
	check(t, "image url", got.Messages[0].Content.Parts[1].ImageURL.URL, "data:image/png;base64,iVBORw0KGgo=")
}

func TestSDKErrors(t *testing.T) {
	f := &fakeServer{}
	f.chat = func(w http.ResponseWriter, r *api.ChatCompletionRequest) {
		api.WriteError(w, api.NewOverloaded("", time.Second))
	}
	client := newClient(t, f)
	ctx := context.Background()
	base := openai.ChatCompletionNewParams{Model: "m", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}}

	tests := []struct {
		name   string
		opts   []option.RequestOption
		status int
		param  string
		code   string
		msg    string
	}{
		{"wrong type", []option.RequestOption{option.WithJSONSet("temperature", "hot")}, 400, "temperature", api.CodeInvalidType, "expected a number"},
		{"out of range", []option.RequestOption{option.WithJSONSet("top_logprobs", 3), option.WithJSONSet("logprobs", true), option.WithJSONSet("n", 0)}, 400, "n", api.CodeIntegerBelowMin, ">= 1"},
		{"overloaded", nil, 429, "", api.CodeRateLimitExceeded, "overloaded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.Chat.Completions.New(ctx, base, tc.opts...)
			var apierr *openai.Error
			if !errors.As(err, &apierr) {
				t.Fatalf("want an API error, got %v", err)
			}
			check(t, "status", apierr.StatusCode, tc.status)
			check(t, "param", apierr.Param, tc.param)
			check(t, "code", apierr.Code, tc.code)
			if !strings.Contains(apierr.Message, tc.msg) {
				t.Errorf("message %q lacks %q", apierr.Message, tc.msg)
			}
		})
	}
}

func TestSDKChatStream(t *testing.T) {
	var got *api.ChatCompletionRequest
	f := &fakeServer{}
	f.chat = func(w http.ResponseWriter, r *api.ChatCompletionRequest) {
		got = r
		usage := api.Usage{PromptTokens: 5, CompletionTokens: 3, TotalTokens: 8}
		chunk := func(d api.ChatDelta, fr api.FinishReason) api.ChatCompletionChunk {
			return api.ChatCompletionChunk{ID: "chatcmpl-s", Created: 1, Model: r.Model, SystemFingerprint: "fp", StreamUsage: r.IncludeUsage(),
				Choices: []api.ChunkChoice{{Delta: d, FinishReason: fr}}}
		}
		if len(r.Tools) > 0 {
			writeSSE(w,
				chunk(api.ChatDelta{Role: "assistant", ToolCalls: []api.ToolCallDelta{{Index: 0, ID: "call_9", Type: "function", Function: api.FunctionCallDelta{Name: "f"}}}}, ""),
				chunk(api.ChatDelta{ToolCalls: []api.ToolCallDelta{{Index: 0, Function: api.FunctionCallDelta{Arguments: `{"x":`}}}}, ""),
				chunk(api.ChatDelta{ToolCalls: []api.ToolCallDelta{{Index: 0, Function: api.FunctionCallDelta{Arguments: `1}`}}}}, ""),
				chunk(api.ChatDelta{}, api.FinishToolCalls),
			)
			return
		}
		writeSSE(w,
			chunk(api.ChatDelta{Role: "assistant", Content: sp("")}, ""),
			chunk(api.ChatDelta{Content: sp("Hel")}, ""),
			chunk(api.ChatDelta{Content: sp("lo")}, ""),
			chunk(api.ChatDelta{}, api.FinishStop),
			api.ChatCompletionChunk{ID: "chatcmpl-s", Created: 1, Model: r.Model, SystemFingerprint: "fp", StreamUsage: true, Usage: &usage},
		)
	}
	client := newClient(t, f)
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "m",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	acc := openai.ChatCompletionAccumulator{}
	n := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		n++
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	check(t, "stream decoded", got.Stream, true)
	check(t, "include usage", got.IncludeUsage(), true)
	check(t, "chunks", n, 5)
	check(t, "content", acc.Choices[0].Message.Content, "Hello")
	check(t, "finish", acc.Choices[0].FinishReason, "stop")
	check(t, "usage", acc.Usage.TotalTokens, int64(8))

	// Streamed tool call.
	stream = client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "m",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		Tools:    []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "f"})},
	})
	acc = openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("tool stream: %v", err)
	}
	check(t, "include usage off", got.IncludeUsage(), false)
	calls := acc.Choices[0].Message.ToolCalls
	if len(calls) != 1 {
		t.Fatalf("tool calls = %d, want 1", len(calls))
	}
	check(t, "call", [3]string{calls[0].ID, calls[0].Function.Name, calls[0].Function.Arguments}, [3]string{"call_9", "f", `{"x":1}`})
	check(t, "finish", acc.Choices[0].FinishReason, "tool_calls")
}

func TestSDKCompletions(t *testing.T) {
	var got *api.CompletionRequest
	f := &fakeServer{}
	f.compl = func(w http.ResponseWriter, r *api.CompletionRequest) {
		got = r
		writeJSON(w, api.Completion{ID: "cmpl-1", Created: 1, Model: r.Model, SystemFingerprint: "fp",
			Choices: []api.CompletionChoice{{Text: "Hi there", FinishReason: api.FinishLength, Logprobs: &api.CompletionLogprobs{
				Tokens:        []string{"Hi", " there"},
				TokenLogprobs: []api.Logprob{-0.5, -0.75},
				TopLogprobs:   []api.OrderedTokens{{{Token: "Hi", Logprob: -0.5}}, {{Token: " there", Logprob: -0.75}, {Token: " all", Logprob: -1}}},
				TextOffset:    []int{0, 2},
			}}},
			Usage: &api.Usage{PromptTokens: 2, CompletionTokens: 2, TotalTokens: 4}})
	}
	client := newClient(t, f)
	tests := []struct {
		name   string
		prompt openai.CompletionNewParamsPromptUnion
		want   api.Prompt
	}{
		{"string", openai.CompletionNewParamsPromptUnion{OfString: openai.String("Hello")}, api.Prompt{Texts: []string{"Hello"}}},
		{"strings", openai.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{"a", "b"}}, api.Prompt{Texts: []string{"a", "b"}}},
		{"tokens", openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: []int64{1, 2, 3}}, api.Prompt{TokenIDs: [][]int{{1, 2, 3}}}},
		{"token arrays", openai.CompletionNewParamsPromptUnion{OfArrayOfTokenArrays: [][]int64{{1}, {2, 3}}}, api.Prompt{TokenIDs: [][]int{{1}, {2, 3}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Completions.New(context.Background(), openai.CompletionNewParams{
				Model:     "m",
				Prompt:    tc.prompt,
				MaxTokens: openai.Int(2),
				Logprobs:  openai.Int(2),
				Echo:      openai.Bool(true),
				Stop:      openai.CompletionNewParamsStopUnion{OfString: openai.String("\n")},
			}, option.WithJSONSet("top_k", 40), option.WithJSONSet("context_length_exceeded_behavior", "error"))
			if err != nil {
				t.Fatal(err)
			}
			check(t, "prompt", got.Prompt, tc.want)
			check(t, "logprobs", *got.Logprobs, 2)
			check(t, "echo", got.Echo, true)
			check(t, "top_k", *got.TopK, 40)
			check(t, "truncate", got.TruncateToContext(), false)
			check(t, "stops", got.Stops(), []string{"\n"})
			c := resp.Choices[0]
			check(t, "text", c.Text, "Hi there")
			check(t, "finish", string(c.FinishReason), "length")
			check(t, "tokens", c.Logprobs.Tokens, []string{"Hi", " there"})
			check(t, "token logprobs", c.Logprobs.TokenLogprobs, []float64{-0.5, -0.75})
			check(t, "top logprobs", c.Logprobs.TopLogprobs, []map[string]float64{{"Hi": -0.5}, {" there": -0.75, " all": -1}})
			check(t, "offsets", c.Logprobs.TextOffset, []int64{0, 2})
			check(t, "usage", resp.Usage.TotalTokens, int64(4))
		})
	}
}

func TestSDKModels(t *testing.T) {
	client := newClient(t, &fakeServer{})
	page, err := client.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 {
		t.Fatalf("models = %d", len(page.Data))
	}
	m := page.Data[0]
	check(t, "model", [3]string{m.ID, string(m.Object), m.OwnedBy}, [3]string{"kiln-test", "model", "kiln"})
	check(t, "created", m.Created, int64(1700000000))
}
