package server_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestIgnoreEOS forces the end-of-sequence token with logit_bias +100 (so
// without ignore_eos the choice ends at once) and checks that ignore_eos
// bans it instead: exactly max_tokens tokens, none of them EOS.
func TestIgnoreEOS(t *testing.T) {
	e := newEnv(t, envOptions{})
	const maxTokens = 12
	tests := []struct {
		name       string
		ignore     string
		wantFinish string
		wantTokens int
	}{
		{"absent", ``, "stop", 0},
		{"false", `,"ignore_eos":false`, "stop", 0},
		{"true", `,"ignore_eos":true`, "length", maxTokens},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"model":"` + modelID + `","prompt":[1],"max_tokens":12,"temperature":0,"logprobs":0,"logit_bias":{"2":100}` + tc.ignore + `}`
			status, _, out := e.raw("POST", "/v1/completions", body)
			if status != 200 {
				t.Fatalf("status %d: %s", status, out)
			}
			var resp struct {
				Choices []struct {
					FinishReason string `json:"finish_reason"`
					Logprobs     struct {
						Tokens []string `json:"tokens"`
					} `json:"logprobs"`
				} `json:"choices"`
				Usage struct {
					CompletionTokens int `json:"completion_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			c := resp.Choices[0]
			if c.FinishReason != tc.wantFinish || resp.Usage.CompletionTokens != tc.wantTokens || len(c.Logprobs.Tokens) != tc.wantTokens {
				t.Errorf("finish %q, %d tokens (%d in logprobs), want %q and %d", c.FinishReason, resp.Usage.CompletionTokens, len(c.Logprobs.Tokens), tc.wantFinish, tc.wantTokens)
			}
			for i, tok := range c.Logprobs.Tokens {
				if tok == "</s>" {
					t.Errorf("token %d is the end-of-sequence token", i)
				}
			}
		})
	}
	// The chat endpoint decodes the extension too (a bad value is a 400).
	status, _, out := e.raw("POST", "/v1/chat/completions", `{"model":"`+modelID+`","messages":[{"role":"user","content":"hi"}],"ignore_eos":1}`)
	if status != 400 || !strings.Contains(string(out), `"param":"ignore_eos"`) {
		t.Errorf("chat ignore_eos 1: status %d body %s", status, out)
	}
}

// TestStopTokenIDsValidation checks that stop_token_ids are checked against
// the model's vocabulary (512 tokens) on both endpoints, naming the param.
func TestStopTokenIDsValidation(t *testing.T) {
	e := newEnv(t, envOptions{})
	endpoints := []struct{ path, head string }{
		{"/v1/completions", `{"model":"` + modelID + `","prompt":"Once","max_tokens":4`},
		{"/v1/chat/completions", `{"model":"` + modelID + `","messages":[{"role":"user","content":"hi"}],"max_tokens":4`},
	}
	tests := []struct {
		name, ids, param, msg string
	}{
		{"beyond vocabulary", `[2,512]`, "stop_token_ids", "'stop_token_ids[1]': 512 is not a token id"},
		{"negative", `[-1]`, "stop_token_ids[0]", "below minimum"},
		{"not ids", `["</s>"]`, "stop_token_ids[0]", "expected an integer"},
	}
	for _, ep := range endpoints {
		for _, tc := range tests {
			t.Run(ep.path+"/"+tc.name, func(t *testing.T) {
				status, _, out := e.raw("POST", ep.path, ep.head+`,"stop_token_ids":`+tc.ids+`}`)
				if status != 400 || !strings.Contains(string(out), `"param":"`+tc.param+`"`) || !strings.Contains(string(out), tc.msg) {
					t.Errorf("status %d body %s; want 400 param %s message containing %q", status, out, tc.param, tc.msg)
				}
			})
		}
	}
}

// TestStopTokenIDs stops the greedy continuation from BOS on a token id the
// model generates: the choice ends with "stop" at the first occurrence, the
// stop token neither in the text nor counted, streamed and not.
func TestStopTokenIDs(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := ref(t)
	tests := []struct {
		name   string
		ids    []int
		ignore bool
		want   int // tokens before the first stop id
	}{
		{"sixth golden token", []int{goldenIDs[5]}, false, 5},
		{"earliest of two", []int{goldenIDs[9], goldenIDs[3]}, false, 3},
		{"with ignore_eos", []int{goldenIDs[6]}, true, 6},
		{"never generated", []int{5}, false, 20},
	}
	for _, tc := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{true: "/stream"}[stream], func(t *testing.T) {
				if first := indexOf(goldenIDs[:20], tc.ids); first != tc.want {
					t.Fatalf("test bug: first stop id at %d, case says %d", first, tc.want)
				}
				body := `{"model":"` + modelID + `","prompt":[1],"max_tokens":20,"temperature":0,"stream":` + mustJSON(t, stream) +
					`,"ignore_eos":` + mustJSON(t, tc.ignore) + `,"stop_token_ids":` + mustJSON(t, tc.ids) + `}`
				status, _, out := e.raw("POST", "/v1/completions", body)
				if status != 200 {
					t.Fatalf("status %d: %s", status, out)
				}
				type chunk struct {
					Choices []struct {
						Text         string  `json:"text"`
						FinishReason *string `json:"finish_reason"`
					} `json:"choices"`
					Usage *struct {
						CompletionTokens int `json:"completion_tokens"`
					} `json:"usage"`
				}
				var chunks []chunk
				if stream {
					for _, ev := range sseEvents(t, out) {
						if ev == "[DONE]" {
							continue
						}
						var c chunk
						if err := json.Unmarshal([]byte(ev), &c); err != nil {
							t.Fatal(err)
						}
						chunks = append(chunks, c)
					}
				} else {
					var c chunk
					if err := json.Unmarshal(out, &c); err != nil {
						t.Fatal(err)
					}
					chunks = append(chunks, c)
				}
				var text strings.Builder
				finish, completion := "", -1
				for _, c := range chunks {
					for _, ch := range c.Choices {
						text.WriteString(ch.Text)
						if ch.FinishReason != nil {
							finish = *ch.FinishReason
						}
					}
					if c.Usage != nil {
						completion = c.Usage.CompletionTokens
					}
				}
				wantFinish := "stop"
				if tc.want == 20 {
					wantFinish = "length"
				}
				want := r.tok.Decode(goldenIDs[:tc.want], false)
				if text.String() != want || finish != wantFinish || completion != tc.want {
					t.Errorf("text %q finish %q, %d tokens; want %q %q %d", text.String(), finish, completion, want, wantFinish, tc.want)
				}
			})
		}
	}
}

