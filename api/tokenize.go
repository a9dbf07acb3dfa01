package api

import "encoding/json"

// TokenizeRequest is the body of POST /tokenize. Model may be empty, meaning
// the server's default model; these endpoints are Kiln's own, not OpenAI's.
type TokenizeRequest struct {
	Model  string `json:"model"`
	Prompt string `json:"prompt"`
}

// TokenizeResponse is the answer to a TokenizeRequest.
type TokenizeResponse struct {
	Tokens []int `json:"tokens"`
}

// MarshalJSON writes tokens as [] rather than null for an empty prompt.
func (t TokenizeResponse) MarshalJSON() ([]byte, error) {
	tokens := t.Tokens
	if tokens == nil {
		tokens = []int{}
	}
	return json.Marshal(struct {
		Tokens []int `json:"tokens"`
	}{tokens})
}

// DetokenizeRequest is the body of POST /detokenize.
type DetokenizeRequest struct {
	Model  string `json:"model"`
	Tokens []int  `json:"tokens"`
}

// DetokenizeResponse is the answer to a DetokenizeRequest.
type DetokenizeResponse struct {
	Prompt string `json:"prompt"`
}

// DecodeTokenizeRequest decodes and validates a tokenize body.
func DecodeTokenizeRequest(body []byte) (*TokenizeRequest, *Error) {
	o, e := decodeBody(body)
	if e != nil {
		return nil, e
	}
	r := &TokenizeRequest{}
	if r.Model, e = o.optString("model"); e != nil {
		return nil, e
	}
	if r.Prompt, e = o.requiredString("prompt"); e != nil {
		return nil, e
	}
	return r, nil
}

// DecodeDetokenizeRequest decodes and validates a detokenize body.
func DecodeDetokenizeRequest(body []byte) (*DetokenizeRequest, *Error) {
	o, e := decodeBody(body)
	if e != nil {
		return nil, e
	}
	r := &DetokenizeRequest{}
	if r.Model, e = o.optString("model"); e != nil {
		return nil, e
	}
	raw := o.value("tokens")
	if raw == nil {
		return nil, missingError("tokens")
	}
	items, e := asArray(raw, "tokens", "an array of token ids")
	if e != nil {
		return nil, e
	}
	if r.Tokens, e = decodeTokenIDs(items, "tokens"); e != nil {
		return nil, e
	}
	return r, nil
}
