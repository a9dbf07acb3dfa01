package server

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/kiln-llm/kiln/api"
	"github.com/kiln-llm/kiln/template"
	"github.com/kiln-llm/kiln/tokenizer"
)

// promptBuilder renders chat requests and tokenizes the result so that text
// from the client can never become a control token.
//
// The prompt is rendered twice: once as sent, and once with every
// special-token text inside client strings (message contents, names, tool
// calls, tool schemas) replaced by a same-length run of a harmless byte.
// Special tokens present in the second rendering were put there by the
// template; any other special text in the real rendering came from the
// client and is tokenized as plain text. Same-length replacement keeps the
// two renderings aligned even through filters such as trim or tojson, and
// the comparison is by position, so a client string that happens to equal
// the template's own markup cannot pass for it.
type promptBuilder struct {
	tok *tokenizer.Tokenizer
	// typed caches, per template, whether it renders array content itself.
	typedMu sync.Mutex
	typed   map[*template.Template]bool
	// specials are the texts that parse_special turns into ids, longest first.
	specials []string
	neutral  byte
	bos, eos string
}

func newPromptBuilder(tok *tokenizer.Tokenizer) *promptBuilder {
	p := &promptBuilder{tok: tok}
	for id := 0; id < tok.Len(); id++ {
		piece := tok.Piece(id)
		if piece == "" {
			continue
		}
		if sid, ok := tok.Special(piece); ok && sid == id {
			p.specials = append(p.specials, piece)
		}
	}
	sort.SliceStable(p.specials, func(i, j int) bool { return len(p.specials[i]) > len(p.specials[j]) })
	p.neutral = '#'
	for _, c := range []byte("#~^`@") {
		used := false
		for _, s := range p.specials {
			if strings.IndexByte(s, c) >= 0 {
				used = true
				break
			}
		}
		if !used {
			p.neutral = c
			break
		}
	}
	if id := tok.BOS(); id >= 0 {
		p.bos = string(tok.TokenBytes(id))
	}
	if id := tok.EOS(); id >= 0 {
		p.eos = string(tok.TokenBytes(id))
	}
	return p
}

// chatInputs are the template variables of a chat request besides the
// special tokens.
type chatInputs struct {
	// Messages keep array content as sent; Flat has it joined into a
	// string, for templates that only handle string content.
	Messages            []any
	Flat                []any
	Tools               []any // nil when none
	AddGenerationPrompt bool
	Extra               map[string]any // chat_template_kwargs
}

// chatInputsFrom builds the template variables from the raw request body
// (so that every message field reaches the template in the order sent, as
// Hugging Face passes them) and the decoded request (already validated).
func chatInputsFrom(body []byte, req *api.ChatCompletionRequest) (*chatInputs, error) {
	v, err := template.DecodeJSON(body)
	if err != nil {
		return nil, fmt.Errorf("decode body: %w", err)
	}
	obj, ok := v.(template.Object)
	if !ok {
		return nil, errors.New("body is not an object")
	}
	in := &chatInputs{AddGenerationPrompt: true}
	raw, _ := obj.Get("messages")
	msgs, _ := raw.([]any)
	if len(msgs) != len(req.Messages) {
		return nil, errors.New("messages do not match the decoded request")
	}
	for i, m := range msgs {
		mo, ok := m.(template.Object)
		if !ok {
			return nil, fmt.Errorf("messages[%d] is not an object", i)
		}
		in.Messages = append(in.Messages, normalizeMessage(mo, &req.Messages[i], false))
		in.Flat = append(in.Flat, normalizeMessage(mo, &req.Messages[i], true))
	}
	if t, ok := obj.Get("tools"); ok && t != nil {
		in.Tools, _ = t.([]any)
	} else if f, ok := obj.Get("functions"); ok && f != nil {
		fs, _ := f.([]any)
		for _, fn := range fs {
			in.Tools = append(in.Tools, template.Object{{Key: "type", Value: "function"}, {Key: "function", Value: fn}})
		}
	}
	if g, ok := obj.Get("add_generation_prompt"); ok {
		if b, isBool := g.(bool); isBool {
			in.AddGenerationPrompt = b
		}
	}
	if kw, ok := obj.Get("chat_template_kwargs"); ok {
		if ko, isObj := kw.(template.Object); isObj {
			in.Extra = map[string]any{}
			for _, mem := range ko {
				in.Extra[mem.Key] = mem.Value
			}
		}
	}
	return in, nil
}

