package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/kiln-llm/kiln/api"
	"github.com/kiln-llm/kiln/engine"
)

// completionJob is a validated completions request ready to generate. Choice
// k belongs to prompt k / n.
type completionJob struct {
	req        *api.CompletionRequest
	model      *Model
	prompts    [][]int
	texts      []string // each prompt's text, for echo
	n          int
	id         string
	created    int64
	promptSize int // tokens over all prompts, for usage
}

func (s *Server) handleCompletions(w http.ResponseWriter, r *http.Request) {
	body, e := s.readBody(w, r)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	req, e := api.DecodeCompletionRequest(body)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	job, reqs, e := s.prepareCompletion(r.Context(), req)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	s.generate(w, r, job.model, reqs, req.Stream, "completion",
		func(ctx context.Context, chans []<-chan engine.Event) { s.streamCompletion(ctx, w, job, chans) },
		func(res []result) any { return job.response(res) })
}

// response builds the non-streamed answer from every choice's result.
func (job *completionJob) response(res []result) api.Completion {
	req := job.req
	out := api.Completion{ID: job.id, Created: job.created, Model: job.model.ID, SystemFingerprint: job.model.Fingerprint,
		Choices: make([]api.CompletionChoice, len(res))}
	completion := 0
	for k, rs := range res {
		text := string(rs.text)
		if req.Echo {
			text = job.texts[k/job.n] + text
		}
		out.Choices[k] = api.CompletionChoice{Text: text, Index: k, FinishReason: api.FinishReason(rs.finish)}
		if req.Logprobs != nil {
			out.Choices[k].Logprobs = job.logprobs(k, string(rs.text), rs.promptTokens, rs.tokens)
		}
		completion += rs.completion
	}
	u := usage(job.promptSize, completion, cachedTokens(resultsCached(res), job.n))
	out.Usage = &u
	return out
}

func (s *Server) prepareCompletion(ctx context.Context, req *api.CompletionRequest) (*completionJob, []engine.GenRequest, *api.Error) {
	m, e := s.model(req.Model)
	if e != nil {
		return nil, nil, e
	}
	if e := req.CheckTextOnly(); e != nil {
		return nil, nil, e
	}
	vocab := m.Tokenizer.Len()
	if e := checkLogitBias(&req.GenerationParams, vocab); e != nil {
		return nil, nil, e
	}
	if n := req.Choices(); n > m.Engine.Capacity() {
		return nil, nil, checkCapacity(m, n, "n")
	}
	if e := checkCapacity(m, req.Choices()*req.Prompt.Len(), "prompt"); e != nil {
		return nil, nil, e
	}
	newConstraint, e := constraintFor(ctx, m, req.ResponseFormat, toolsNone, nil)
	if e != nil {
		return nil, nil, e
	}
	job := &completionJob{req: req, model: m, n: req.Choices(), id: newID("cmpl-"), created: time.Now().Unix()}
	if req.Prompt.IsTokens() {
		for i, ids := range req.Prompt.TokenIDs {
			param := "prompt"
			if req.Prompt.Len() > 1 {
				param = "prompt[" + itoa(i) + "]"
			}
			if len(ids) == 0 {
				return nil, nil, api.NewInvalidRequest(param, api.CodeInvalidValue, "The prompt must not be empty.")
			}
			for k, id := range ids {
				if id < 0 || id >= vocab {
					return nil, nil, api.NewInvalidRequest(param+"["+itoa(k)+"]", api.CodeInvalidValue,
						fmt.Sprintf("Invalid token id %d: this model's vocabulary has %d tokens.", id, vocab))
				}
			}
			job.prompts = append(job.prompts, ids)
			job.texts = append(job.texts, m.Tokenizer.Decode(ids, false))
		}
	} else {
		for _, text := range req.Prompt.Texts {
			// The whole prompt is the client's by design here (no
			// template), so special-token texts are parsed as llama.cpp
			// and vLLM do for raw completions.
			ids := m.Tokenizer.Encode(text, true, true)
			if len(ids) == 0 {
				return nil, nil, api.NewInvalidRequest("prompt", api.CodeInvalidValue,
					"The prompt is empty and this model has no beginning-of-sequence token to start from.")
			}
			job.prompts = append(job.prompts, ids)
			job.texts = append(job.texts, text)
		}
	}
	seed := baseSeed(&req.GenerationParams)
	var reqs []engine.GenRequest
	for i, ids := range job.prompts {
		param := "prompt"
		if len(job.prompts) > 1 {
			param = "prompt[" + itoa(i) + "]"
		}
		maxTokens, e := completionBudget(&req.GenerationParams, len(ids), m.Engine.Ctx(), param)
		if e != nil {
			return nil, nil, e
		}
		job.promptSize += len(ids)
		for c := 0; c < job.n; c++ {
			g := engine.GenRequest{
				Prompt:    ids,
				MaxTokens: maxTokens,
				Sampling:  samplingParams(&req.GenerationParams, choiceSeed(seed, len(reqs))),
				Stop:      req.Stops(),
				KeepStop:  true,
			}
			if req.Logprobs != nil {
				g.Logprobs = true
				g.TopLogprobs = *req.Logprobs
				g.PromptLogprobs = req.Echo
			}
			if newConstraint != nil {
				g.Constraint = newConstraint()
			}
			reqs = append(reqs, g)
		}
	}
	applyExtensions(&req.GenerationParams, reqs)
	return job, reqs, nil
}

