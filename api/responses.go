package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// Object names of the response types.
const (
	ObjectChatCompletion      = "chat.completion"
	ObjectChatCompletionChunk = "chat.completion.chunk"
	ObjectTextCompletion      = "text_completion"
	ObjectModel               = "model"
	ObjectList                = "list"
)

// FinishReason says why a choice ended. The empty value marshals as null,
// which is what a streamed choice that has not finished carries.
type FinishReason string

// Finish reasons as OpenAI names them.
const (
	FinishStop          FinishReason = "stop"
	FinishLength        FinishReason = "length"
	FinishToolCalls     FinishReason = "tool_calls"
	FinishFunctionCall  FinishReason = "function_call"
	FinishContentFilter FinishReason = "content_filter"
)

// MarshalJSON writes "" as null.
func (f FinishReason) MarshalJSON() ([]byte, error) {
	if f == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(f))
}

// UnmarshalJSON reads null as "".
func (f *FinishReason) UnmarshalJSON(b []byte) error {
	if kindOf(b) == kindNull {
		*f = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decode finish_reason: %w", err)
	}
	*f = FinishReason(s)
	return nil
}

// Logprob is a log probability. JSON has no -Inf, and a token masked out by
// constrained decoding has probability zero, so -Inf (and anything below)
// marshals as -9999, the floor OpenAI itself reports. NaN marshals as null:
// that is how the legacy format marks the first echoed prompt token, which
// has no logprob.
type Logprob float64

// LogprobFloor is the value written for -Inf.
const LogprobFloor = -9999.0

