package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/engine"
	"github.com/kiln-llm/kiln/server"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// errorObject is OpenAI's error envelope with every member required.
type errorObject struct {
	Error struct {
		Message *string `json:"message"`
		Type    *string `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// checkError asserts the status and the exact key set of the error object.
func checkError(t *testing.T, name string, status int, body []byte, wantStatus int, wantParam, wantCode string) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("%s: status %d, want %d (%s)", name, status, wantStatus, body)
		return
	}
	var keys map[string]map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil || len(keys) != 1 || len(keys["error"]) != 4 {
		t.Errorf("%s: body %s is not {\"error\":{message,type,param,code}}", name, body)
		return
	}
	var eo errorObject
	_ = json.Unmarshal(body, &eo)
	if eo.Error.Message == nil || *eo.Error.Message == "" || eo.Error.Type == nil {
		t.Errorf("%s: no message or type in %s", name, body)
	}
	if got := deref(eo.Error.Param); got != wantParam {
		t.Errorf("%s: param %q, want %q (%s)", name, got, wantParam, body)
	}
	if wantCode != "*" {
		if got := deref(eo.Error.Code); got != wantCode {
			t.Errorf("%s: code %q, want %q (%s)", name, got, wantCode, body)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestErrorStatuses drives every error status over raw HTTP and checks the
// error objects byte for byte in shape.
func TestErrorStatuses(t *testing.T) {
	e := newEnv(t, envOptions{keys: []string{"sk-one", "sk-two"}, maxBody: 4096})
	chat := `{"model":"` + modelID + `","messages":[{"role":"user","content":"hi"}],"max_tokens":2}`
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		param, code              string
	}{
		{"no key", "POST", "/v1/chat/completions", chat, []string{"Authorization", ""}, 401, "", "invalid_api_key"},
		{"wrong key", "POST", "/v1/chat/completions", chat, []string{"Authorization", "Bearer sk-three"}, 401, "", "invalid_api_key"},
		{"not bearer", "POST", "/v1/models", "", []string{"Authorization", "Basic sk-one"}, 401, "", "invalid_api_key"},
		{"unknown route", "GET", "/v1/engines", "", nil, 404, "", "unknown_url"},
		{"wrong method", "GET", "/v1/chat/completions", "", nil, 405, "", "method_not_allowed"},
		{"wrong method models", "POST", "/v1/models", "{}", nil, 405, "", "method_not_allowed"},
		{"unknown model", "POST", "/v1/chat/completions", strings.Replace(chat, modelID, "gpt-4", 1), nil, 404, "model", "model_not_found"},
		{"unknown model get", "GET", "/v1/models/gpt-4", "", nil, 404, "model", "model_not_found"},
		{"unknown model completions", "POST", "/v1/completions", `{"model":"x","prompt":"a"}`, nil, 404, "model", "model_not_found"},
		{"too large", "POST", "/v1/chat/completions", `{"model":"` + modelID + `","messages":[{"role":"user","content":"` + strings.Repeat("a", 5000) + `"}]}`, nil, 413, "", "request_too_large"},
		{"bad json", "POST", "/v1/chat/completions", `{"model":`, nil, 400, "", "*"},
		{"wrong type", "POST", "/v1/chat/completions", strings.Replace(chat, `"max_tokens":2`, `"temperature":"hot"`, 1), nil, 400, "temperature", "*"},
		{"range", "POST", "/v1/completions", `{"model":"` + modelID + `","prompt":"a","logprobs":9}`, nil, 400, "logprobs", "*"},
		{"missing messages", "POST", "/v1/chat/completions", `{"model":"` + modelID + `"}`, nil, 400, "messages", "*"},
		{"bad logit_bias id", "POST", "/v1/completions", `{"model":"` + modelID + `","prompt":"a","logit_bias":{"100000":1}}`, nil, 400, "logit_bias", "*"},
		{"images on a text model", "POST", "/v1/completions", `{"model":"` + modelID + `","prompt":"a <image>","images":["data:image/png;base64,AAAA"]}`, nil, 400, "images", "*"},
		{"image part", "POST", "/v1/chat/completions", `{"model":"` + modelID + `","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA"}}]}]}`, nil, 400, "messages[0].content[0]", "*"},
		{"detokenize bad id", "POST", "/detokenize", `{"tokens":[1,70000]}`, nil, 400, "tokens[1]", "*"},
		{"tokenize unknown model", "POST", "/tokenize", `{"model":"x","prompt":"a"}`, nil, 404, "model", "model_not_found"},
	}
	for _, c := range cases {
		status, hdr, body := e.raw(c.method, c.path, c.body, c.hdr...)
		checkError(t, c.name, status, body, c.status, c.param, c.code)
		if ct := hdr.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: content type %q", c.name, ct)
		}
		if c.status == 405 && hdr.Get("Allow") == "" {
			t.Errorf("%s: 405 without Allow", c.name)
		}
	}
	// /health is open; the second key works.
	if status, _, body := e.raw("GET", "/health", "", "Authorization", ""); status != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Errorf("health without key: %d %s", status, body)
	}
	if status, _, _ := e.raw("GET", "/v1/models", "", "Authorization", "Bearer sk-two"); status != 200 {
		t.Errorf("second key refused: %d", status)
	}

	// The SDK maps the statuses to its error type.
	c := openai.NewClient(option.WithBaseURL(e.ts.URL+"/v1"), option.WithAPIKey("sk-wrong"), option.WithMaxRetries(0))
	_, err := c.Models.List(context.Background())
	var apierr *openai.Error
	if !errors.As(err, &apierr) || apierr.StatusCode != 401 || apierr.Code != "invalid_api_key" {
		t.Errorf("SDK 401: %v", err)
	}
	_, err = e.client.Models.Get(context.Background(), "gpt-4")
	if !errors.As(err, &apierr) || apierr.StatusCode != 404 {
		t.Errorf("SDK 404: %v", err)
	}
}

// TestModelsAndTokenize covers /v1/models, /v1/models/{id}, /health,
// /tokenize and /detokenize.
func TestModelsAndTokenize(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	page, err := e.client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != modelID || page.Data[0].OwnedBy != "kiln" || page.Data[0].Object != "model" || page.Data[0].Created == 0 {
		t.Errorf("models %+v", page.Data)
	}
	m, err := e.client.Models.Get(ctx, modelID)
	if err != nil || m.ID != modelID {
		t.Errorf("model get: %+v %v", m, err)
	}
	status, _, body := e.raw("GET", "/v1/models", "")
	if status != 200 || !strings.HasPrefix(string(body), `{"object":"list","data":[{"id":"stories260K-chatml","object":"model","created":`) {
		t.Errorf("models wire: %s", body)
	}
	r := ref(t)
	status, _, body = e.raw("POST", "/tokenize", `{"model":"`+modelID+`","prompt":"Once upon a time"}`)
	want := mustJSON(t, map[string]any{"tokens": r.tok.Encode("Once upon a time", true, true)})
	if status != 200 || strings.TrimSpace(string(body)) != want {
		t.Errorf("tokenize: %d %s, want %s", status, body, want)
	}
	status, _, body = e.raw("POST", "/detokenize", `{"tokens":[403,407,261]}`)
	if status != 200 || strings.TrimSpace(string(body)) != `{"prompt":" Once upon a"}` {
		t.Errorf("detokenize: %d %s", status, body)
	}
	status, _, body = e.raw("POST", "/tokenize", `{"prompt":""}`)
	if status != 200 || strings.TrimSpace(string(body)) != `{"tokens":[1]}` {
		t.Errorf("tokenize empty: %d %s", status, body)
	}
}

// TestWireShapes checks the bytes of responses and streams where SDKs are
// lenient: null versus absent members, SSE framing, the [DONE] sentinel.
func TestWireShapes(t *testing.T) {
	e := newEnv(t, envOptions{})
	chat := `{"model":"` + modelID + `","messages":[{"role":"user","content":"hi"}],"max_tokens":3,"temperature":0`
	status, hdr, body := e.raw("POST", "/v1/chat/completions", chat+`}`)
	if status != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("chat: %d %s", status, body)
	}
	s := string(body)
	for _, want := range []string{`"object":"chat.completion"`, `"refusal":null`, `"logprobs":null`, `"finish_reason":"length"`,
		`"usage":{"prompt_tokens":`, `"system_fingerprint":"fp_kiln-test-`, `"message":{"role":"assistant","content":"`} {
		if !strings.Contains(s, want) {
			t.Errorf("chat response lacks %s: %s", want, s)
		}
	}
	if strings.Contains(s, "tool_calls") || strings.Contains(s, "function_call") {
		t.Errorf("chat response has call members without calls: %s", s)
	}

	status, hdr, body = e.raw("POST", "/v1/chat/completions", chat+`,"stream":true}`)
	if status != 200 || hdr.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("chat stream: %d %q", status, hdr.Get("Content-Type"))
	}
	evs := sseEvents(t, body)
	if evs[len(evs)-1] != "[DONE]" {
		t.Errorf("stream does not end with [DONE]: %q", evs[len(evs)-1])
	}
	if !strings.Contains(evs[0], `"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null`) ||
		!strings.Contains(evs[0], `"object":"chat.completion.chunk"`) {
		t.Errorf("first chunk %s", evs[0])
	}
	for _, ev := range evs[:len(evs)-1] {
		if strings.Contains(ev, `"usage"`) {
			t.Errorf("usage member without include_usage: %s", ev)
		}
	}
	fin := evs[len(evs)-2]
	if !strings.Contains(fin, `"delta":{},"logprobs":null,"finish_reason":"length"`) {
		t.Errorf("final chunk %s", fin)
	}

	_, _, body = e.raw("POST", "/v1/chat/completions", chat+`,"stream":true,"stream_options":{"include_usage":true}}`)
	evs = sseEvents(t, body)
	for _, ev := range evs[:len(evs)-2] {
		if !strings.Contains(ev, `"usage":null`) {
			t.Errorf("include_usage chunk without usage null: %s", ev)
		}
	}
	if u := evs[len(evs)-2]; !strings.Contains(u, `"choices":[]`) || !strings.Contains(u, `"completion_tokens":3`) {
		t.Errorf("usage chunk %s", u)
	}

	_, _, body = e.raw("POST", "/v1/completions", `{"model":"`+modelID+`","prompt":"Once","max_tokens":3,"temperature":0,"stream":true}`)
	evs = sseEvents(t, body)
	if evs[len(evs)-1] != "[DONE]" || !strings.Contains(evs[len(evs)-2], `"finish_reason":"length"`) ||
		!strings.Contains(evs[len(evs)-2], `"usage":{"prompt_tokens":`) || !strings.Contains(evs[0], `"object":"text_completion"`) {
		t.Errorf("completion stream %q", evs)
	}
	for _, ev := range evs[:len(evs)-2] {
		if strings.Contains(ev, `"usage"`) {
			t.Errorf("usage before the last chunk: %s", ev)
		}
	}
	_, _, body = e.raw("POST", "/v1/completions", `{"model":"`+modelID+`","prompt":"Once","max_tokens":2,"temperature":0,"logprobs":1}`)
	if !strings.Contains(string(body), `"logprobs":{"tokens":[`) || !strings.Contains(string(body), `"text_offset":[4,`) {
		t.Errorf("completion logprobs %s", body)
	}
}

// blocker is a constraint that holds the scheduler inside Allow until
// released: it pins a slot so that the queue can be filled on purpose.
type blocker struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blocker) Allow(allowed []bool) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
}
func (b *blocker) Accept(int) error { return nil }
func (b *blocker) Done() bool       { return true }

