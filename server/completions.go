package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
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
	job, reqs, e := s.prepareCompletion(req)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	chans, cancel, e := s.submitAll(r.Context(), job.model, reqs)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	defer cancel()
	if req.Stream {
		s.streamCompletion(r.Context(), w, job, chans)
		return
	}
	res, err := collect(r.Context(), chans)
	if err != nil {
		if !errors.Is(err, errDisconnected) {
			s.log.Error("completion failed", slog.String("err", err.Error()))
			api.WriteError(w, engineError(err))
		}
		return
	}
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
			out.Choices[k].Logprobs = job.logprobs(k, rs.promptTokens, rs.tokens)
		}
		completion += rs.completion
	}
	u := usage(job.promptSize, completion)
	out.Usage = &u
	writeJSON(w, out)
}

func (s *Server) prepareCompletion(req *api.CompletionRequest) (*completionJob, []engine.GenRequest, *api.Error) {
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
	newConstraint, e := constraintFor(m, req.ResponseFormat, toolsNone, nil)
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
				Sampling:  samplingParams(&req.GenerationParams, seed+uint64(len(reqs))),
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
	return job, reqs, nil
}

// logprobs builds the legacy logprobs of choice k. text_offset counts bytes
// of the returned text: with echo, from the start of the prompt; without,
// from the end of the prompt, as OpenAI does (the offset into prompt plus
// completion). Control tokens (BOS) have no text and advance no offset.
func (j *completionJob) logprobs(k int, prompt, gen []engine.Token) *api.CompletionLogprobs {
	lp := &api.CompletionLogprobs{Tokens: []string{}, TokenLogprobs: []api.Logprob{}, TopLogprobs: []api.OrderedTokens{}, TextOffset: []int{}}
	off := 0
	if !j.req.Echo {
		off = len(j.texts[k/j.n])
	}
	j.appendLogprobs(lp, prompt, true, &off)
	j.appendLogprobs(lp, gen, false, &off)
	return lp
}

func (j *completionJob) appendLogprobs(lp *api.CompletionLogprobs, toks []engine.Token, isPrompt bool, off *int) {
	tok := j.model.Tokenizer
	for i, t := range toks {
		text := string(t.Bytes)
		lp.Tokens = append(lp.Tokens, text)
		lp.TextOffset = append(lp.TextOffset, *off)
		if !tok.IsControl(t.ID) {
			*off += len(t.Bytes)
		}
		if isPrompt && i == 0 {
			// The first prompt token has no context to be predicted from.
			lp.TokenLogprobs = append(lp.TokenLogprobs, api.Logprob(math.NaN()))
			lp.TopLogprobs = append(lp.TopLogprobs, nil)
			continue
		}
		lp.TokenLogprobs = append(lp.TokenLogprobs, api.Logprob(t.Logprob))
		top := api.OrderedTokens{}
		seen := false
		for _, a := range t.Top {
			top = append(top, api.TokenAlternative{Token: string(a.Bytes), Logprob: api.Logprob(a.Logprob)})
			seen = seen || a.ID == t.ID
		}
		// The sampled token is always listed (so up to logprobs+1 entries).
		if !seen {
			top = append(top, api.TokenAlternative{Token: text, Logprob: api.Logprob(t.Logprob)})
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
		done    bool
		off     int
	}
	states := make([]state, len(chans))
	for k := range states {
		if !j.req.Echo {
			states[k].off = len(j.texts[k/j.n])
		}
	}
	open, finished, completion := len(chans), 0, 0
	merged := merge(ctx, chans)
	for open > 0 {
		var ie indexedEvent
		select {
		case ie = <-merged:
		case <-ctx.Done():
			return
		}
		st := &states[ie.i]
		if ie.closed {
			open--
			if !st.done {
				if ctx.Err() == nil {
					out.sendError(engineError(errors.New("the engine ended a generation without a finish reason")))
				}
				return
			}
			continue
		}
		ev := ie.ev
		if ev.Err != nil {
			s.log.Error("completion failed", slog.String("err", ev.Err.Error()))
			out.sendError(engineError(ev.Err))
			return
		}
		c := api.CompletionChoice{Text: ev.Text, Index: ie.i, FinishReason: api.FinishReason(ev.Finish)}
		var promptToks []engine.Token
		if !st.started {
			st.started = true
			if j.req.Echo {
				c.Text = j.texts[ie.i/j.n] + c.Text
				promptToks = ev.PromptTokens
			}
		}
		if j.req.Logprobs != nil && (len(ev.Tokens) > 0 || len(promptToks) > 0) {
			lp := &api.CompletionLogprobs{Tokens: []string{}, TokenLogprobs: []api.Logprob{}, TopLogprobs: []api.OrderedTokens{}, TextOffset: []int{}}
			j.appendLogprobs(lp, promptToks, true, &st.off)
			j.appendLogprobs(lp, ev.Tokens, false, &st.off)
			c.Logprobs = lp
		}
		if ev.Finish != "" {
			st.done = true
			finished++
			completion += ev.CompletionTokens
		}
		if c.Text == "" && c.Logprobs == nil && ev.Finish == "" {
			continue
		}
		msg := chunk(c)
		// 003: usage rides on the very last chunk of the stream; with
		// include_usage it gets a chunk of its own, as OpenAI sends it.
		if finished == len(chans) && !includeUsage {
			u := usage(j.promptSize, completion)
			msg.Usage = &u
		}
		if out.send(msg) != nil {
			return
		}
	}
	if includeUsage {
		u := usage(j.promptSize, completion)
		msg := api.Completion{ID: j.id, Created: j.created, Model: j.model.ID, SystemFingerprint: j.model.Fingerprint,
			Choices: []api.CompletionChoice{}, Usage: &u, StreamUsage: true}
		if out.send(msg) != nil {
			return
		}
	}
	out.finish()
}
