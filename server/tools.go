package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kiln-llm/kiln/api"
)

// toolMode says how a chat request's output is shaped.
type toolMode int

const (
	// toolsNone: free text, never parsed for calls.
	toolsNone toolMode = iota
	// toolsAuto: free text; Hermes-style <tool_call> blocks become calls.
	toolsAuto
	// toolsForced: the output is constrained to one call object
	// {"name":...,"arguments":{...}} of the allowed functions.
	toolsForced
)

// emptyParameters is the schema of a function declared without parameters.
var emptyParameters = json.RawMessage(`{"type":"object","properties":{}}`)

// callSchema returns the JSON Schema of a call object for the given
// functions: {"name": <one of them>, "arguments": <its parameters>}. The
// arguments schema is the function's own, so a forced call validates
// against it; with several functions each name is tied to its arguments
// through anyOf.
func callSchema(fns []api.FunctionDefinition) ([]byte, error) {
	var alts [][]byte
	for _, f := range fns {
		name, err := json.Marshal(f.Name)
		if err != nil {
			return nil, err
		}
		params := f.Parameters
		if len(bytes.TrimSpace(params)) == 0 {
			params = emptyParameters
		}
		alts = append(alts, []byte(`{"type":"object","properties":{"name":{"const":`+string(name)+`},"arguments":`+string(params)+
			`},"required":["name","arguments"],"additionalProperties":false}`))
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return []byte(`{"anyOf":[` + string(bytes.Join(alts, []byte(","))) + `]}`), nil
}

// toolPlan decides the tool mode and, for a forced call, the functions the
// call may name. It returns a 400 for a tool_choice naming an unknown
// function.
func toolPlan(req *api.ChatCompletionRequest) (toolMode, []api.FunctionDefinition, *api.Error) {
	tools := req.EffectiveTools()
	choice := req.EffectiveToolChoice()
	param := "tool_choice"
	if req.UsesLegacyFunctions() {
		param = "function_call"
	}
	switch choice.Mode {
	case api.ToolChoiceNone, "":
		return toolsNone, nil, nil
	case api.ToolChoiceAuto:
		if len(tools) == 0 {
			return toolsNone, nil, nil
		}
		return toolsAuto, nil, nil
	case api.ToolChoiceRequired:
		if len(tools) == 0 {
			return 0, nil, api.NewInvalidRequest(param, api.CodeInvalidValue, "Invalid value for 'tool_choice': 'required' is only allowed when 'tools' are specified.")
		}
		fns := make([]api.FunctionDefinition, len(tools))
		for i, t := range tools {
			fns[i] = t.Function
		}
		return toolsForced, fns, nil
	case api.ToolChoiceFunction:
		for _, t := range tools {
			if t.Function.Name == choice.Function {
				return toolsForced, []api.FunctionDefinition{t.Function}, nil
			}
		}
		return 0, nil, api.NewInvalidRequest(param, api.CodeInvalidValue,
			fmt.Sprintf("Invalid value for '%s': no function named '%s' was specified in '%s'.", param, choice.Function, map[bool]string{true: "functions", false: "tools"}[req.UsesLegacyFunctions()]))
	}
	return 0, nil, api.NewInvalidRequest(param, api.CodeInvalidValue, "Invalid value for '"+param+"'.")
}

// parsedCall is one call found in model output.
type parsedCall struct {
	Name      string
	Arguments string
}

// parseCallObject reads {"name":..., "arguments":...}; arguments may be an
// object (kept byte for byte, key order included) or a string of JSON.
func parseCallObject(b []byte) (parsedCall, bool) {
	var raw struct {
		Name      *string         `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || raw.Name == nil || *raw.Name == "" {
		return parsedCall{}, false
	}
	args := bytes.TrimSpace(raw.Arguments)
	switch {
	case len(args) == 0 || string(args) == "null":
		args = []byte("{}")
	case args[0] == '"':
		var s string
		if json.Unmarshal(args, &s) != nil {
			return parsedCall{}, false
		}
		args = []byte(s)
	}
	return parsedCall{Name: *raw.Name, Arguments: string(args)}, true
}

const (
	hermesOpen  = "<tool_call>"
	hermesClose = "</tool_call>"
)

// parseHermes finds the <tool_call>{...}</tool_call> blocks of text (the
// convention of Hermes, Qwen and many other tool-tuned models) whose call
// names one of the known functions. It returns the calls and the text with
// those blocks removed; ok is false when no valid call was found (the text
// is then plain content). An unterminated last block is accepted, since a
// model may stop on its end-of-turn token right after the object.
func parseHermes(text string, known map[string]bool) (calls []parsedCall, rest string, ok bool) {
	var b strings.Builder
	s := text
	for {
		i := strings.Index(s, hermesOpen)
		if i < 0 {
			b.WriteString(s)
			break
		}
		body := s[i+len(hermesOpen):]
		j := strings.Index(body, hermesClose)
		end := len(body)
		next := ""
		if j >= 0 {
			end = j
			next = body[j+len(hermesClose):]
		}
		c, valid := parseCallObject([]byte(strings.TrimSpace(body[:end])))
		if !valid || !known[c.Name] {
			return nil, text, false
		}
		b.WriteString(s[:i])
		calls = append(calls, c)
		s = next
	}
	if len(calls) == 0 {
		return nil, text, false
	}
	return calls, strings.TrimSpace(b.String()), true
}

// toolHoldback returns how many bytes at the end of s must wait because
// they could be the start of a <tool_call> tag.
func toolHoldback(s string) int {
	for k := min(len(hermesOpen)-1, len(s)); k > 0; k-- {
		if strings.HasPrefix(hermesOpen, s[len(s)-k:]) {
			return k
		}
	}
	return 0
}

// knownNames is the set of function names of a request.
func knownNames(req *api.ChatCompletionRequest) map[string]bool {
	out := map[string]bool{}
	for _, t := range req.EffectiveTools() {
		out[t.Function.Name] = true
	}
	return out
}
