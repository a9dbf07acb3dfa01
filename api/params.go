package api

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Limits enforced while decoding. They follow OpenAI where OpenAI documents
// one; MaxChoices is Kiln's own cap so that n cannot ask for unbounded work.
const (
	MaxStops       = 4
	MaxTools       = 128
	MaxChoices     = 128
	MaxTopLogprobs = 20
	// MaxCompletionLogprobs is the legacy completions limit (003: "The
	// maximum value for logprobs is 5").
	MaxCompletionLogprobs = 5
	maxTokenID            = math.MaxInt32
)

// ContextBehavior says what to do when the prompt plus max_tokens exceed the
// context window (003's context_length_exceeded_behavior, accepted on both
// endpoints).
type ContextBehavior string

const (
	// ContextTruncate lowers max_tokens to fit; it is the default.
	ContextTruncate ContextBehavior = "truncate"
	// ContextError answers 400 instead, as OpenAI itself does.
	ContextError ContextBehavior = "error"
)

// Response format types.
const (
	FormatText       = "text"
	FormatJSONObject = "json_object"
	FormatJSONSchema = "json_schema"
)

// StreamOptions is stream_options; only valid with stream: true.
type StreamOptions struct {
	IncludeUsage bool
}

// ResponseFormat is response_format in any of its three forms.
type ResponseFormat struct {
	// Type is FormatText, FormatJSONObject or FormatJSONSchema.
	Type string
	// Schema is the optional schema of the json_object form (003), as sent.
	Schema json.RawMessage
	// JSONSchema is set for the json_schema form that current SDKs send.
	JSONSchema *JSONSchemaFormat
}

// JSONSchemaFormat is the json_schema member of a json_schema response format.
type JSONSchemaFormat struct {
	Name        string
	Description string
	// Schema is the schema object as sent (nil when omitted, meaning any
	// JSON object).
	Schema json.RawMessage
	Strict *bool
}

// WantsJSON reports whether the output must be constrained to JSON.
func (f *ResponseFormat) WantsJSON() bool {
	return f != nil && (f.Type == FormatJSONObject || f.Type == FormatJSONSchema)
}

// SchemaJSON returns the schema the output must validate against, from
// whichever form carried it, or nil when any JSON object will do.
func (f *ResponseFormat) SchemaJSON() json.RawMessage {
	switch {
	case f == nil:
		return nil
	case f.JSONSchema != nil:
		return f.JSONSchema.Schema
	default:
		return f.Schema
	}
}

// GenerationParams are the sampling and output parameters shared by chat and
// text completions, embedded in both requests so the server can map either
// onto the engine with one function. Pointer fields are nil when the client
// did not set them (absent or null).
type GenerationParams struct {
	Temperature      *float64 // 0..2
	TopP             *float64 // 0..1
	TopK             *int     // >= 0; 0 disables (003 extension)
	MinP             *float64 // 0..1 (common client extension)
	FrequencyPenalty *float64 // -2..2
	PresencePenalty  *float64 // -2..2
	// RepetitionPenalty is the multiplicative penalty many clients send
	// (llama.cpp / vLLM style); > 0, 1 means none.
	RepetitionPenalty *float64
	// IgnoreEOS (extension, as in llama.cpp and vLLM) keeps generating past
	// the model's end-of-generation tokens, which benchmark clients rely on
	// to get exactly max_tokens tokens.
	IgnoreEOS bool
	// StopTokenIDs (extension, as in vLLM) end a choice when one of these
	// token ids is sampled; the token itself is not part of the text. The
	// server checks them against the model's vocabulary.
	StopTokenIDs []int
	Seed         *int64
	// LogitBias maps token ids to a bias in -100..100.
	LogitBias map[int]float64
	// Stop holds stop as sent: a single string becomes one entry.
	Stop []string
	N    *int // 1..MaxChoices
	// MaxTokensParam is max_tokens as sent; use MaxTokens() for the
	// effective limit, which honours max_completion_tokens.
	MaxTokensParam      *int
	MaxCompletionTokens *int
	ResponseFormat      *ResponseFormat
	// ContextLengthExceededBehavior is empty when not sent; see
	// TruncateToContext for the effective value.
	ContextLengthExceededBehavior ContextBehavior
	Stream                        bool
	StreamOptions                 *StreamOptions
	User                          string
}

