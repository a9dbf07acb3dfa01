package api

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Message roles.
const (
	RoleSystem    = "system"
	RoleDeveloper = "developer"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
	// RoleFunction is the deprecated role that carried a function result
	// before tools existed.
	RoleFunction = "function"
)

// Content part types.
const (
	PartText       = "text"
	PartImageURL   = "image_url"
	PartInputAudio = "input_audio"
	PartFile       = "file"
	PartRefusal    = "refusal"
)

// Tool choice modes.
const (
	ToolChoiceNone     = "none"
	ToolChoiceAuto     = "auto"
	ToolChoiceRequired = "required"
	// ToolChoiceFunction forces the function named in ToolChoice.Function.
	ToolChoiceFunction = "function"
)

// ChatCompletionRequest is a decoded, validated POST /v1/chat/completions body.
type ChatCompletionRequest struct {
	Model    string
	Messages []Message
	GenerationParams

	Logprobs    bool
	TopLogprobs *int // 0..20; only with Logprobs

	Tools             []Tool
	ToolChoice        *ToolChoice
	ParallelToolCalls *bool
	// Functions and FunctionCall are the deprecated forms of Tools and
	// ToolChoice; EffectiveTools and EffectiveToolChoice map them in.
	Functions    []FunctionDefinition
	FunctionCall *ToolChoice
}

// Message is one chat message. Which fields are set depends on Role, and
// decoding has already checked that the role's required fields are present.
type Message struct {
	Role string
	// Content is nil when absent or null (allowed for an assistant message
	// with tool calls, and for the deprecated function role).
	Content *Content
	Name    string
	// ToolCalls and FunctionCall are the calls an assistant made earlier.
	ToolCalls    []ToolCall
	FunctionCall *FunctionCall
	Refusal      *string
	// ToolCallID links a tool message to the call it answers.
	ToolCallID string
}

// Content is a message's content: either a plain string (Parts nil) or an
// array of parts as sent.
type Content struct {
	Text  string
	Parts []ContentPart
}

// IsParts reports whether the content was sent as an array of parts.
func (c *Content) IsParts() bool { return c != nil && c.Parts != nil }

// String returns the text of the content: the string itself, or the text of
// the text parts joined by newlines (as vLLM does for text-only models).
// Non-text parts are skipped; CheckTextOnly rejects them first.
func (c *Content) String() string {
	if c == nil {
		return ""
	}
	if c.Parts == nil {
		return c.Text
	}
	texts := make([]string, 0, len(c.Parts))
	for _, p := range c.Parts {
		switch p.Type {
		case PartText:
			texts = append(texts, p.Text)
		case PartRefusal:
			texts = append(texts, p.Refusal)
		}
	}
	return strings.Join(texts, "\n")
}

// ContentPart is one element of array content. Type says which of the
// pointer fields is set; Raw keeps the original bytes of the whole part.
type ContentPart struct {
	Type       string
	Text       string // PartText
	Refusal    string // PartRefusal
	ImageURL   *ImageURL
	InputAudio *InputAudio
	File       *FileRef
	Raw        json.RawMessage
}

// ImageURL is the image_url member of an image part.
type ImageURL struct {
	URL    string
	Detail string
}

// InputAudio is the input_audio member of an audio part.
type InputAudio struct {
	Data   string
	Format string
}

// FileRef is the file member of a file part.
type FileRef struct {
	FileID   string
	FileData string
	Filename string
}

// ToolCall is a call the assistant made: in request history and in
// responses, which share the wire shape. Arguments is a string holding JSON
// text, as OpenAI sends it; its bytes (and key order) are kept as written.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is a function name and its JSON-text arguments.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Tool is one entry of tools. Only function tools exist.
type Tool struct {
	Type     string
	Function FunctionDefinition
}

// FunctionDefinition describes a callable function.
type FunctionDefinition struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments as sent, nil when
	// omitted (a function without parameters).
	Parameters json.RawMessage
	Strict     *bool
}

// ToolChoice is tool_choice or the deprecated function_call.
type ToolChoice struct {
	// Mode is one of the ToolChoice* constants.
	Mode string
	// Function is the forced function's name when Mode is ToolChoiceFunction.
	Function string
}

