package api

import (
	"encoding/json"
	"fmt"
)

// CompletionRequest is a decoded, validated POST /v1/completions body, with
// the extensions of spec document 003.
type CompletionRequest struct {
	Model  string
	Prompt Prompt
	// Images are the data URIs ("data:image/jpeg;base64,...") of 003's
	// images parameter; a text-only model rejects them with CheckTextOnly.
	Images []string
	// Echo returns the prompt before the completion (and its logprobs).
	Echo bool
	// Logprobs is the legacy integer: how many alternatives to return per
	// position, 0..5; nil when logprobs were not requested.
	Logprobs *int
	GenerationParams
}

// Prompt is a completions prompt in any of its four forms. Exactly one of
// Texts and TokenIDs is set; each entry is one prompt, and a response has
// Len()*n choices.
type Prompt struct {
	// Texts holds a string prompt (one entry) or an array of strings.
	Texts []string
	// TokenIDs holds a token-id prompt (one entry) or an array of them.
	TokenIDs [][]int
}

// Len returns the number of prompts.
func (p Prompt) Len() int { return len(p.Texts) + len(p.TokenIDs) }

// IsTokens reports whether the prompt arrived pre-tokenized.
func (p Prompt) IsTokens() bool { return p.TokenIDs != nil }

// CheckTextOnly returns a 400 when images were sent to a model that only
// reads text.
func (r *CompletionRequest) CheckTextOnly() *Error {
	if len(r.Images) == 0 {
		return nil
	}
	return NewInvalidRequest("images", CodeUnsupportedContent,
		fmt.Sprintf("Invalid 'images': this model accepts only text, but %d image(s) were sent.", len(r.Images)))
}

// DecodeCompletionRequest decodes and validates a completions body.
func DecodeCompletionRequest(body []byte) (*CompletionRequest, *Error) {
	o, e := decodeBody(body)
	if e != nil {
		return nil, e
	}
	r := &CompletionRequest{}
	if r.Model, e = o.requiredString("model"); e != nil {
		return nil, e
	}
	if r.Model == "" {
		return nil, valueError("model", "must not be empty.")
	}
	raw := o.value("prompt")
	if raw == nil {
		return nil, missingError("prompt")
	}
	if r.Prompt, e = decodePrompt(raw); e != nil {
		return nil, e
	}
	if raw := o.value("images"); raw != nil {
		items, e := asArray(raw, "images", "an array of strings")
		if e != nil {
			return nil, e
		}
		for i, it := range items {
			s, e := asString(it, elem("images", i))
			if e != nil {
				return nil, e
			}
			r.Images = append(r.Images, s)
		}
	}
	if r.Echo, e = o.flag("echo"); e != nil {
		return nil, e
	}
	if r.Logprobs, e = o.optInt("logprobs", 0, MaxCompletionLogprobs); e != nil {
		return nil, e
	}
	if e = decodeGeneration(o, &r.GenerationParams); e != nil {
		return nil, e
	}
	return r, nil
}

const promptWant = "a string, an array of strings, an array of token ids, or an array of token-id arrays"

func decodePrompt(raw []byte) (Prompt, *Error) {
	const path = "prompt"
	var p Prompt
	switch kindOf(raw) {
	case kindString:
		s, e := asString(raw, path)
		if e != nil {
			return p, e
		}
		p.Texts = []string{s}
		return p, nil
	case kindArray:
	default:
		return p, typeError(path, promptWant, raw)
	}
	items, e := asArray(raw, path, promptWant)
	if e != nil {
		return p, e
	}
	if len(items) == 0 {
		return p, emptyArrayError(path)
	}
	// The first element decides the form; the rest must match it.
	switch kindOf(items[0]) {
	case kindString:
		p.Texts = make([]string, len(items))
		for i, it := range items {
			if p.Texts[i], e = asString(it, elem(path, i)); e != nil {
				return p, e
			}
		}
	case kindNumber:
		ids, e := decodeTokenIDs(items, path)
		if e != nil {
			return p, e
		}
		p.TokenIDs = [][]int{ids}
	case kindArray:
		p.TokenIDs = make([][]int, len(items))
		for i, it := range items {
			ip := elem(path, i)
			inner, e := asArray(it, ip, "an array of token ids")
			if e != nil {
				return p, e
			}
			if len(inner) == 0 {
				return p, emptyArrayError(ip)
			}
			if p.TokenIDs[i], e = decodeTokenIDs(inner, ip); e != nil {
				return p, e
			}
		}
	default:
		return p, typeError(elem(path, 0), "a string, a token id or an array of token ids", items[0])
	}
	return p, nil
}

func decodeTokenIDs(items []json.RawMessage, path string) ([]int, *Error) {
	ids := make([]int, len(items))
	for i, it := range items {
		p := elem(path, i)
		v, e := asInt(it, p)
		if e != nil {
			return nil, e
		}
		if v < 0 || v > maxTokenID {
			return nil, valueError(p, "token id %d is out of range.", v)
		}
		ids[i] = int(v)
	}
	return ids, nil
}