// TestQueueFull429 fills the one slot and the one queue place, then checks
// that the next request gets 429 with Retry-After, and that the queued
// request completes once the slot frees.
func TestQueueFull429(t *testing.T) {
	e := newEnv(t, envOptions{engine: engineOpts(1, 128, 1)})
	b := &blocker{entered: make(chan struct{}), release: make(chan struct{})}
	ctx := context.Background()
	first, err := e.model.Engine.Submit(ctx, engine.GenRequest{Prompt: []int{1}, MaxTokens: 1, Constraint: b})
	if err != nil {
		t.Fatal(err)
	}
	<-b.entered
	// The one queue place: submitted directly, so it is queued for sure.
	queued, err := e.model.Engine.Submit(ctx, engine.GenRequest{Prompt: []int{1}, MaxTokens: 2})
	if err != nil {
		t.Fatal(err)
	}
	status, hdr, body := e.raw("POST", "/v1/completions", `{"model":"`+modelID+`","prompt":"a","max_tokens":1}`)
	checkError(t, "queue full", status, body, 429, "", "rate_limit_exceeded")
	if hdr.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", hdr.Get("Retry-After"))
	}
	_, err = e.client.Chat.Completions.New(ctx, userChat("hi", 2))
	var apierr *openai.Error
	if !errors.As(err, &apierr) || apierr.StatusCode != 429 {
		t.Errorf("SDK 429: %v", err)
	}
	close(b.release)
	for range first {
	}
	var last engine.Event
	for ev := range queued {
		last = ev
	}
	if last.Finish == "" || last.CompletionTokens != 2 {
		t.Errorf("queued request did not complete once the slot freed: %+v", last)
	}
	// And the server takes requests again.
	if _, err := e.client.Chat.Completions.New(ctx, userChat("hi", 2)); err != nil {
		t.Errorf("after the queue drained: %v", err)
	}
}

