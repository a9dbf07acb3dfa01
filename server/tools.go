package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kiln-llm/kiln/api"
	"github.com/kiln-llm/kiln/constrain"
	"github.com/kiln-llm/kiln/template"
)

// toolMode says how a chat request's output is shaped.
type toolMode int

const (
	// toolsNone: free text, never parsed for calls.
	toolsNone toolMode = iota
	// toolsAuto: free text until the model starts a call in its family's
	// format (see autoTriggers); the call itself is then constrained, and
	// parsed into tool_calls.
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
	return callSchemaKey(fns, "arguments")
}

// callSchemaKey is callSchema with the arguments under key (Llama 3 was
// trained to write "parameters").
func callSchemaKey(fns []api.FunctionDefinition, key string) ([]byte, error) {
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
		alts = append(alts, []byte(`{"type":"object","properties":{"name":{"const":`+string(name)+`},"`+key+`":`+string(params)+
			`},"required":["name","`+key+`"],"additionalProperties":false}`))
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
// Llama 3's "parameters" stands for "arguments" when that is absent.
func parseCallObject(b []byte) (parsedCall, bool) {
	var raw struct {
		Name       *string         `json:"name"`
		Arguments  json.RawMessage `json:"arguments"`
		Parameters json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || raw.Name == nil || *raw.Name == "" {
		return parsedCall{}, false
	}
	if raw.Arguments == nil {
		raw.Arguments = raw.Parameters
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

// knownNames is the set of function names of a request.
func knownNames(req *api.ChatCompletionRequest) map[string]bool {
	out := map[string]bool{}
	for _, t := range req.EffectiveTools() {
		out[t.Function.Name] = true
	}
	return out
}

// toolFormat is how a model family writes tool calls in free text.
type toolFormat int

const (
	// formatGeneric: the whole message is one call object
	// {"name":..., "arguments":...}; Hermes blocks are accepted too,
	// since that convention is the most widespread.
	formatGeneric toolFormat = iota
	// formatHermes: <tool_call>{"name":..., "arguments":...}</tool_call>
	// blocks (Hermes, Qwen 2.5/3 and many fine-tunes).
	formatHermes
	// formatLlama3: the whole message is {"name":..., "parameters":...}
	// (Llama 3.1-3.3), possibly after <|python_tag|>, several calls
	// separated by ";".
	formatLlama3
	// formatMistral: [TOOL_CALLS] followed by a JSON array of call
	// objects (Mistral v0.3, Mixtral, Mistral Nemo).
	formatMistral
)

func (f toolFormat) String() string {
	switch f {
	case formatHermes:
		return "hermes"
	case formatLlama3:
		return "llama3"
	case formatMistral:
		return "mistral"
	}
	return "generic"
}

const (
	mistralMarker = "[TOOL_CALLS]"
	pythonTag     = "<|python_tag|>"
)

// detectToolFormat picks the tool-call format from a chat template's text:
// its source, or what it renders for an assistant message that makes a call
// (see probeToolFormat). Each family's template writes its own call syntax
// literally: Mistral's the [TOOL_CALLS] control token, Hermes/Qwen the
// <tool_call> tag. Llama 3 templates write calls as bare JSON, so that
// family is recognised by its <|python_tag|> token or its
// <|start_header_id|> role headers (a Llama 3 template without tool
// support still serves a model trained on that format). The checks go
// from the most specific marker to the least, so a template that mentions
// several lands on its own.
func detectToolFormat(text string) toolFormat {
	switch {
	case strings.Contains(text, mistralMarker):
		return formatMistral
	case strings.Contains(text, hermesOpen):
		return formatHermes
	case strings.Contains(text, pythonTag), strings.Contains(text, "<|start_header_id|>"):
		return formatLlama3
	}
	return formatGeneric
}

// probeName is the function of the probe conversation.
const probeName = "kiln_probe"

// probeToolFormat renders t on a fixed conversation (a user turn, then an
// assistant turn calling probeName) and detects the format from the text
// the template wrote, so the choice depends on the template alone, never
// on the client's messages. A template that cannot render the probe (one
// that rejects tool calls) gets the generic format.
func probeToolFormat(t *template.Template) toolFormat {
	if t == nil {
		return formatGeneric
	}
	params := map[string]any{"type": "object", "properties": map[string]any{"x": map[string]any{"type": "integer"}}}
	tools := []any{map[string]any{"type": "function", "function": map[string]any{"name": probeName, "description": "probe", "parameters": params}}}
	// Arguments as a mapping first (what most templates pass to tojson),
	// then as the JSON string OpenAI clients send. The id has the nine
	// alphanumerics Mistral's templates insist on.
	for _, args := range []any{map[string]any{"x": 1}, `{"x": 1}`} {
		call := map[string]any{"id": "kilnprobe", "type": "function", "function": map[string]any{"name": probeName, "arguments": args}}
		vars := map[string]any{
			"messages": []any{
				map[string]any{"role": "user", "content": "probe"},
				map[string]any{"role": "assistant", "content": "", "tool_calls": []any{call}},
			},
			"tools": tools, "add_generation_prompt": false, "bos_token": "", "eos_token": "",
		}
		// A template that drops the call still shows its family's
		// markers (Llama 3's headers), so any rendering is evidence.
		if out, err := t.Render(vars); err == nil {
			return detectToolFormat(out)
		}
	}
	return formatGeneric
}

// parseToolCalls finds the calls of text written in format f whose names
// are all known. It returns the calls and the content left around them; ok
// is false when text holds no well-formed call, and it is then content.
func parseToolCalls(f toolFormat, text string, known map[string]bool) (calls []parsedCall, rest string, ok bool) {
	switch f {
	case formatHermes:
		return parseHermes(text, known)
	case formatLlama3:
		return parseLlama3(text, known)
	case formatMistral:
		return parseMistral(text, known)
	}
	if calls, rest, ok := parseHermes(text, known); ok {
		return calls, rest, ok
	}
	c, ok := parseCallObject([]byte(strings.TrimSpace(text)))
	if !ok || !known[c.Name] {
		return nil, text, false
	}
	return []parsedCall{c}, "", true
}

// parseLlama3 reads a whole message of Llama 3 calls: one or more
// {"name":..., "parameters":...} objects separated by ";" (Llama 3.2 writes
// several that way), optionally after <|python_tag|>. "arguments" is
// accepted in place of "parameters", as the models write both.
func parseLlama3(text string, known map[string]bool) ([]parsedCall, string, bool) {
	s := strings.TrimSpace(text)
	s = strings.TrimSpace(strings.TrimPrefix(s, pythonTag))
	if !strings.HasPrefix(s, "{") {
		return nil, text, false
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var calls []parsedCall
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, text, false
		}
		c, ok := parseCallObject(raw)
		if !ok || !known[c.Name] {
			return nil, text, false
		}
		calls = append(calls, c)
		tail := strings.TrimSpace(s[dec.InputOffset():])
		if tail == "" {
			return calls, "", true
		}
		if !strings.HasPrefix(tail, ";") {
			return nil, text, false
		}
		tail = strings.TrimSpace(tail[1:])
		if tail == "" {
			return calls, "", true
		}
		s = tail
		dec = json.NewDecoder(strings.NewReader(s))
	}
}

// parseMistral reads [TOOL_CALLS] followed by a JSON array of call
// objects; text before the marker is content.
func parseMistral(text string, known map[string]bool) ([]parsedCall, string, bool) {
	i := strings.Index(text, mistralMarker)
	if i < 0 {
		return nil, text, false
	}
	body := strings.TrimSpace(text[i+len(mistralMarker):])
	var raws []json.RawMessage
	dec := json.NewDecoder(strings.NewReader(body))
	if err := dec.Decode(&raws); err != nil || len(raws) == 0 || strings.TrimSpace(body[dec.InputOffset():]) != "" {
		return nil, text, false
	}
	calls := make([]parsedCall, 0, len(raws))
	for _, r := range raws {
		c, ok := parseCallObject(r)
		if !ok || !known[c.Name] {
			return nil, text, false
		}
		calls = append(calls, c)
	}
	return calls, strings.TrimSpace(text[:i]), true
}

// streamHold says how much of pending (the unsent tail of an auto-mode
// stream whose sent part is sent) must wait because it may start a call in
// format f. call reports that a call has begun: everything from there on
// waits for the end of the message.
func streamHold(f toolFormat, sent, pending string) (hold int, call bool) {
	markers := []string{hermesOpen}
	switch f {
	case formatMistral:
		markers = []string{mistralMarker}
	case formatLlama3:
		markers = []string{pythonTag}
	}
	for _, m := range markers {
		if k := strings.Index(pending, m); k >= 0 {
			return len(pending) - k, true
		}
	}
	if f == formatLlama3 || f == formatGeneric {
		// A whole-message call: nothing visible went out yet and the
		// message starts (or may start) with an object. Only the
		// whitespace the auto constraint skips counts as nothing.
		if strings.Trim(sent, leadSpace) == "" {
			t := strings.Trim(pending, leadSpace)
			if t == "" {
				return len(pending), false
			}
			if t[0] == '{' {
				return len(pending), true
			}
		}
	}
	for _, m := range markers {
		hold = max(hold, markerHold(pending, m))
	}
	return hold, false
}

// leadSpace is the whitespace that may precede a whole-message call, as the
// auto constraint reads it (constrain's AtStart triggers).
const leadSpace = " \t\n\r"

// markerHold returns how many bytes at the end of s must wait because they
// could be the start of marker.
func markerHold(s, marker string) int {
	for k := min(len(marker)-1, len(s)); k > 0; k-- {
		if strings.HasPrefix(marker, s[len(s)-k:]) {
			return k
		}
	}
	return 0
}

// toolHoldback is markerHold for the Hermes <tool_call> tag.
func toolHoldback(s string) int { return markerHold(s, hermesOpen) }

// callScanner reads a call object {"name":..., "arguments":{...}} as it is
// generated (a forced call), so that the name can go out as soon as it is
// complete and the arguments fragment by fragment. Keys may come in any
// order; an arguments value that is not an object or array (a string of
// JSON) is not streamed but sent whole at the end.
type callScanner struct {
	buf   []byte
	pos   int
	state scanState
	key   string // the top-level key whose value is being read
	// Inside a value: nesting depth, string state, where it began.
	depth    int
	inStr    bool
	esc      bool
	valStart int

	name     string
	nameDone bool
	// args is where the streamable arguments value begins (-1 until
	// seen) and argsEnd where it ended (-1 until then).
	args, argsEnd int
}

type scanState int

const (
	scanStart scanState = iota // before '{'
	scanKey                    // expecting a key or '}'
	scanColon                  // after a key
	scanValue                  // expecting a value
	scanInValue
	scanAfter // expecting ',' or '}'
	scanDone
	scanBad
)

func newCallScanner() *callScanner { return &callScanner{args: -1, argsEnd: -1} }

// feed scans text appended to the output.
func (s *callScanner) feed(text string) {
	s.buf = append(s.buf, text...)
	for ; s.pos < len(s.buf) && s.state != scanDone && s.state != scanBad; s.pos++ {
		c := s.buf[s.pos]
		ws := c == ' ' || c == '\t' || c == '\n' || c == '\r'
		switch s.state {
		case scanStart:
			if c == '{' {
				s.state = scanKey
			} else if !ws {
				s.state = scanBad
			}
		case scanKey:
			switch {
			case c == '"':
				s.state, s.valStart, s.inStr, s.esc, s.depth = scanInValue, s.pos, true, false, 0
				s.key = "" // reading a key, not a value
			case c == '}':
				s.state = scanDone
			case !ws:
				s.state = scanBad
			}
		case scanColon:
			if c == ':' {
				s.state = scanValue
			} else if !ws {
				s.state = scanBad
			}
		case scanValue:
			if ws {
				continue
			}
			s.state, s.valStart, s.depth, s.inStr, s.esc = scanInValue, s.pos, 0, false, false
			if isArgsKey(s.key) && s.args < 0 && (c == '{' || c == '[') {
				s.args = s.pos
			}
			s.pos-- // read c again as the value's first byte
		case scanInValue:
			s.value(c, ws)
		case scanAfter:
			switch {
			case c == ',':
				s.state = scanKey
			case c == '}':
				s.state = scanDone
			case !ws:
				s.state = scanBad
			}
		}
	}
}

// value advances through one byte of a key or value. Keys are read as
// string values with s.key empty; values carry their key prefixed with a
// NUL byte so the two cannot be confused.
func (s *callScanner) value(c byte, ws bool) {
	switch {
	case s.inStr:
		switch {
		case s.esc:
			s.esc = false
		case c == '\\':
			s.esc = true
		case c == '"':
			s.inStr = false
			if s.depth == 0 {
				s.endValue(s.pos + 1)
			}
		}
	case c == '"':
		s.inStr = true
	case c == '{' || c == '[':
		s.depth++
	case c == '}' || c == ']':
		if s.depth == 0 {
			// The end of a scalar at the end of the call object.
			s.endValue(s.pos)
			s.pos--
			return
		}
		s.depth--
		if s.depth == 0 {
			s.endValue(s.pos + 1)
		}
	case s.depth == 0 && (ws || c == ','):
		s.endValue(s.pos)
		s.pos-- // the separator is read in the next state
	}
}

// endValue records the key or value that ended at end (exclusive).
func (s *callScanner) endValue(end int) {
	raw := s.buf[s.valStart:end]
	if s.key == "" {
		var k string
		if json.Unmarshal(raw, &k) != nil {
			s.state = scanBad
			return
		}
		s.key, s.state = "\x00"+k, scanColon
		return
	}
	switch s.key {
	case "\x00name":
		var n string
		if json.Unmarshal(raw, &n) == nil && n != "" {
			s.name, s.nameDone = n, true
		}
	case "\x00arguments", "\x00parameters":
		if s.args >= 0 && s.argsEnd < 0 {
			s.argsEnd = end
		}
	}
	s.key, s.state = "", scanAfter
}

// isArgsKey reports whether key (NUL-prefixed) holds the arguments: Llama 3
// writes "parameters" (parseCallObject reads either).
func isArgsKey(key string) bool { return key == "\x00arguments" || key == "\x00parameters" }

// argsSoFar is the streamable arguments text generated so far: from its
// start to its end, or to the last byte read while it is still open.
func (s *callScanner) argsSoFar() string {
	if s.args < 0 {
		return ""
	}
	end := s.pos
	if s.argsEnd >= 0 {
		end = s.argsEnd
	}
	return string(s.buf[s.args:end])
}

// autoTriggers builds the constraint of tool_choice auto for format f: the
// output stays free (no mask at all) until it starts a call the way the
// model family writes them, and from there on is held to well-formed calls
// of the declared functions whose arguments validate against their
// parameters; parallel false allows one call. Each format's region is what
// parseToolCalls reads back:
//
//   - Hermes: <tool_call> anywhere, then a call object and </tool_call>,
//     repeated (each block may begin another) while parallel;
//   - Mistral: [TOOL_CALLS] anywhere, then a JSON array of calls (one
//     without parallel), then the end;
//   - Llama 3: a message that opens with <|python_tag|> or "{", then calls
//     separated by ";";
//   - generic: Hermes blocks anywhere, or a message that is one call
//     object.
//
// Nothing may follow a region but the end of the message, so free text
// never trails the calls.
func autoTriggers(ctx context.Context, ix *constrain.Index, f toolFormat, fns []api.FunctionDefinition, parallel bool) (*constrain.Triggers, error) {
	key := "arguments"
	if f == formatLlama3 {
		key = "parameters"
	}
	schema, err := callSchemaKey(fns, key)
	if err != nil {
		return nil, err
	}
	call, err := constrain.CompileSchemaContext(ctx, schema)
	if err != nil {
		return nil, err
	}
	maxCalls := 0
	if !parallel {
		maxCalls = 1
	}
	hermes := constrain.Trigger{Marker: hermesOpen, Value: call, Close: hermesClose, Sep: hermesOpen, Max: maxCalls}
	switch f {
	case formatHermes:
		return ix.Triggers(hermes)
	case formatMistral:
		items := ""
		if !parallel {
			items = `,"maxItems":1`
		}
		arr, err := constrain.CompileSchemaContext(ctx, []byte(`{"type":"array","items":`+string(schema)+`,"minItems":1`+items+`}`))
		if err != nil {
			return nil, err
		}
		return ix.Triggers(constrain.Trigger{Marker: mistralMarker, Value: arr, Max: 1})
	case formatLlama3:
		return ix.Triggers(
			constrain.Trigger{Marker: pythonTag, AtStart: true, Value: call, Sep: ";", Max: maxCalls},
			constrain.Trigger{Marker: "{", AtStart: true, Keep: true, Value: call, Sep: ";", Max: maxCalls},
		)
	}
	return ix.Triggers(hermes, constrain.Trigger{Marker: "{", AtStart: true, Keep: true, Value: call, Max: 1})
}

// regionScanner reads the call region of an auto-mode message (from its
// marker on) as it is generated and finds its call objects, so each can
// stream like a forced call. It relies on the region being well-formed,
// which the auto constraint guarantees: call objects are the objects at
// the top level of the region (inside the array for Mistral), and the
// literals between them hold no JSON punctuation.
type regionScanner struct {
	skip      int // marker bytes still to skip
	callDepth int // nesting depth of the call objects
	depth     int
	inStr     bool
	esc       bool
	calls     []*callScanner
	open      bool // the last call is still being read
}

func newRegionScanner(f toolFormat, region string) *regionScanner {
	r := &regionScanner{}
	for _, m := range []string{hermesOpen, mistralMarker, pythonTag} {
		if strings.HasPrefix(strings.TrimLeft(region, " \n\t\r"), m) {
			r.skip = strings.Index(region, m) + len(m)
			break
		}
	}
	if f == formatMistral {
		r.callDepth = 1
	}
	return r
}

// feed reads more of the region.
func (r *regionScanner) feed(text string) {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if r.skip > 0 {
			r.skip--
			continue
		}
		if !r.open && !r.inStr && c == '{' && r.depth == r.callDepth {
			r.calls = append(r.calls, newCallScanner())
			r.open = true
		}
		if r.open {
			r.calls[len(r.calls)-1].feed(text[i : i+1])
		}
		switch {
		case r.inStr:
			switch {
			case r.esc:
				r.esc = false
			case c == '\\':
				r.esc = true
			case c == '"':
				r.inStr = false
			}
		case c == '"':
			r.inStr = true
		case c == '{' || c == '[':
			r.depth++
		case c == '}' || c == ']':
			r.depth--
			if r.depth == r.callDepth {
				r.open = false
			}
		}
	}
}
