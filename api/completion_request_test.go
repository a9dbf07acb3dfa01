package api

import (
	"testing"
)

func complBody(extra string) string {
	b := `{"model":"m","prompt":"Once upon a time"`
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

func TestDecodeCompletionValid(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, r *CompletionRequest)
	}{
		{"string prompt", complBody(""), func(t *testing.T, r *CompletionRequest) {
			eq(t, "texts", r.Prompt.Texts, []string{"Once upon a time"})
			eq(t, "tokens", r.Prompt.TokenIDs == nil, true)
			eq(t, "len", r.Prompt.Len(), 1)
			eq(t, "is tokens", r.Prompt.IsTokens(), false)
			eq(t, "logprobs", r.Logprobs == nil, true)
			eq(t, "echo", r.Echo, false)
			eq(t, "text only", r.CheckTextOnly() == nil, true)
			eq(t, "truncate", r.TruncateToContext(), true)
		}},
		{"empty string prompt", `{"model":"m","prompt":""}`, func(t *testing.T, r *CompletionRequest) {
			eq(t, "texts", r.Prompt.Texts, []string{""})
		}},
		{"string array prompt", `{"model":"m","prompt":["a","b c"]}`, func(t *testing.T, r *CompletionRequest) {
			eq(t, "texts", r.Prompt.Texts, []string{"a", "b c"})
			eq(t, "len", r.Prompt.Len(), 2)
		}},
		{"token prompt", `{"model":"m","prompt":[1, 15043, 0, 2147483647]}`, func(t *testing.T, r *CompletionRequest) {
			eq(t, "tokens", r.Prompt.TokenIDs, [][]int{{1, 15043, 0, 2147483647}})
			eq(t, "texts", r.Prompt.Texts == nil, true)
			eq(t, "is tokens", r.Prompt.IsTokens(), true)
			eq(t, "len", r.Prompt.Len(), 1)
		}},
		{"token arrays prompt", `{"model":"m","prompt":[[1,2],[3],[4,5,6]]}`, func(t *testing.T, r *CompletionRequest) {
			eq(t, "tokens", r.Prompt.TokenIDs, [][]int{{1, 2}, {3}, {4, 5, 6}})
			eq(t, "len", r.Prompt.Len(), 3)
		}},
		{"003 extensions", complBody(`"images":["data:image/jpeg;base64,/9j/"],"echo":true,"logprobs":5,"top_k":50,"n":2,"stop":["\n"],"context_length_exceeded_behavior":"error","response_format":{"type":"json_object","schema":{"type":"object"}},"stream":true,"user":"u"`), func(t *testing.T, r *CompletionRequest) {
			eq(t, "images", r.Images, []string{"data:image/jpeg;base64,/9j/"})
			eq(t, "echo", r.Echo, true)
			eq(t, "logprobs", *r.Logprobs, 5)
			eq(t, "top_k", *r.TopK, 50)
			eq(t, "n", r.Choices(), 2)
			eq(t, "stop", r.Stops(), []string{"\n"})
			eq(t, "truncate", r.TruncateToContext(), false)
			eq(t, "schema", string(r.ResponseFormat.SchemaJSON()), `{"type":"object"}`)
			eq(t, "stream", r.Stream, true)
			eq(t, "user", r.User, "u")
			e := r.CheckTextOnly()
			if e == nil {
				t.Fatal("CheckTextOnly accepted images")
			}
			eq(t, "param", *e.Param, "images")
		}},
		{"logprobs zero", complBody(`"logprobs":0`), func(t *testing.T, r *CompletionRequest) {
			eq(t, "logprobs", *r.Logprobs, 0)
		}},
		{"nulls", complBody(`"logprobs":null,"echo":null,"images":null,"max_tokens":null`), func(t *testing.T, r *CompletionRequest) {
			eq(t, "logprobs", r.Logprobs == nil, true)
			eq(t, "images", r.Images == nil, true)
		}},
		{"max tokens alias", complBody(`"max_tokens":16,"max_completion_tokens":8,"temperature":0,"seed":1,"logit_bias":{"2":-100}`), func(t *testing.T, r *CompletionRequest) {
			mt, ok := r.MaxTokens()
			eq(t, "max", [2]any{mt, ok}, [2]any{8, true})
			eq(t, "temperature", *r.Temperature, 0.0)
			eq(t, "logit_bias", r.LogitBias, map[int]float64{2: -100})
		}},
		{"stream usage", complBody(`"stream":true,"stream_options":{"include_usage":true}`), func(t *testing.T, r *CompletionRequest) {
			eq(t, "include usage", r.IncludeUsage(), true)
		}},
		{"unknown fields ignored", complBody(`"best_of":1,"suffix":null,"prompt_cache_key":"x"`), func(t *testing.T, r *CompletionRequest) {
			eq(t, "model", r.Model, "m")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, e := DecodeCompletionRequest([]byte(tc.body))
			if e != nil {
				t.Fatalf("unexpected error: %v", e)
			}
			tc.check(t, r)
		})
	}
}