// UsesLegacyFunctions reports whether the client used functions /
// function_call, in which case the response must carry function_call rather
// than tool_calls and finish with "function_call".
func (r *ChatCompletionRequest) UsesLegacyFunctions() bool {
	return len(r.Tools) == 0 && len(r.Functions) > 0
}

// EffectiveTools returns the tools the model may call, with deprecated
// functions mapped onto function tools.
func (r *ChatCompletionRequest) EffectiveTools() []Tool {
	if len(r.Tools) > 0 {
		return r.Tools
	}
	if len(r.Functions) == 0 {
		return nil
	}
	out := make([]Tool, len(r.Functions))
	for i, f := range r.Functions {
		out[i] = Tool{Type: "function", Function: f}
	}
	return out
}

// EffectiveToolChoice returns the tool choice with OpenAI's defaults: the
// sent tool_choice or function_call, else auto when tools exist, else none.
func (r *ChatCompletionRequest) EffectiveToolChoice() ToolChoice {
	switch {
	case r.ToolChoice != nil:
		return *r.ToolChoice
	case r.FunctionCall != nil:
		return *r.FunctionCall
	case len(r.EffectiveTools()) > 0:
		return ToolChoice{Mode: ToolChoiceAuto}
	default:
		return ToolChoice{Mode: ToolChoiceNone}
	}
}

// ParallelToolCallsEnabled reports whether several calls may be made in one
// turn: parallel_tool_calls, default true, and never with the legacy
// function_call interface, which has room for a single call.
func (r *ChatCompletionRequest) ParallelToolCallsEnabled() bool {
	if r.UsesLegacyFunctions() {
		return false
	}
	return r.ParallelToolCalls == nil || *r.ParallelToolCalls
}

// CheckTextOnly returns a 400 naming the first content part that is not
// text, for a model that only reads text. Decoding accepts image, audio and
// file parts so that this error can be precise.
func (r *ChatCompletionRequest) CheckTextOnly() *Error {
	for i, m := range r.Messages {
		if m.Content == nil {
			continue
		}
		for j, p := range m.Content.Parts {
			if p.Type == PartText || p.Type == PartRefusal {
				continue
			}
			path := fmt.Sprintf("messages[%d].content[%d]", i, j)
			return NewInvalidRequest(path, CodeUnsupportedContent,
				fmt.Sprintf("Invalid content part '%s': this model accepts only text, but the part has type '%s'.", path, p.Type))
		}
	}
	return nil
}

// DecodeChatCompletionRequest decodes and validates a chat completions body.
// Unknown fields are ignored; every type or range error is a 400 naming the
// field.
func DecodeChatCompletionRequest(body []byte) (*ChatCompletionRequest, *Error) {
	o, e := decodeBody(body)
	if e != nil {
		return nil, e
	}
	r := &ChatCompletionRequest{}
	if r.Model, e = o.requiredString("model"); e != nil {
		return nil, e
	}
	if r.Model == "" {
		return nil, valueError("model", "must not be empty.")
	}
	raw := o.value("messages")
	if raw == nil {
		return nil, missingError("messages")
	}
	if r.Messages, e = decodeMessages(raw); e != nil {
		return nil, e
	}
	if e = decodeGeneration(o, &r.GenerationParams); e != nil {
		return nil, e
	}
	if r.Logprobs, e = o.flag("logprobs"); e != nil {
		return nil, e
	}
	if r.TopLogprobs, e = o.optInt("top_logprobs", 0, MaxTopLogprobs); e != nil {
		return nil, e
	}
	if r.TopLogprobs != nil && !r.Logprobs {
		return nil, valueError("top_logprobs", "'logprobs' must be set to true when 'top_logprobs' is used.")
	}
	if e = decodeToolParams(o, r); e != nil {
		return nil, e
	}
	return r, nil
}

func decodeMessages(raw []byte) ([]Message, *Error) {
	const path = "messages"
	items, e := asArray(raw, path, "an array of messages")
	if e != nil {
		return nil, e
	}
	if len(items) == 0 {
		return nil, emptyArrayError(path)
	}
	msgs := make([]Message, len(items))
	for i, it := range items {
		if e := decodeMessage(it, elem(path, i), &msgs[i]); e != nil {
			return nil, e
		}
	}
	return msgs, nil
}

var allRoles = []string{RoleSystem, RoleDeveloper, RoleUser, RoleAssistant, RoleTool, RoleFunction}