// normalizeMessage adapts an OpenAI message to what chat templates expect:
// with flat, array content becomes its text and null or absent content ""
// (for
// templates that use content as a string), the developer role is the system role, and the deprecated
// function role is a tool result. Everything else is passed through as sent.
func normalizeMessage(mo template.Object, dec *api.Message, flat bool) template.Object {
	out := make(template.Object, 0, len(mo))
	for _, mem := range mo {
		switch mem.Key {
		case "content":
			if flat && dec.Content != nil && dec.Content.IsParts() {
				mem.Value = dec.Content.String()
			}
			if flat && mem.Value == nil {
				// OpenAI clients send null content with tool calls;
				// string-content templates concatenate it and would fail.
				mem.Value = ""
			}
		case "role":
			switch dec.Role {
			case api.RoleDeveloper:
				mem.Value = api.RoleSystem
			case api.RoleFunction:
				mem.Value = api.RoleTool
			}
		}
		out = append(out, mem)
	}
	if flat {
		if _, ok := mo.Get("content"); !ok {
			out = append(out, template.Member{Key: "content", Value: ""})
		}
	}
	return out
}

// vars returns the template variables with every client string passed
// through fix (identity for the real rendering).
func (p *promptBuilder) vars(t *template.Template, in *chatInputs, fix func(string) string) map[string]any {
	vars := map[string]any{}
	for k, v := range in.Extra {
		vars[k] = mapStrings(v, fix)
	}
	msgs := in.Flat
	if p.typedContent(t) {
		msgs = in.Messages
	}
	vars["messages"] = mapStrings(msgs, fix)
	if in.Tools != nil {
		vars["tools"] = mapStrings(in.Tools, fix)
	} else {
		vars["tools"] = nil
	}
	vars["add_generation_prompt"] = in.AddGenerationPrompt
	vars["bos_token"] = p.bos
	vars["eos_token"] = p.eos
	return vars
}

// mapStrings returns v with fix applied to every string value (not keys).
func mapStrings(v any, fix func(string) string) any {
	if fix == nil {
		return v
	}
	switch x := v.(type) {
	case string:
		return fix(x)
	case template.Object:
		out := make(template.Object, len(x))
		for i, m := range x {
			out[i] = template.Member{Key: m.Key, Value: mapStrings(m.Value, fix)}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = mapStrings(e, fix)
		}
		return out
	}
	return v
}

