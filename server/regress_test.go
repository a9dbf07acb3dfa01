package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

// TestChoicesBeyondCapacity: a request whose choices (n times prompts) can
// never fit the engine's slots plus queue is a 400 naming n or prompt and the
// server's limit, never a 429 (which the SDKs retry forever); a request at
// the limit is served by an idle server.
func TestChoicesBeyondCapacity(t *testing.T) {
	e := newEnv(t, envOptions{engine: engineOpts(2, 128, 4)}) // capacity 6
	chat := func(n int) string {
		return `{"model":"` + modelID + `","messages":[{"role":"user","content":"Hi"}],"max_tokens":2,"temperature":0,"n":` + itoaTest(n) + `}`
	}
	comp := func(prompts string, n int) string {
		return `{"model":"` + modelID + `","prompt":` + prompts + `,"max_tokens":2,"temperature":0,"n":` + itoaTest(n) + `}`
	}
	three := `["Once","Once upon","Lily"]`
	cases := []struct {
		name, path, body string
		status           int
		param            string
		choices          int
	}{
		{"chat n over capacity", "/v1/chat/completions", chat(7), 400, "n", 0},
		{"chat n at capacity", "/v1/chat/completions", chat(6), 200, "", 6},
		{"completions n over capacity", "/v1/completions", comp(`"Once"`, 7), 400, "n", 0},
		{"completions prompts x n over capacity", "/v1/completions", comp(three, 3), 400, "prompt", 0},
		{"completions prompts x n at capacity", "/v1/completions", comp(three, 2), 200, "", 6},
	}
	for _, c := range cases {
		status, _, body := e.raw("POST", c.path, c.body)
		if status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, status, c.status, body)
			continue
		}
		if c.status != 200 {
			var er struct {
				Error struct{ Message, Type, Param string }
			}
			if err := json.Unmarshal(body, &er); err != nil {
				t.Fatal(err)
			}
			if er.Error.Param != c.param || er.Error.Type != "invalid_request_error" || !strings.Contains(er.Error.Message, "at most 6") {
				t.Errorf("%s: error %+v", c.name, er.Error)
			}
			continue
		}
		var ok struct{ Choices []json.RawMessage }
		if err := json.Unmarshal(body, &ok); err != nil || len(ok.Choices) != c.choices {
			t.Errorf("%s: %d choices (%v), want %d", c.name, len(ok.Choices), err, c.choices)
		}
	}
	// Through the SDK: a BadRequestError at once, not a retried 429.
	p := userChat("Hi", 2)
	p.N = openai.Int(128)
	_, err := e.client.Chat.Completions.New(context.Background(), p)
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || ae.Param != "n" {
		t.Errorf("n=128 through the SDK: %v", err)
	}
}

// completionLogprobs is the legacy logprobs object as the wire has it.
type completionLogprobs struct {
	Tokens     []string `json:"tokens"`
	TextOffset []int    `json:"text_offset"`
}

// TestCompletionLogprobsAlignWithText: the legacy logprobs tokens
// concatenate to exactly the returned text and each text_offset is where
// its token starts, with echo (the SentencePiece space before the prompt
// and the BOS token are not in the echoed text) and without, streamed or
// not.
func TestCompletionLogprobsAlignWithText(t *testing.T) {
	e := newEnv(t, envOptions{})
	req := func(extra string) string {
		return `{"model":"` + modelID + `","prompt":"Once upon","max_tokens":3,"temperature":0,"logprobs":0` + extra + `}`
	}
	cases := []struct {
		name, extra string
		text        string
		tokens      []string
		offsets     []int
	}{
		// Real output of stories260K for this prompt: " a time,".
		{"echo", `,"echo":true`, "Once upon a time,", []string{"", "Once", " upon", " a", " time", ","}, []int{0, 0, 4, 9, 11, 16}},
		{"no echo", ``, " a time,", []string{" a", " time", ","}, []int{9, 11, 16}},
		{"echo, token prompt", `,"echo":true,"prompt":[1,403,407]`, " Once upon a time,", []string{"", " Once", " upon", " a", " time", ","}, []int{0, 0, 5, 10, 12, 17}},
		{"echo, kept stop", `,"echo":true,"stop":" ti","max_tokens":5`, "Once upon a ti", []string{"", "Once", " upon", " a", " ti"}, []int{0, 0, 4, 9, 11}},
	}
	for _, c := range cases {
		for _, stream := range []bool{false, true} {
			body := req(c.extra)
			if stream {
				body = strings.TrimSuffix(body, "}") + `,"stream":true}`
			}
			status, _, out := e.raw("POST", "/v1/completions", body)
			if status != 200 {
				t.Fatalf("%s: status %d: %s", c.name, status, out)
			}
			var text string
			var lp completionLogprobs
			var chunks []string
			if stream {
				chunks = sseEvents(t, out)
				chunks = chunks[:len(chunks)-1]
			} else {
				chunks = []string{string(out)}
			}
			for _, ch := range chunks {
				var resp struct {
					Choices []struct {
						Text     string
						Logprobs *completionLogprobs
					}
				}
				if err := json.Unmarshal([]byte(ch), &resp); err != nil {
					t.Fatalf("%s: %v: %s", c.name, err, ch)
				}
				for _, ch := range resp.Choices {
					text += ch.Text
					if ch.Logprobs != nil {
						lp.Tokens = append(lp.Tokens, ch.Logprobs.Tokens...)
						lp.TextOffset = append(lp.TextOffset, ch.Logprobs.TextOffset...)
					}
				}
			}
			if text != c.text || strings.Join(lp.Tokens, "") != c.text {
				t.Errorf("%s stream=%v: text %q, tokens %q (joined %q), want %q", c.name, stream, text, lp.Tokens, strings.Join(lp.Tokens, ""), c.text)
			}
			if mustJSON(t, lp.Tokens) != mustJSON(t, c.tokens) || mustJSON(t, lp.TextOffset) != mustJSON(t, c.offsets) {
				t.Errorf("%s stream=%v: tokens %q offsets %v, want %q %v", c.name, stream, lp.Tokens, lp.TextOffset, c.tokens, c.offsets)
			}
		}
	}
}