// partsByRole lists the content part types each role may send, as OpenAI
// restricts them.
var partsByRole = map[string][]string{
	RoleSystem:    {PartText},
	RoleDeveloper: {PartText},
	RoleUser:      {PartText, PartImageURL, PartInputAudio, PartFile},
	RoleAssistant: {PartText, PartRefusal},
	RoleTool:      {PartText},
}

func decodeMessage(raw []byte, path string, m *Message) *Error {
	o, e := asObject(raw, path)
	if e != nil {
		return e
	}
	if m.Role, e = o.requiredString("role"); e != nil {
		return e
	}
	if m.Name, e = o.optString("name"); e != nil {
		return e
	}
	if m.Role == RoleFunction {
		// The deprecated function message: a name and a string content
		// that may be null.
		if m.Name == "" {
			return missingError(o.at("name"))
		}
		if c := o.value("content"); c != nil {
			s, e := asString(c, o.at("content"))
			if e != nil {
				return e
			}
			m.Content = &Content{Text: s}
		}
		return nil
	}
	allowed, ok := partsByRole[m.Role]
	if !ok {
		return enumError(o.at("role"), m.Role, allRoles)
	}
	if c := o.value("content"); c != nil {
		if m.Content, e = decodeContent(c, o.at("content"), allowed); e != nil {
			return e
		}
	}
	switch m.Role {
	case RoleAssistant:
		if raw := o.value("tool_calls"); raw != nil {
			if m.ToolCalls, e = decodeToolCalls(raw, o.at("tool_calls")); e != nil {
				return e
			}
		}
		if raw := o.value("function_call"); raw != nil {
			fo, e := asObject(raw, o.at("function_call"))
			if e != nil {
				return e
			}
			fc := &FunctionCall{}
			if fc.Name, e = fo.requiredString("name"); e != nil {
				return e
			}
			if fc.Arguments, e = fo.requiredString("arguments"); e != nil {
				return e
			}
			m.FunctionCall = fc
		}
		if m.Refusal, e = o.optStringPtr("refusal"); e != nil {
			return e
		}
		if m.Content == nil && len(m.ToolCalls) == 0 && m.FunctionCall == nil && m.Refusal == nil {
			return NewInvalidRequest(o.at("content"), CodeMissingParameter,
				fmt.Sprintf("Missing required parameter: '%s'. An assistant message needs 'content' unless it has 'tool_calls' or 'function_call'.", o.at("content")))
		}
	case RoleTool:
		if m.ToolCallID, e = o.requiredString("tool_call_id"); e != nil {
			return e
		}
		if m.Content == nil {
			return missingError(o.at("content"))
		}
	default:
		if m.Content == nil {
			return missingError(o.at("content"))
		}
	}
	return nil
}

func decodeContent(raw []byte, path string, allowed []string) (*Content, *Error) {
	switch kindOf(raw) {
	case kindString:
		s, e := asString(raw, path)
		if e != nil {
			return nil, e
		}
		return &Content{Text: s}, nil
	case kindArray:
		items, e := asArray(raw, path, "")
		if e != nil {
			return nil, e
		}
		if len(items) == 0 {
			return nil, emptyArrayError(path)
		}
		parts := make([]ContentPart, len(items))
		for i, it := range items {
			if e := decodePart(it, elem(path, i), allowed, &parts[i]); e != nil {
				return nil, e
			}
		}
		return &Content{Parts: parts}, nil
	}
	return nil, typeError(path, "a string or an array of content parts", raw)
}