// logprobs builds the legacy logprobs of choice k (see aligner for how
// tokens and offsets follow the returned text).
func (j *completionJob) logprobs(k int, text string, prompt, gen []engine.Token) *api.CompletionLogprobs {
	lp := newCompletionLogprobs()
	a := j.newAligner(k)
	a.add(text)
	j.appendLogprobs(lp, a, prompt, true)
	j.appendLogprobs(lp, a, gen, false)
	a.finish(lp)
	return lp
}

func newCompletionLogprobs() *api.CompletionLogprobs {
	return &api.CompletionLogprobs{Tokens: []string{}, TokenLogprobs: []api.Logprob{}, TopLogprobs: []api.OrderedTokens{}, TextOffset: []int{}}
}

// aligner maps tokens onto the text a client receives, so that the legacy
// logprobs read as OpenAI's do: the token strings concatenate to exactly
// the returned text and each text_offset is where its token starts in
// prompt plus completion (with echo that is the returned text itself;
// without, the completion's offsets start at the prompt's length).
// Token bytes and text differ in places: a SentencePiece prompt starts with
// a space that the echoed prompt does not have, control tokens (BOS) have
// no text unless the prompt spelled them, a stop sequence may cut a token,
// and invalid bytes become U+FFFD. So each token takes the text it matches
// at the current position; a control token that does not match takes ""
// and any other mismatch takes as many bytes of the text as it has, which
// keeps the concatenation a prefix of the text; finish gives the rest of
// the text to the last token.
type aligner struct {
	text      string // prompt text, then completion text as it arrives
	promptEnd int
	pos       int
	echo      bool
	control   func(id int) bool
}

func (j *completionJob) newAligner(k int) *aligner {
	p := j.texts[k/j.n]
	return &aligner{text: p, promptEnd: len(p), pos: len(p), echo: j.req.Echo, control: j.model.Tokenizer.IsControl}
}

// add appends completion text.
func (a *aligner) add(text string) { a.text += text }

// piece returns the text and offset of the next token.
func (a *aligner) piece(t engine.Token, isPrompt, first bool) (string, int) {
	if isPrompt && first {
		a.pos = 0
	}
	end := len(a.text)
	if isPrompt {
		end = a.promptEnd
	}
	rest := a.text[a.pos:end]
	cand := string(t.Bytes)
	off := a.pos
	switch {
	case strings.HasPrefix(rest, cand):
	case a.pos == 0 && isPrompt && strings.HasPrefix(cand, " ") && strings.HasPrefix(rest, cand[1:]):
		// The space SentencePiece put before the prompt is not in
		// the text the client sent.
		cand = cand[1:]
	case a.control(t.ID):
		cand = ""
	default:
		cand = rest[:min(len(cand), len(rest))]
	}
	a.pos += len(cand)
	return cand, off
}

// finish gives the text no token covered (the end of the prompt and of
// the completion) to the last token, which is where it came from.
func (a *aligner) finish(lp *api.CompletionLogprobs) {
	if a.pos < len(a.text) && len(lp.Tokens) > 0 && (a.echo || a.pos >= a.promptEnd) {
		lp.Tokens[len(lp.Tokens)-1] += a.text[a.pos:]
		a.pos = len(a.text)
	}
}