// MarshalJSON clamps non-finite values as described on Logprob.
func (l Logprob) MarshalJSON() ([]byte, error) {
	f := float64(l)
	switch {
	case math.IsNaN(f):
		return []byte("null"), nil
	case f < LogprobFloor:
		f = LogprobFloor
	case f > 0:
		f = 0
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads null as NaN.
func (l *Logprob) UnmarshalJSON(b []byte) error {
	if kindOf(b) == kindNull {
		*l = Logprob(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("decode logprob: %w", err)
	}
	*l = Logprob(f)
	return nil
}

// Usage is the token accounting of a request.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	// PromptTokensDetails is sent by the server on every response, as
	// OpenAI does; a pointer so that decoding tells "absent" from zero.
	PromptTokensDetails *PromptTokensDetails `json:"prompt_tokens_details,omitempty"`
}

// PromptTokensDetails breaks the prompt tokens down.
type PromptTokensDetails struct {
	// CachedTokens were served from the prefix cache instead of computed.
	CachedTokens int `json:"cached_tokens"`
}

// ChatCompletion is a non-streamed chat completion response.
type ChatCompletion struct {
	ID                string       `json:"id"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []ChatChoice `json:"choices"`
	Usage             Usage        `json:"usage"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

// MarshalJSON adds the object name and writes fields in OpenAI's order.
func (c ChatCompletion) MarshalJSON() ([]byte, error) {
	choices := c.Choices
	if choices == nil {
		choices = []ChatChoice{}
	}
	return json.Marshal(struct {
		ID                string       `json:"id"`
		Object            string       `json:"object"`
		Created           int64        `json:"created"`
		Model             string       `json:"model"`
		Choices           []ChatChoice `json:"choices"`
		Usage             Usage        `json:"usage"`
		SystemFingerprint string       `json:"system_fingerprint"`
	}{c.ID, ObjectChatCompletion, c.Created, c.Model, choices, c.Usage, c.SystemFingerprint})
}

// ChatChoice is one choice of a ChatCompletion.
type ChatChoice struct {
	Index   int                 `json:"index"`
	Message ChatResponseMessage `json:"message"`
	// Logprobs is nil (null on the wire) unless logprobs were requested.
	Logprobs     *ChatLogprobs `json:"logprobs"`
	FinishReason FinishReason  `json:"finish_reason"`
}

// ChatResponseMessage is the assistant message of a choice. Content is a
// pointer because OpenAI sends "content": null when the model called tools.
type ChatResponseMessage struct {
	Role    string  `json:"role"`
	Content *string `json:"content"`
	// Refusal is always present and null unless the model refused.
	Refusal      *string       `json:"refusal"`
	ToolCalls    []ToolCall    `json:"tool_calls,omitempty"`
	FunctionCall *FunctionCall `json:"function_call,omitempty"`
}

// ChatLogprobs is the logprobs object of a chat choice.
type ChatLogprobs struct {
	Content []TokenLogprob `json:"content"`
	Refusal []TokenLogprob `json:"refusal"`
}

// TokenLogprob is one generated token with its alternatives.
type TokenLogprob struct {
	Token   string  `json:"token"`
	Logprob Logprob `json:"logprob"`
	// Bytes is the token's UTF-8 bytes as integers (not base64), so that
	// clients can rebuild characters split across tokens.
	Bytes       []int        `json:"bytes"`
	TopLogprobs []TopLogprob `json:"top_logprobs"`
}

// MarshalJSON writes top_logprobs as [] rather than null when empty, as
// OpenAI does when top_logprobs is 0.
func (t TokenLogprob) MarshalJSON() ([]byte, error) {
	type plain TokenLogprob
	p := plain(t)
	if p.TopLogprobs == nil {
		p.TopLogprobs = []TopLogprob{}
	}
	return json.Marshal(p)
}

// TopLogprob is one alternative at a position.
type TopLogprob struct {
	Token   string  `json:"token"`
	Logprob Logprob `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// TokenBytes converts token text to the bytes array of the logprobs format.
func TokenBytes(b []byte) []int {
	out := make([]int, len(b))
	for i, c := range b {
		out[i] = int(c)
	}
	return out
}

// ChatCompletionChunk is one server-sent event of a streamed chat completion.
type ChatCompletionChunk struct {
	ID                string        `json:"id"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint string        `json:"system_fingerprint"`
	Choices           []ChunkChoice `json:"choices"`
	// Usage is set on the final chunk of a stream with include_usage.
	Usage *Usage `json:"usage"`
	// StreamUsage is true when the client asked for include_usage: the
	// usage field is then present on every chunk, null until the last.
	// Without it the field is omitted (unless Usage is set).
	StreamUsage bool `json:"-"`
}

// MarshalJSON writes the object name, choices as [] when empty (the usage
// chunk), and usage as present-null, present or absent per StreamUsage.
func (c ChatCompletionChunk) MarshalJSON() ([]byte, error) {
	choices := c.Choices
	if choices == nil {
		choices = []ChunkChoice{}
	}
	base := struct {
		ID                string        `json:"id"`
		Object            string        `json:"object"`
		Created           int64         `json:"created"`
		Model             string        `json:"model"`
		SystemFingerprint string        `json:"system_fingerprint"`
		Choices           []ChunkChoice `json:"choices"`
	}{c.ID, ObjectChatCompletionChunk, c.Created, c.Model, c.SystemFingerprint, choices}
	return marshalWithUsage(base, c.Usage, c.StreamUsage)
}

// marshalWithUsage marshals base and appends a usage member: the object
// when set, null when show is true, nothing otherwise.
func marshalWithUsage(base any, u *Usage, show bool) ([]byte, error) {
	b, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	if u == nil && !show {
		return b, nil
	}
	ub, err := json.Marshal(u)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(b) + len(ub) + 10)
	buf.Write(b[:len(b)-1])
	buf.WriteString(`,"usage":`)
	buf.Write(ub)
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// ChunkChoice is one choice of a chunk.
type ChunkChoice struct {
	Index        int           `json:"index"`
	Delta        ChatDelta     `json:"delta"`
	Logprobs     *ChatLogprobs `json:"logprobs"`
	FinishReason FinishReason  `json:"finish_reason"`
}

// ChatDelta is the increment of a streamed message. The first chunk of a
// choice carries Role; the last one is usually empty ({}).
type ChatDelta struct {
	Role         string             `json:"role,omitempty"`
	Content      *string            `json:"content,omitempty"`
	Refusal      *string            `json:"refusal,omitempty"`
	FunctionCall *FunctionCallDelta `json:"function_call,omitempty"`
	ToolCalls    []ToolCallDelta    `json:"tool_calls,omitempty"`
}

// ToolCallDelta is a piece of a streamed tool call. The first piece of a
// call carries ID, Type and the function name; later pieces carry only
// Index and a fragment of the arguments.
type ToolCallDelta struct {
	Index    int               `json:"index"`
	ID       string            `json:"id,omitempty"`
	Type     string            `json:"type,omitempty"`
	Function FunctionCallDelta `json:"function"`
}

// FunctionCallDelta is a piece of a streamed function call.
type FunctionCallDelta struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Completion is a text completion response; streamed completions send a
// sequence of these too, as OpenAI does.
type Completion struct {
	ID                string             `json:"id"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint"`
	Choices           []CompletionChoice `json:"choices"`
	// Usage is always written on non-streamed responses; on streamed ones
	// it is set on the last chunk only (003 puts usage in the very last
	// chunk).
	Usage *Usage `json:"usage"`
	// StreamUsage makes usage present (null) on chunks without Usage, for
	// streams with include_usage.
	StreamUsage bool `json:"-"`
}

// MarshalJSON writes the object name and the usage member as for
// ChatCompletionChunk.
func (c Completion) MarshalJSON() ([]byte, error) {
	choices := c.Choices
	if choices == nil {
		choices = []CompletionChoice{}
	}
	base := struct {
		ID                string             `json:"id"`
		Object            string             `json:"object"`
		Created           int64              `json:"created"`
		Model             string             `json:"model"`
		SystemFingerprint string             `json:"system_fingerprint"`
		Choices           []CompletionChoice `json:"choices"`
	}{c.ID, ObjectTextCompletion, c.Created, c.Model, c.SystemFingerprint, choices}
	return marshalWithUsage(base, c.Usage, c.StreamUsage)
}

// CompletionChoice is one choice of a text completion.
type CompletionChoice struct {
	Text         string              `json:"text"`
	Index        int                 `json:"index"`
	Logprobs     *CompletionLogprobs `json:"logprobs"`
	FinishReason FinishReason        `json:"finish_reason"`
}

// CompletionLogprobs is the legacy logprobs format, one entry per token in
// each array. With echo, the first prompt token has a NaN TokenLogprobs
// entry and a nil TopLogprobs entry, both written as null.
type CompletionLogprobs struct {
	Tokens        []string        `json:"tokens"`
	TokenLogprobs []Logprob       `json:"token_logprobs"`
	TopLogprobs   []OrderedTokens `json:"top_logprobs"`
	TextOffset    []int           `json:"text_offset"`
}

// OrderedTokens is one position's alternatives, written as a JSON object
// mapping token to logprob in the order given (most likely first) rather
// than Go's sorted map order. A nil value is written as null.
type OrderedTokens []TokenAlternative

// TokenAlternative is one entry of OrderedTokens.
type TokenAlternative struct {
	Token   string
	Logprob Logprob
}

// MarshalJSON writes the alternatives as an object in order.
func (o OrderedTokens) MarshalJSON() ([]byte, error) {
	if o == nil {
		return []byte("null"), nil
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, a := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(a.Token)
		if err != nil {
			return nil, err
		}
		v, err := a.Logprob.MarshalJSON()
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// Model is one entry of GET /v1/models.
type Model struct {
	ID      string `json:"id"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// MarshalJSON adds the object name.
func (m Model) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}{m.ID, ObjectModel, m.Created, m.OwnedBy})
}

// ModelList is the GET /v1/models response.
type ModelList struct {
	Data []Model `json:"data"`
}

// MarshalJSON adds the object name and writes data as [] when empty.
func (l ModelList) MarshalJSON() ([]byte, error) {
	data := l.Data
	if data == nil {
		data = []Model{}
	}
	return json.Marshal(struct {
		Object string  `json:"object"`
		Data   []Model `json:"data"`
	}{ObjectList, data})
}