func decodePart(raw []byte, path string, allowed []string, p *ContentPart) *Error {
	o, e := asObject(raw, path)
	if e != nil {
		return e
	}
	p.Raw = raw
	if p.Type, e = o.requiredString("type"); e != nil {
		return e
	}
	ok := false
	for _, a := range allowed {
		ok = ok || a == p.Type
	}
	if !ok {
		return enumError(o.at("type"), p.Type, allowed)
	}
	switch p.Type {
	case PartText:
		p.Text, e = o.requiredString("text")
	case PartRefusal:
		p.Refusal, e = o.requiredString("refusal")
	case PartImageURL:
		var io object
		if io, e = requiredObject(o, "image_url"); e != nil {
			return e
		}
		p.ImageURL = &ImageURL{}
		if p.ImageURL.URL, e = io.requiredString("url"); e != nil {
			return e
		}
		p.ImageURL.Detail, e = io.optString("detail")
	case PartInputAudio:
		var ao object
		if ao, e = requiredObject(o, "input_audio"); e != nil {
			return e
		}
		p.InputAudio = &InputAudio{}
		if p.InputAudio.Data, e = ao.requiredString("data"); e != nil {
			return e
		}
		p.InputAudio.Format, e = ao.requiredString("format")
	case PartFile:
		var fo object
		if fo, e = requiredObject(o, "file"); e != nil {
			return e
		}
		p.File = &FileRef{}
		if p.File.FileID, e = fo.optString("file_id"); e != nil {
			return e
		}
		if p.File.FileData, e = fo.optString("file_data"); e != nil {
			return e
		}
		p.File.Filename, e = fo.optString("filename")
	}
	return e
}

func requiredObject(o object, key string) (object, *Error) {
	raw := o.value(key)
	if raw == nil {
		return object{}, missingError(o.at(key))
	}
	return asObject(raw, o.at(key))
}

func decodeToolCalls(raw []byte, path string) ([]ToolCall, *Error) {
	items, e := asArray(raw, path, "an array of tool calls")
	if e != nil {
		return nil, e
	}
	calls := make([]ToolCall, len(items))
	for i, it := range items {
		p := elem(path, i)
		o, e := asObject(it, p)
		if e != nil {
			return nil, e
		}
		c := &calls[i]
		if c.ID, e = o.requiredString("id"); e != nil {
			return nil, e
		}
		if c.Type, e = o.optString("type"); e != nil {
			return nil, e
		}
		if c.Type == "" {
			c.Type = "function"
		} else if c.Type != "function" {
			return nil, enumError(o.at("type"), c.Type, []string{"function"})
		}
		fo, e := requiredObject(o, "function")
		if e != nil {
			return nil, e
		}
		if c.Function.Name, e = fo.requiredString("name"); e != nil {
			return nil, e
		}
		if c.Function.Arguments, e = fo.requiredString("arguments"); e != nil {
			return nil, e
		}
	}
	return calls, nil
}

func decodeToolParams(o object, r *ChatCompletionRequest) *Error {
	var e *Error
	if raw := o.value("tools"); raw != nil {
		items, e := asArray(raw, "tools", "an array of tools")
		if e != nil {
			return e
		}
		if len(items) > MaxTools {
			return arrayTooLongError("tools", MaxTools, len(items))
		}
		for i, it := range items {
			p := elem("tools", i)
			to, e := asObject(it, p)
			if e != nil {
				return e
			}
			t, e := to.requiredString("type")
			if e != nil {
				return e
			}
			if t != "function" {
				return enumError(to.at("type"), t, []string{"function"})
			}
			fraw := to.value("function")
			if fraw == nil {
				return missingError(to.at("function"))
			}
			f, e := decodeFunctionDefinition(fraw, to.at("function"))
			if e != nil {
				return e
			}
			r.Tools = append(r.Tools, Tool{Type: t, Function: f})
		}
	}
	if raw := o.value("functions"); raw != nil {
		items, e := asArray(raw, "functions", "an array of functions")
		if e != nil {
			return e
		}
		if len(items) > MaxTools {
			return arrayTooLongError("functions", MaxTools, len(items))
		}
		if len(items) > 0 && len(r.Tools) > 0 {
			return valueError("functions", "'functions' and 'tools' cannot both be set; use 'tools'.")
		}
		for i, it := range items {
			f, e := decodeFunctionDefinition(it, elem("functions", i))
			if e != nil {
				return e
			}
			r.Functions = append(r.Functions, f)
		}
	}
	if e = checkUniqueNames(r); e != nil {
		return e
	}
	if raw := o.value("tool_choice"); raw != nil {
		if r.ToolChoice, e = decodeToolChoice(raw, "tool_choice", r.Tools); e != nil {
			return e
		}
	}
	if raw := o.value("function_call"); raw != nil {
		if r.ToolChoice != nil {
			return valueError("function_call", "'function_call' and 'tool_choice' cannot both be set; use 'tool_choice'.")
		}
		if r.FunctionCall, e = decodeFunctionCallChoice(raw, r.Functions); e != nil {
			return e
		}
	}
	if r.ParallelToolCalls, e = o.optBool("parallel_tool_calls"); e != nil {
		return e
	}
	return nil
}