func TestDecodeCompletionInvalid(t *testing.T) {
	tests := []errCase{
		{"not json", `{prompt}`, "", CodeInvalidJSON, ""},
		{"not object", `["a"]`, "", CodeInvalidJSON, ""},
		{"missing model", `{"prompt":"a"}`, "model", CodeMissingParameter, ""},
		{"missing prompt", `{"model":"m"}`, "prompt", CodeMissingParameter, "'prompt'"},
		{"null prompt", `{"model":"m","prompt":null}`, "prompt", CodeMissingParameter, ""},
		{"prompt number", `{"model":"m","prompt":5}`, "prompt", CodeInvalidType, "a string, an array of strings, an array of token ids, or an array of token-id arrays"},
		{"prompt object", `{"model":"m","prompt":{}}`, "prompt", CodeInvalidType, ""},
		{"prompt empty array", `{"model":"m","prompt":[]}`, "prompt", CodeEmptyArray, ""},
		{"prompt empty inner", `{"model":"m","prompt":[[1],[]]}`, "prompt[1]", CodeEmptyArray, ""},
		{"prompt mixed string int", `{"model":"m","prompt":["a",1]}`, "prompt[1]", CodeInvalidType, "expected a string"},
		{"prompt mixed int string", `{"model":"m","prompt":[1,"a"]}`, "prompt[1]", CodeInvalidType, "expected an integer"},
		{"prompt negative id", `{"model":"m","prompt":[1,-1]}`, "prompt[1]", CodeInvalidValue, "out of range"},
		{"prompt huge id", `{"model":"m","prompt":[2147483648]}`, "prompt[0]", CodeInvalidValue, ""},
		{"prompt decimal id", `{"model":"m","prompt":[1.5]}`, "prompt[0]", CodeInvalidType, "decimal"},
		{"prompt nested bad", `{"model":"m","prompt":[[1],[2,"x"]]}`, "prompt[1][1]", CodeInvalidType, ""},
		{"prompt nested mixed", `{"model":"m","prompt":[[1],2]}`, "prompt[1]", CodeInvalidType, "an array of token ids"},
		{"prompt bool element", `{"model":"m","prompt":[true]}`, "prompt[0]", CodeInvalidType, ""},
		{"prompt null element", `{"model":"m","prompt":["a",null]}`, "prompt[1]", CodeInvalidType, ""},
		{"logprobs high", complBody(`"logprobs":6`), "logprobs", CodeIntegerAboveMax, "<= 5"},
		{"logprobs negative", complBody(`"logprobs":-1`), "logprobs", CodeIntegerBelowMin, ""},
		{"logprobs bool", complBody(`"logprobs":true`), "logprobs", CodeInvalidType, "expected an integer, but got a boolean"},
		{"echo string", complBody(`"echo":"yes"`), "echo", CodeInvalidType, ""},
		{"images string", complBody(`"images":"data:x"`), "images", CodeInvalidType, ""},
		{"images element", complBody(`"images":[1]`), "images[0]", CodeInvalidType, ""},
		{"temperature", complBody(`"temperature":3`), "temperature", CodeDecimalAboveMax, ""},
		{"top_k string", complBody(`"top_k":"5"`), "top_k", CodeInvalidType, ""},
		{"stop too many", complBody(`"stop":["1","2","3","4","5"]`), "stop", CodeArrayTooLong, ""},
		{"max_tokens zero", complBody(`"max_tokens":0`), "max_tokens", CodeIntegerBelowMin, ""},
		{"n zero", complBody(`"n":0`), "n", CodeIntegerBelowMin, ""},
		{"stream_options without stream", complBody(`"stream_options":{"include_usage":false}`), "stream_options", CodeInvalidValue, ""},
		{"context behaviour", complBody(`"context_length_exceeded_behavior":"TRUNCATE"`), "context_length_exceeded_behavior", CodeInvalidValue, ""},
		{"response_format json_schema missing", complBody(`"response_format":{"type":"json_schema"}`), "response_format.json_schema", CodeMissingParameter, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, e := DecodeCompletionRequest([]byte(tc.body))
			if r != nil && e == nil {
				t.Fatalf("accepted: %+v", r)
			}
			checkErr(t, e, tc)
		})
	}
}