// watcher wraps the engine to observe what the server does with requests.
type watcher struct {
	server.Generator
	mu       sync.Mutex
	ctxs     []context.Context
	closedAt []chan time.Time
}

func (w *watcher) Submit(ctx context.Context, r engine.GenRequest) (<-chan engine.Event, error) {
	ch, err := w.Generator.Submit(ctx, r)
	if err != nil {
		return nil, err
	}
	out := make(chan engine.Event)
	closed := make(chan time.Time, 1)
	w.mu.Lock()
	w.ctxs = append(w.ctxs, ctx)
	w.closedAt = append(w.closedAt, closed)
	w.mu.Unlock()
	go func() {
		defer close(out)
		for ev := range ch {
			out <- ev
		}
		closed <- time.Now()
	}()
	return out, nil
}

// TestClientDisconnect checks that a client leaving mid-stream cancels its
// generation at once: the engine request's context ends and its stream is
// closed long before the (banned end token, 400-token) generation could
// have finished, and the slot serves the next request.
func TestClientDisconnect(t *testing.T) {
	w := &watcher{}
	e := newEnv(t, envOptions{engine: engineOpts(1, 512, -1), wrap: func(g server.Generator) server.Generator { w.Generator = g; return w }})
	body := `{"model":"` + modelID + `","prompt":"Once","max_tokens":400,"logit_bias":{"2":-100},"stream":true}`
	req, _ := http.NewRequest("POST", e.ts.URL+"/v1/completions", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, resp.Body, `"text"`)
	start := time.Now()
	resp.Body.Close()
	w.mu.Lock()
	ctx, closed := w.ctxs[0], w.closedAt[0]
	w.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the engine request was not cancelled after the client left")
	}
	select {
	case at := <-closed:
		t.Logf("stream closed %v after the disconnect", at.Sub(start))
	case <-time.After(5 * time.Second):
		t.Fatal("the engine stream did not end after the client left")
	}
	// Parallel 1 with no queue: this succeeds only once the slot is free,
	// which the scheduler does at its next step (allow it a moment).
	var err2 error
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err2 = e.client.Completions.New(context.Background(), greedyCompletion(openai.CompletionNewParamsPromptUnion{OfString: openai.String("a")}, 2)); err2 == nil {
			break
		}
	}
	if err2 != nil {
		t.Errorf("next request after disconnect: %v", err2)
	}
}