// indexOf is the position of the first element of ids in seq, or len(seq).
func indexOf(seq, ids []int) int {
	for i, id := range seq {
		for _, s := range ids {
			if id == s {
				return i
			}
		}
	}
	return len(seq)
}

// TestPromptTokenIDsOutsideVocabulary checks that token-id prompts (both
// array forms) are checked against the model's 512-token vocabulary, the
// error naming the exact element.
func TestPromptTokenIDsOutsideVocabulary(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct{ prompt, param string }{
		{`[1,512]`, "prompt[1]"},
		{`[[1,2],[3,4,100000]]`, "prompt[1][2]"},
		{`[[511],[]]`, "prompt[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.prompt, func(t *testing.T) {
			status, _, out := e.raw("POST", "/v1/completions", `{"model":"`+modelID+`","max_tokens":2,"prompt":`+tc.prompt+`}`)
			if status != 400 || !strings.Contains(string(out), `"param":"`+tc.param+`"`) {
				t.Errorf("status %d body %s; want 400 naming %s", status, out, tc.param)
			}
		})
	}
}

// TestChatExtensions: on chat, ignore_eos turns a forced end into max_tokens
// tokens, and a stop_token_ids entry ends the reply just before that token,
// which is neither in the content nor counted.
func TestChatExtensions(t *testing.T) {
	e := newEnv(t, envOptions{})
	chat := func(extra string) (string, string, int) {
		t.Helper()
		body := `{"model":"` + modelID + `","messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":10,"temperature":0` + extra + `}`
		status, _, out := e.raw("POST", "/v1/chat/completions", body)
		if status != 200 {
			t.Fatalf("status %d: %s", status, out)
		}
		var resp struct {
			Choices []struct {
				Message      struct{ Content string } `json:"message"`
				FinishReason string                   `json:"finish_reason"`
			} `json:"choices"`
			Usage struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		return resp.Choices[0].Message.Content, resp.Choices[0].FinishReason, resp.Usage.CompletionTokens
	}
	if _, finish, n := chat(`,"logit_bias":{"2":100}`); finish != "stop" || n != 0 {
		t.Errorf("forced EOS: finish %q with %d tokens, want stop with 0", finish, n)
	}
	if _, finish, n := chat(`,"logit_bias":{"2":100},"ignore_eos":true`); finish != "length" || n != 10 {
		t.Errorf("forced EOS with ignore_eos: finish %q with %d tokens, want length with 10", finish, n)
	}
	// Stop on the greedy reply's third token: two tokens of text remain.
	full, _, _ := chat(`,"logprobs":true`)
	status, _, out := e.raw("POST", "/v1/chat/completions", `{"model":"`+modelID+`","messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":10,"temperature":0,"logprobs":true}`)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	var lp struct {
		Choices []struct {
			Logprobs struct {
				Content []struct{ Token string } `json:"content"`
			} `json:"logprobs"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(out, &lp); err != nil || len(lp.Choices[0].Logprobs.Content) < 3 {
		t.Fatalf("logprobs: %v %s", err, out)
	}
	toks := lp.Choices[0].Logprobs.Content
	// Every id spelling the third token's text (a byte token may spell it
	// too): whichever the model samples ends the reply there.
	var stops []string
	for id := 0; id < e.model.Tokenizer.Len(); id++ {
		if string(e.model.Tokenizer.TokenBytes(id)) == toks[2].Token {
			stops = append(stops, strconv.Itoa(id))
		}
	}
	if len(stops) == 0 || toks[2].Token == toks[0].Token || toks[2].Token == toks[1].Token {
		t.Fatalf("no distinct id for the third token %q", toks[2].Token)
	}
	content, finish, n := chat(`,"stop_token_ids":[` + strings.Join(stops, ",") + `]`)
	if want := toks[0].Token + toks[1].Token; content != want || finish != "stop" || n != 2 {
		t.Errorf("stop_token_ids: content %q finish %q tokens %d, want %q, stop, 2 (full reply %q)", content, finish, n, want, full)
	}
}

// TestUnseededVaries: without a seed every request draws a fresh random
// stream, so repeated requests at temperature 1 do not all agree (5 equal
// 20-token samples from this model would be a near-impossible coincidence).
func TestUnseededVaries(t *testing.T) {
	e := newEnv(t, envOptions{})
	seen := map[string]bool{}
	for i := 0; i < 5; i++ {
		status, _, out := e.raw("POST", "/v1/completions", `{"model":"`+modelID+`","prompt":"Once upon a time","max_tokens":20,"temperature":1}`)
		if status != 200 {
			t.Fatalf("status %d: %s", status, out)
		}
		var resp struct {
			Choices []struct{ Text string } `json:"choices"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		seen[resp.Choices[0].Text] = true
	}
	if len(seen) < 2 {
		t.Fatalf("5 unseeded samples were identical: %v", seen)
	}
}
