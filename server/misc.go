package server

import (
	"net/http"

	"github.com/kiln-llm/kiln/api"
	"github.com/kiln-llm/kiln/template"
	"github.com/kiln-llm/kiln/tokenizer"
)

// ownedBy is the owned_by of every model entry.
const ownedBy = "kiln"

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	list := api.ModelList{Data: make([]api.Model, len(s.models))}
	for i, m := range s.models {
		list.Data[i] = api.Model{ID: m.ID, Created: m.Created, OwnedBy: ownedBy}
	}
	writeJSON(w, list)
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	m, e := s.model(r.PathValue("id"))
	if e != nil {
		api.WriteError(w, e)
		return
	}
	writeJSON(w, api.Model{ID: m.ID, Created: m.Created, OwnedBy: ownedBy})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]string{"status": "ok"})
}

// modelOrDefault resolves the optional model of /tokenize and /detokenize.
func (s *Server) modelOrDefault(id string) (*Model, *api.Error) {
	if id == "" {
		return s.models[0], nil
	}
	return s.model(id)
}

func (s *Server) handleTokenize(w http.ResponseWriter, r *http.Request) {
	body, e := s.readBody(w, r)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	req, e := api.DecodeTokenizeRequest(body)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	m, e := s.modelOrDefault(req.Model)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	// The ids a completions prompt with this text would be sent as.
	writeJSON(w, api.TokenizeResponse{Tokens: m.Tokenizer.Encode(req.Prompt, true, true)})
}

func (s *Server) handleDetokenize(w http.ResponseWriter, r *http.Request) {
	body, e := s.readBody(w, r)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	req, e := api.DecodeDetokenizeRequest(body)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	m, e := s.modelOrDefault(req.Model)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	for i, id := range req.Tokens {
		if id < 0 || id >= m.Tokenizer.Len() {
			api.WriteError(w, api.NewInvalidRequest("tokens["+itoa(i)+"]", api.CodeInvalidValue,
				"Invalid token id "+itoa(id)+": this model's vocabulary has "+itoa(m.Tokenizer.Len())+" tokens."))
			return
		}
	}
	writeJSON(w, api.DetokenizeResponse{Prompt: m.Tokenizer.Decode(req.Tokens, false)})
}

// RenderChat returns the prompt text a chat completions request body renders
// to with the given template and tokenizer (for bos_token and eos_token):
// the messages and tools as the server passes them, and
// add_generation_prompt (default true) and chat_template_kwargs from the body.
// It is what `kiln template` prints.
func RenderChat(body []byte, t *template.Template, tok *tokenizer.Tokenizer) (string, error) {
	req, e := api.DecodeChatCompletionRequest(body)
	if e != nil {
		return "", e
	}
	in, err := chatInputsFrom(body, req)
	if err != nil {
		return "", err
	}
	return newPromptBuilder(tok).Render(t, in)
}