// failing is a generator whose streams fail inside the engine.
type failing struct{ server.Generator }

func (failing) Submit(ctx context.Context, r engine.GenRequest) (<-chan engine.Event, error) {
	ch := make(chan engine.Event, 1)
	ch <- engine.Event{Err: errors.New("boom")}
	close(ch)
	return ch, nil
}

// TestEngineFailure checks that an engine failure is a 500 (not streamed)
// and an error event (streamed).
func TestEngineFailure(t *testing.T) {
	e := newEnv(t, envOptions{wrap: func(g server.Generator) server.Generator { return failing{g} }})
	status, _, body := e.raw("POST", "/v1/completions", `{"model":"`+modelID+`","prompt":"a","max_tokens":2}`)
	checkError(t, "engine failure", status, body, 500, "", "")
	status, _, body = e.raw("POST", "/v1/completions", `{"model":"`+modelID+`","prompt":"a","max_tokens":2,"stream":true}`)
	evs := sseEvents(t, body)
	if status != 200 || len(evs) != 1 || !strings.HasPrefix(evs[0], `{"error":{"message":"The generation failed: boom"`) {
		t.Errorf("streamed failure: %d %q", status, evs)
	}
	s := e.client.Chat.Completions.NewStreaming(context.Background(), userChat("x", 2))
	for s.Next() {
	}
	if s.Err() == nil || !strings.Contains(s.Err().Error(), "boom") {
		t.Errorf("SDK did not surface the streamed error: %v", s.Err())
	}
}