func TestDecodeTokenize(t *testing.T) {
	r, e := DecodeTokenizeRequest([]byte(`{"model":"m","prompt":"Hello world"}`))
	if e != nil {
		t.Fatal(e)
	}
	eq(t, "tokenize", *r, TokenizeRequest{Model: "m", Prompt: "Hello world"})
	r, e = DecodeTokenizeRequest([]byte(`{"prompt":""}`))
	if e != nil {
		t.Fatal(e)
	}
	eq(t, "tokenize no model", *r, TokenizeRequest{Prompt: ""})
	d, e := DecodeDetokenizeRequest([]byte(`{"model":"m","tokens":[15043,3186]}`))
	if e != nil {
		t.Fatal(e)
	}
	eq(t, "detokenize", *d, DetokenizeRequest{Model: "m", Tokens: []int{15043, 3186}})
	d, e = DecodeDetokenizeRequest([]byte(`{"tokens":[]}`))
	if e != nil {
		t.Fatal(e)
	}
	eq(t, "detokenize empty", len(d.Tokens), 0)

	bad := []struct {
		errCase
		detok bool
	}{
		{errCase{"tokenize missing prompt", `{"model":"m"}`, "prompt", CodeMissingParameter, ""}, false},
		{errCase{"tokenize prompt array", `{"prompt":["a"]}`, "prompt", CodeInvalidType, ""}, false},
		{errCase{"tokenize model number", `{"model":1,"prompt":"a"}`, "model", CodeInvalidType, ""}, false},
		{errCase{"tokenize not json", `x`, "", CodeInvalidJSON, ""}, false},
		{errCase{"detokenize missing tokens", `{"model":"m"}`, "tokens", CodeMissingParameter, ""}, true},
		{errCase{"detokenize tokens string", `{"tokens":"1 2"}`, "tokens", CodeInvalidType, ""}, true},
		{errCase{"detokenize negative", `{"tokens":[1,-2]}`, "tokens[1]", CodeInvalidValue, ""}, true},
		{errCase{"detokenize string element", `{"tokens":[1,"2"]}`, "tokens[1]", CodeInvalidType, ""}, true},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			var e *Error
			if tc.detok {
				_, e = DecodeDetokenizeRequest([]byte(tc.body))
			} else {
				_, e = DecodeTokenizeRequest([]byte(tc.body))
			}
			checkErr(t, e, tc.errCase)
		})
	}
}