// MaxTokens returns the completion token limit and whether one was given.
// max_completion_tokens, OpenAI's newer name, wins over max_tokens when a
// client sends both.
func (g *GenerationParams) MaxTokens() (int, bool) {
	if g.MaxCompletionTokens != nil {
		return *g.MaxCompletionTokens, true
	}
	if g.MaxTokensParam != nil {
		return *g.MaxTokensParam, true
	}
	return 0, false
}

// Stops returns the stop sequences (nil for none).
func (g *GenerationParams) Stops() []string {
	if len(g.Stop) == 0 {
		return nil
	}
	return append([]string(nil), g.Stop...)
}

// Choices returns n, defaulting to 1.
func (g *GenerationParams) Choices() int {
	if g.N == nil {
		return 1
	}
	return *g.N
}

// IncludeUsage reports whether a stream must end with a usage chunk
// because the client set stream_options.include_usage.
func (g *GenerationParams) IncludeUsage() bool {
	return g.Stream && g.StreamOptions != nil && g.StreamOptions.IncludeUsage
}

// TruncateToContext reports whether an over-long max_tokens is lowered to fit
// the context window (the default) rather than rejected.
func (g *GenerationParams) TruncateToContext() bool {
	return g.ContextLengthExceededBehavior != ContextError
}

func decodeGeneration(o object, g *GenerationParams) *Error {
	var e *Error
	if g.Temperature, e = o.optFloat("temperature", 0, 2); e != nil {
		return e
	}
	if g.TopP, e = o.optFloat("top_p", 0, 1); e != nil {
		return e
	}
	if g.TopK, e = o.optInt("top_k", 0, math.MaxInt32); e != nil {
		return e
	}
	if g.MinP, e = o.optFloat("min_p", 0, 1); e != nil {
		return e
	}
	if g.FrequencyPenalty, e = o.optFloat("frequency_penalty", -2, 2); e != nil {
		return e
	}
	if g.PresencePenalty, e = o.optFloat("presence_penalty", -2, 2); e != nil {
		return e
	}
	if g.RepetitionPenalty, e = o.optFloat("repetition_penalty", 0, math.MaxFloat64); e != nil {
		return e
	}
	if g.RepetitionPenalty != nil && *g.RepetitionPenalty == 0 {
		return valueError("repetition_penalty", "expected a value > 0, but got 0 instead.")
	}
	if g.IgnoreEOS, e = o.flag("ignore_eos"); e != nil {
		return e
	}
	if g.StopTokenIDs, e = decodeStopTokenIDs(o); e != nil {
		return e
	}
	if raw := o.value("seed"); raw != nil {
		s, e := asInt(raw, "seed")
		if e != nil {
			return e
		}
		g.Seed = &s
	}
	if g.LogitBias, e = decodeLogitBias(o); e != nil {
		return e
	}
	if g.Stop, e = decodeStop(o); e != nil {
		return e
	}
	if g.N, e = o.optInt("n", 1, MaxChoices); e != nil {
		return e
	}
	if g.MaxTokensParam, e = o.optInt("max_tokens", 1, math.MaxInt32); e != nil {
		return e
	}
	if g.MaxCompletionTokens, e = o.optInt("max_completion_tokens", 1, math.MaxInt32); e != nil {
		return e
	}
	if raw := o.value("response_format"); raw != nil {
		if g.ResponseFormat, e = decodeResponseFormat(raw, "response_format"); e != nil {
			return e
		}
	}
	behavior, e := o.optString("context_length_exceeded_behavior")
	if e != nil {
		return e
	}
	switch ContextBehavior(behavior) {
	case "", ContextTruncate, ContextError:
		g.ContextLengthExceededBehavior = ContextBehavior(behavior)
	default:
		return enumError("context_length_exceeded_behavior", behavior, []string{string(ContextTruncate), string(ContextError)})
	}
	if g.Stream, e = o.flag("stream"); e != nil {
		return e
	}
	if raw := o.value("stream_options"); raw != nil {
		so, e := asObject(raw, "stream_options")
		if e != nil {
			return e
		}
		iu, e := so.flag("include_usage")
		if e != nil {
			return e
		}
		if !g.Stream {
			return NewInvalidRequest("stream_options", CodeInvalidValue,
				"Invalid value for 'stream_options': 'stream_options' is only allowed when 'stream' is true.")
		}
		g.StreamOptions = &StreamOptions{IncludeUsage: iu}
	}
	if g.User, e = o.optString("user"); e != nil {
		return e
	}
	return nil
}