// scripted is a generator that replays fixed output pieces, to drive what
// the story model never writes: a Hermes-style tool call in free text.
type scripted struct {
	server.Generator
	pieces []string
}

func (s scripted) Submit(ctx context.Context, r engine.GenRequest) (<-chan engine.Event, error) {
	ch := make(chan engine.Event, len(s.pieces)+1)
	for _, p := range s.pieces {
		ch <- engine.Event{Text: p, Tokens: []engine.Token{{}}}
	}
	ch <- engine.Event{Finish: engine.FinishStop, PromptTokenCount: len(r.Prompt), CompletionTokens: len(s.pieces)}
	close(ch)
	return ch, nil
}

// TestHermesToolCallAuto checks tool_choice auto: a <tool_call> block in the
// model's text becomes a tool call, streamed or not, and no part of the tag
// leaks into streamed content.
func TestHermesToolCallAuto(t *testing.T) {
	pieces := []string{"Sure. <to", "ol_call>\n{\"name\": \"get_time\", ", "\"arguments\": {\"tz\": \"UTC\"}}\n</tool_call>"}
	e := newEnv(t, envOptions{wrap: func(g server.Generator) server.Generator { return scripted{g, pieces} }})
	p := userChat("Time?", 50)
	p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(weatherTool), openai.ChatCompletionFunctionTool(timeTool)}
	resp, err := e.client.Chat.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Choices[0]
	if c.FinishReason != "tool_calls" || c.Message.Content != "Sure." || len(c.Message.ToolCalls) != 1 ||
		c.Message.ToolCalls[0].Function.Name != "get_time" || c.Message.ToolCalls[0].Function.Arguments != `{"tz": "UTC"}` {
		t.Errorf("non-streamed: %+v", c)
	}
	s := e.client.Chat.Completions.NewStreaming(context.Background(), p)
	acc := openai.ChatCompletionAccumulator{}
	for s.Next() {
		ch := s.Current()
		acc.AddChunk(ch)
		for _, c := range ch.Choices {
			if strings.Contains(c.Delta.Content, "<") {
				t.Errorf("tag leaked into streamed content: %q", c.Delta.Content)
			}
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	sc := acc.Choices[0]
	if sc.FinishReason != "tool_calls" || strings.TrimSpace(sc.Message.Content) != "Sure." || len(sc.Message.ToolCalls) != 1 ||
		sc.Message.ToolCalls[0].Function.Arguments != `{"tz": "UTC"}` {
		t.Errorf("streamed: %+v", sc)
	}
	// An unknown function name is not a call: the text stays content.
	p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(weatherTool)}
	resp, err = e.client.Chat.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].FinishReason != "stop" || resp.Choices[0].Message.Content != strings.Join(pieces, "") {
		t.Errorf("unknown function: %+v", resp.Choices[0])
	}
}