// checkUniqueNames rejects two functions with one name, which would make a
// generated call (and a named tool_choice) ambiguous.
func checkUniqueNames(r *ChatCompletionRequest) *Error {
	seen := map[string]bool{}
	for i, t := range r.EffectiveTools() {
		if seen[t.Function.Name] {
			path := fmt.Sprintf("tools[%d].function.name", i)
			if len(r.Tools) == 0 {
				path = fmt.Sprintf("functions[%d].name", i)
			}
			return valueError(path, "function name '%s' is used more than once; names must be unique.", t.Function.Name)
		}
		seen[t.Function.Name] = true
	}
	return nil
}

func decodeFunctionDefinition(raw []byte, path string) (FunctionDefinition, *Error) {
	var f FunctionDefinition
	o, e := asObject(raw, path)
	if e != nil {
		return f, e
	}
	if f.Name, e = o.requiredString("name"); e != nil {
		return f, e
	}
	if !validName(f.Name) {
		return f, nameError(o.at("name"))
	}
	if f.Description, e = o.optString("description"); e != nil {
		return f, e
	}
	if f.Parameters, e = o.optObjectRaw("parameters"); e != nil {
		return f, e
	}
	if f.Strict, e = o.optBool("strict"); e != nil {
		return f, e
	}
	return f, nil
}

func decodeToolChoice(raw []byte, path string, tools []Tool) (*ToolChoice, *Error) {
	var tc ToolChoice
	switch kindOf(raw) {
	case kindString:
		s, e := asString(raw, path)
		if e != nil {
			return nil, e
		}
		switch s {
		case ToolChoiceNone, ToolChoiceAuto, ToolChoiceRequired:
			tc.Mode = s
		default:
			return nil, enumError(path, s, []string{ToolChoiceNone, ToolChoiceAuto, ToolChoiceRequired})
		}
	case kindObject:
		o, e := asObject(raw, path)
		if e != nil {
			return nil, e
		}
		t, e := o.requiredString("type")
		if e != nil {
			return nil, e
		}
		if t != "function" {
			return nil, enumError(o.at("type"), t, []string{"function"})
		}
		fo, e := requiredObject(o, "function")
		if e != nil {
			return nil, e
		}
		if tc.Function, e = fo.requiredString("name"); e != nil {
			return nil, e
		}
		tc.Mode = ToolChoiceFunction
	default:
		return nil, typeError(path, "a string or an object", raw)
	}
	if tc.Mode == ToolChoiceNone || tc.Mode == ToolChoiceAuto {
		return &tc, nil
	}
	if len(tools) == 0 {
		return nil, valueError(path, "'%s' is only allowed when 'tools' are specified.", path)
	}
	if tc.Mode == ToolChoiceFunction && !hasFunction(tools, tc.Function) {
		return nil, valueError(path, "no function named '%s' is in 'tools'.", tc.Function)
	}
	return &tc, nil
}

func decodeFunctionCallChoice(raw []byte, functions []FunctionDefinition) (*ToolChoice, *Error) {
	const path = "function_call"
	var tc ToolChoice
	switch kindOf(raw) {
	case kindString:
		s, e := asString(raw, path)
		if e != nil {
			return nil, e
		}
		if s != ToolChoiceNone && s != ToolChoiceAuto {
			return nil, enumError(path, s, []string{ToolChoiceNone, ToolChoiceAuto})
		}
		tc.Mode = s
		return &tc, nil
	case kindObject:
		o, e := asObject(raw, path)
		if e != nil {
			return nil, e
		}
		if tc.Function, e = o.requiredString("name"); e != nil {
			return nil, e
		}
		tc.Mode = ToolChoiceFunction
	default:
		return nil, typeError(path, "a string or an object", raw)
	}
	found := false
	for _, f := range functions {
		found = found || f.Name == tc.Function
	}
	if !found {
		return nil, valueError(path, "no function named '%s' is in 'functions'.", tc.Function)
	}
	return &tc, nil
}

func hasFunction(tools []Tool, name string) bool {
	for _, t := range tools {
		if t.Function.Name == name {
			return true
		}
	}
	return false
}