func decodeLogitBias(o object) (map[int]float64, *Error) {
	raw := o.value("logit_bias")
	if raw == nil {
		return nil, nil
	}
	const path = "logit_bias"
	lb, e := asObject(raw, path)
	if e != nil {
		return nil, e
	}
	out := make(map[int]float64, len(lb.fields))
	for k, v := range lb.fields {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil || id < 0 || id > maxTokenID {
			return nil, valueError(path, "key '%s' is not a token id; keys must be token ids written as decimal strings.", k)
		}
		if kindOf(v) == kindNull {
			continue
		}
		f, e := asFloat(v, path)
		if e != nil {
			return nil, typeError(path, fmt.Sprintf("a number for token %s", k), v)
		}
		if f < -100 || f > 100 {
			return nil, valueError(path, "bias %s for token %s is outside the range -100 to 100.", fmtNum(f), k)
		}
		out[int(id)] = f
	}
	return out, nil
}

// decodeStopTokenIDs decodes stop_token_ids: an array of token ids (null or
// absent: none). Only the range is checked here; whether each id exists
// depends on the model.
func decodeStopTokenIDs(o object) ([]int, *Error) {
	raw := o.value("stop_token_ids")
	if raw == nil {
		return nil, nil
	}
	const path = "stop_token_ids"
	items, e := asArray(raw, path, "an array of token ids")
	if e != nil {
		return nil, e
	}
	ids := make([]int, 0, len(items))
	for i, it := range items {
		p := elem(path, i)
		v, e := asInt(it, p)
		if e != nil {
			return nil, e
		}
		if e := checkIntRange(p, v, 0, maxTokenID); e != nil {
			return nil, e
		}
		ids = append(ids, int(v))
	}
	return ids, nil
}

func decodeStop(o object) ([]string, *Error) {
	raw := o.value("stop")
	if raw == nil {
		return nil, nil
	}
	const path = "stop"
	const want = "a string or an array of strings"
	var stops []string
	switch kindOf(raw) {
	case kindString:
		s, e := asString(raw, path)
		if e != nil {
			return nil, e
		}
		stops = []string{s}
	case kindArray:
		items, e := asArray(raw, path, want)
		if e != nil {
			return nil, e
		}
		if len(items) > MaxStops {
			return nil, arrayTooLongError(path, MaxStops, len(items))
		}
		for i, it := range items {
			s, e := asString(it, elem(path, i))
			if e != nil {
				return nil, e
			}
			stops = append(stops, s)
		}
	default:
		return nil, typeError(path, want, raw)
	}
	for i, s := range stops {
		if s == "" {
			p := path
			if kindOf(raw) == kindArray {
				p = elem(path, i)
			}
			return nil, valueError(p, "stop sequences must not be empty.")
		}
	}
	return stops, nil
}

func decodeResponseFormat(raw []byte, path string) (*ResponseFormat, *Error) {
	o, e := asObject(raw, path)
	if e != nil {
		return nil, e
	}
	t, e := o.requiredString("type")
	if e != nil {
		return nil, e
	}
	rf := &ResponseFormat{Type: t}
	switch t {
	case FormatText:
	case FormatJSONObject:
		if rf.Schema, e = o.optObjectRaw("schema"); e != nil {
			return nil, e
		}
	case FormatJSONSchema:
		js := o.value("json_schema")
		if js == nil {
			return nil, missingError(o.at("json_schema"))
		}
		jo, e := asObject(js, o.at("json_schema"))
		if e != nil {
			return nil, e
		}
		f := &JSONSchemaFormat{}
		if f.Name, e = jo.requiredString("name"); e != nil {
			return nil, e
		}
		if !validName(f.Name) {
			return nil, nameError(jo.at("name"))
		}
		if f.Description, e = jo.optString("description"); e != nil {
			return nil, e
		}
		if f.Schema, e = jo.optObjectRaw("schema"); e != nil {
			return nil, e
		}
		if f.Strict, e = jo.optBool("strict"); e != nil {
			return nil, e
		}
		rf.JSONSchema = f
	default:
		return nil, enumError(o.at("type"), t, []string{FormatText, FormatJSONObject, FormatJSONSchema})
	}
	return rf, nil
}