// neutralize replaces every special-token text in s by a run of the
// neutral byte of the same length.
func (p *promptBuilder) neutralize(s string) string {
	var b []byte
	for _, sp := range p.specials {
		src := s
		if b != nil {
			src = string(b)
		}
		if !strings.Contains(src, sp) {
			continue
		}
		if b == nil {
			b = []byte(s)
		}
		for off := 0; ; {
			k := strings.Index(string(b[off:]), sp)
			if k < 0 {
				break
			}
			for j := off + k; j < off+k+len(sp); j++ {
				b[j] = p.neutral
			}
			off += k + len(sp)
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

// Render returns the prompt text of a chat request.
func (p *promptBuilder) Render(t *template.Template, in *chatInputs) (string, error) {
	return t.Render(p.vars(t, in, nil))
}

// Tokens renders the chat prompt and tokenizes it with special-token parsing
// for the template's own markup only. It returns the text and the ids.
func (p *promptBuilder) Tokens(t *template.Template, in *chatInputs) (string, []int, error) {
	text, err := t.Render(p.vars(t, in, nil))
	if err != nil {
		return "", nil, err
	}
	if text == "" {
		return "", nil, errors.New("the chat template rendered an empty prompt")
	}
	safe, err := t.Render(p.vars(t, in, p.neutralize))
	if err != nil {
		// The neutralized rendering failing where the real one succeeded
		// means the template branches on special text in client strings;
		// trusting none of the specials is the safe reading.
		safe = ""
	}
	if safe == text {
		return text, p.withBOS(p.tok.Encode(text, false, true)), nil
	}
	return text, p.withBOS(p.encodeTrusted(text, p.trustedSpans(text, safe))), nil
}

// withBOS prepends BOS when the vocabulary asks for it, unless the template
// already wrote it (many templates print bos_token themselves).
func (p *promptBuilder) withBOS(ids []int) []int {
	probe := p.tok.Encode("", true, false)
	if len(probe) == 0 || probe[0] != p.tok.BOS() {
		return ids
	}
	if len(ids) > 0 && ids[0] == probe[0] {
		return ids
	}
	return append([]int{probe[0]}, ids...)
}

type span struct{ start, end int }

// trustedSpans finds the special-token occurrences of real that the
// template made: those that the neutralized rendering safe has too, at the
// corresponding position. With equal lengths the renderings align byte for
// byte; otherwise only the common prefix and the common suffix are aligned,
// and specials in between are not trusted.
func (p *promptBuilder) trustedSpans(text, safe string) []span {
	var prefix, suffix int
	for prefix < len(text) && prefix < len(safe) && text[prefix] == safe[prefix] {
		prefix++
	}
	for suffix < len(text)-prefix && suffix < len(safe)-prefix && text[len(text)-1-suffix] == safe[len(safe)-1-suffix] {
		suffix++
	}
	sameLen := len(text) == len(safe)
	var out []span
	for _, sp := range p.findSpecials(safe) {
		want := safe[sp.start:sp.end]
		var rs span
		switch {
		case sameLen:
			rs = sp
		case sp.end <= prefix:
			rs = sp
		case sp.start >= len(safe)-suffix:
			d := len(text) - len(safe)
			rs = span{sp.start + d, sp.end + d}
		default:
			continue
		}
		if rs.end <= len(text) && text[rs.start:rs.end] == want {
			out = append(out, rs)
		}
	}
	return out
}

// findSpecials returns the non-overlapping special-token occurrences of s,
// longest token first as the tokenizer partitions, in order of position.
func (p *promptBuilder) findSpecials(s string) []span {
	var found []span
	taken := func(a, b int) bool {
		for _, f := range found {
			if a < f.end && f.start < b {
				return true
			}
		}
		return false
	}
	for _, sp := range p.specials {
		for off := 0; off < len(s); {
			k := strings.Index(s[off:], sp)
			if k < 0 {
				break
			}
			a := off + k
			if !taken(a, a+len(sp)) {
				found = append(found, span{a, a + len(sp)})
			}
			off = a + len(sp)
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].start < found[j].start })
	return found
}

// encodeTrusted tokenizes text with the trusted spans as special tokens and
// everything else with special parsing off. Each run between specials is
// tokenized on its own, which is how the tokenizer treats text fragments
// between specials (a SentencePiece space prefix at each).
func (p *promptBuilder) encodeTrusted(text string, trusted []span) []int {
	var ids []int
	pos := 0
	for _, sp := range trusted {
		if sp.start > pos {
			ids = append(ids, p.tok.Encode(text[pos:sp.start], false, false)...)
		}
		id, _ := p.tok.Special(text[sp.start:sp.end])
		ids = append(ids, id)
		pos = sp.end
	}
	if pos < len(text) {
		ids = append(ids, p.tok.Encode(text[pos:], false, false)...)
	}
	return ids
}

// typedProbe is the text of the probe that detects typed-content support.
const typedProbe = "kiln-typed-content-probe"

// typedContent reports whether t renders array content (a list of
// {"type":"text","text":...} parts) itself, as Gemma's and other recent
// templates do: they then get the parts as sent, the way Hugging Face
// passes them. Others get the parts' text joined, as they would fail on a
// list or print its repr. The answer is cached per template.
func (p *promptBuilder) typedContent(t *template.Template) bool {
	p.typedMu.Lock()
	defer p.typedMu.Unlock()
	if v, ok := p.typed[t]; ok {
		return v
	}
	probe := []any{template.Object{
		{Key: "role", Value: "user"},
		{Key: "content", Value: []any{template.Object{{Key: "type", Value: "text"}, {Key: "text", Value: typedProbe}}}},
	}}
	out, err := t.Render(map[string]any{"messages": probe, "tools": nil, "add_generation_prompt": false,
		"bos_token": p.bos, "eos_token": p.eos})
	ok := err == nil && strings.Contains(out, typedProbe) && !strings.Contains(out, "'type'") && !strings.Contains(out, `"type"`)
	if p.typed == nil {
		p.typed = map[*template.Template]bool{}
	}
	p.typed[t] = ok
	return ok
}