// chatChunk is the part of a chat completion or chunk these tests read.
type chatChunk struct {
	Choices []struct {
		Message, Delta struct {
			Content   *string
			ToolCalls []json.RawMessage `json:"tool_calls"`
		}
		Logprobs *struct {
			Content []struct{ Token string }
		}
		FinishReason string `json:"finish_reason"`
	}
	Usage *struct {
		CompletionTokens int `json:"completion_tokens"`
	}
}

func chatStream(t *testing.T, e *env, body string) []chatChunk {
	t.Helper()
	status, _, out := e.raw("POST", "/v1/chat/completions", body)
	if status != 200 {
		t.Fatalf("status %d: %s", status, out)
	}
	evs := sseEvents(t, out)
	var chunks []chatChunk
	for _, ev := range evs[:len(evs)-1] {
		var c chatChunk
		if err := json.Unmarshal([]byte(ev), &c); err != nil {
			t.Fatalf("%v: %s", err, ev)
		}
		chunks = append(chunks, c)
	}
	return chunks
}

// TestChatStopLogprobs: the tokens of a stop sequence cut from the content
// are not in logprobs, streamed (no trailing {"content":""} chunk carrying
// them) or not.
func TestChatStopLogprobs(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := ref(t)
	ids, full := r.greedy(t, r.tok.Encode(chatML("user", "Hi"), true, true), 30)
	// A stop sequence starting on a token boundary, three tokens long.
	k := 6
	before := r.tok.Decode(ids[:k], false)
	stop := strings.TrimPrefix(r.tok.Decode(ids[:k+3], false), before)
	if strings.Contains(before, stop) || strings.TrimSpace(stop) == "" {
		t.Fatalf("bad stop %q for %q", stop, full)
	}
	body := `{"model":"` + modelID + `","messages":[{"role":"user","content":"Hi"}],"max_tokens":30,"temperature":0,"logprobs":true,"stop":` + mustJSON(t, stop)
	var resp chatChunk
	status, _, out := e.raw("POST", "/v1/chat/completions", body+`}`)
	if status != 200 || json.Unmarshal(out, &resp) != nil {
		t.Fatalf("status %d: %s", status, out)
	}
	ch := resp.Choices[0]
	var toks []string
	for _, c := range ch.Logprobs.Content {
		toks = append(toks, c.Token)
	}
	if *ch.Message.Content != before || strings.Join(toks, "") != before || len(toks) != k {
		t.Errorf("content %q, logprob tokens %q; want %q in %d tokens", *ch.Message.Content, toks, before, k)
	}

	var content string
	toks = nil
	for _, c := range chatStream(t, e, body+`,"stream":true}`) {
		for _, ch := range c.Choices {
			if ch.Logprobs != nil && (ch.Delta.Content == nil || *ch.Delta.Content == "") {
				t.Errorf("logprobs in a chunk without content: %+v", ch)
			}
			if ch.Delta.Content != nil {
				content += *ch.Delta.Content
			}
			if ch.Logprobs != nil {
				for _, c := range ch.Logprobs.Content {
					toks = append(toks, c.Token)
				}
			}
		}
	}
	if content != before || strings.Join(toks, "") != before {
		t.Errorf("stream: content %q, logprob tokens %q; want %q", content, toks, before)
	}
}

// TestToolCallStreamLogprobs: while a forced or required tool call is held
// back, its tokens' logprobs are held too and go out with the call, not
// one {"content":""} chunk per token; every generated token is reported.
func TestToolCallStreamLogprobs(t *testing.T) {
	e := newEnv(t, envOptions{})
	tool := `{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"tz":{"type":"string","maxLength":10}},"required":["tz"],"additionalProperties":false}}}`
	for _, choice := range []string{`"required"`, `{"type":"function","function":{"name":"get_time"}}`} {
		body := `{"model":"` + modelID + `","messages":[{"role":"user","content":"Time?"}],"max_tokens":100,"seed":3,"logprobs":true,"top_logprobs":1,` +
			`"tools":[` + tool + `],"tool_choice":` + choice + `,"stream":true,"stream_options":{"include_usage":true}}`
		chunks := chatStream(t, e, body)
		var ntoks, withCall int
		completion := -1
		for _, c := range chunks {
			if c.Usage != nil {
				completion = c.Usage.CompletionTokens
			}
			for _, ch := range c.Choices {
				if len(ch.Delta.ToolCalls) > 0 {
					withCall++
				}
				if ch.Logprobs == nil {
					continue
				}
				if len(ch.Delta.ToolCalls) == 0 {
					t.Errorf("tool_choice %s: logprobs outside the tool call chunk: %+v", choice, ch)
				}
				ntoks += len(ch.Logprobs.Content)
			}
		}
		// The call streams as a first delta (id, name) and argument
		// fragments; every logprob rides on those chunks.
		if withCall < 2 || ntoks == 0 || ntoks != completion {
			t.Errorf("tool_choice %s: %d call chunks, %d logprob tokens, %d completion tokens; want the call's chunks to carry every token", choice, withCall, ntoks, completion)
		}
	}
}