func (j *completionJob) appendLogprobs(lp *api.CompletionLogprobs, a *aligner, toks []engine.Token, isPrompt bool) {
	if isPrompt && len(toks) > 0 {
		defer func() {
			// The echoed prompt ends where the completion begins.
			if a.pos < a.promptEnd && len(lp.Tokens) > 0 {
				lp.Tokens[len(lp.Tokens)-1] += a.text[a.pos:a.promptEnd]
			}
			a.pos = a.promptEnd
		}()
	}
	for i, t := range toks {
		text, off := a.piece(t, isPrompt, i == 0)
		lp.Tokens = append(lp.Tokens, text)
		lp.TextOffset = append(lp.TextOffset, off)
		if isPrompt && i == 0 {
			// The first prompt token has no context to be predicted from.
			lp.TokenLogprobs = append(lp.TokenLogprobs, api.Logprob(math.NaN()))
			lp.TopLogprobs = append(lp.TopLogprobs, nil)
			continue
		}
		lp.TokenLogprobs = append(lp.TokenLogprobs, api.Logprob(t.Logprob))
		top := api.OrderedTokens{}
		seen := false
		for _, alt := range t.Top {
			top = append(top, api.TokenAlternative{Token: string(alt.Bytes), Logprob: api.Logprob(alt.Logprob)})
			seen = seen || alt.ID == t.ID
		}
		// The sampled token is always listed (so up to logprobs+1 entries).
		if !seen {
			top = append(top, api.TokenAlternative{Token: string(t.Bytes), Logprob: api.Logprob(t.Logprob)})
		}
		lp.TopLogprobs = append(lp.TopLogprobs, top)
	}
}

func (s *Server) streamCompletion(ctx context.Context, w http.ResponseWriter, j *completionJob, chans []<-chan engine.Event) {
	out := newSSE(w)
	includeUsage := j.req.IncludeUsage()
	chunk := func(c api.CompletionChoice) api.Completion {
		return api.Completion{ID: j.id, Created: j.created, Model: j.model.ID, SystemFingerprint: j.model.Fingerprint,
			Choices: []api.CompletionChoice{c}, StreamUsage: includeUsage}
	}
	type state struct {
		started bool
		align   *aligner
	}
	states := make([]state, len(chans))
	for k := range states {
		states[k].align = j.newAligner(k)
	}
	p, ok := s.forEachEvent(ctx, out, chans, "completion", func(i int, ev engine.Event, p progress) error {
		st := &states[i]
		c := api.CompletionChoice{Text: ev.Text, Index: i, FinishReason: api.FinishReason(ev.Finish)}
		var promptToks []engine.Token
		if !st.started {
			st.started = true
			if j.req.Echo {
				c.Text = j.texts[i/j.n] + c.Text
				promptToks = ev.PromptTokens
			}
		}
		if j.req.Logprobs != nil && (len(ev.Tokens) > 0 || len(promptToks) > 0) {
			lp := newCompletionLogprobs()
			st.align.add(ev.Text)
			j.appendLogprobs(lp, st.align, promptToks, true)
			j.appendLogprobs(lp, st.align, ev.Tokens, false)
			if ev.Finish != "" {
				st.align.finish(lp)
			}
			c.Logprobs = lp
		} else if j.req.Logprobs != nil {
			st.align.add(ev.Text)
		}
		if c.Text == "" && c.Logprobs == nil && ev.Finish == "" {
			return nil
		}
		msg := chunk(c)
		// 003: usage rides on the very last chunk of the stream; with
		// include_usage it gets a chunk of its own, as OpenAI sends it.
		if p.finished == len(chans) && !includeUsage {
			u := usage(j.promptSize, p.completion, cachedTokens(p.cached, j.n))
			msg.Usage = &u
		}
		return out.send(msg)
	})
	if !ok {
		return
	}
	if includeUsage {
		u := usage(j.promptSize, p.completion, cachedTokens(p.cached, j.n))
		msg := api.Completion{ID: j.id, Created: j.created, Model: j.model.ID, SystemFingerprint: j.model.Fingerprint,
			Choices: []api.CompletionChoice{}, Usage: &u, StreamUsage: true}
		if out.send(msg) != nil {
			return
		}
	}
	out.finish()
}
