package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/kiln-llm/kiln/api"
	"github.com/kiln-llm/kiln/engine"
	"github.com/kiln-llm/kiln/template"
)

// chatJob is a validated chat request ready to generate.
type chatJob struct {
	req      *api.ChatCompletionRequest
	model    *Model
	prompt   []int
	mode     toolMode
	known    map[string]bool
	legacy   bool
	id       string
	created  int64
	parallel bool
	// format is how the model writes calls in free text (auto mode),
	// probed from its chat template.
	format toolFormat
	// forcedName is the one function a forced call may name: its first
	// delta goes out at once, whatever order the model writes the keys in.
	forcedName string
	// autoConstrained: auto mode's calls are constrained (see
	// autoTriggers), hence well-formed, so they stream as they are
	// generated; otherwise a call is held to the end and parsed.
	autoConstrained bool
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	body, e := s.readBody(w, r)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	req, e := api.DecodeChatCompletionRequest(body)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	job, reqs, e := s.prepareChat(r.Context(), body, req)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	s.generate(w, r, job.model, reqs, req.Stream, "chat generation",
		func(ctx context.Context, chans []<-chan engine.Event) { s.streamChat(ctx, w, job, chans) },
		func(res []result) any { return job.response(res) })
}

// prepareChat validates what decoding cannot (model, vocabulary, tools,
// schemas, context), renders and tokenizes the prompt and builds one engine
// request per choice.
func (s *Server) prepareChat(ctx context.Context, body []byte, req *api.ChatCompletionRequest) (*chatJob, []engine.GenRequest, *api.Error) {
	m, e := s.model(req.Model)
	if e != nil {
		return nil, nil, e
	}
	if e := req.CheckTextOnly(); e != nil {
		return nil, nil, e
	}
	if e := checkLogitBias(&req.GenerationParams, m.Tokenizer.Len()); e != nil {
		return nil, nil, e
	}
	if e := checkCapacity(m, req.Choices(), "n"); e != nil {
		return nil, nil, e
	}
	mode, fns, e := toolPlan(req)
	if e != nil {
		return nil, nil, e
	}
	if e := checkToolSchemas(ctx, req); e != nil {
		return nil, nil, e
	}
	newConstraint, e := constraintFor(ctx, m, req.ResponseFormat, mode, fns)
	if e != nil {
		return nil, nil, e
	}
	var format toolFormat
	autoConstrained := false
	if mode == toolsAuto {
		format = probeToolFormat(m.Template)
		// A JSON response_format keeps its constraint over the whole
		// message; otherwise calls are constrained once they start.
		if newConstraint == nil && m.Constraints != nil {
			all := make([]api.FunctionDefinition, 0, len(req.EffectiveTools()))
			for _, t := range req.EffectiveTools() {
				all = append(all, t.Function)
			}
			trig, err := autoTriggers(ctx, m.Constraints, format, all, req.ParallelToolCallsEnabled())
			if err != nil {
				if ctx.Err() != nil {
					return nil, nil, api.NewInvalidRequest("", "", "The request was cancelled while its schema compiled.")
				}
				return nil, nil, api.NewInvalidRequest("tools", api.CodeInvalidValue, "Invalid function definition: "+err.Error())
			}
			newConstraint = func() engine.Constraint { return trig.New() }
			autoConstrained = true
		}
	}
	in, err := chatInputsFrom(body, req)
	if err != nil {
		return nil, nil, api.NewInvalidRequest("messages", api.CodeInvalidValue, "Invalid messages: "+err.Error())
	}
	_, ids, err := m.prompts.Tokens(m.Template, in)
	if err != nil {
		return nil, nil, templateError(err)
	}
	maxTokens, e := completionBudget(&req.GenerationParams, len(ids), m.Engine.Ctx(), "messages")
	if e != nil {
		return nil, nil, e
	}
	job := &chatJob{
		req: req, model: m, prompt: ids, mode: mode, known: knownNames(req),
		legacy: req.UsesLegacyFunctions(), id: newID("chatcmpl-"), created: time.Now().Unix(),
		parallel: req.ParallelToolCallsEnabled(),
	}
	job.format, job.autoConstrained = format, autoConstrained
	if mode == toolsForced && len(fns) == 1 {
		job.forcedName = fns[0].Name
	}
	seed := baseSeed(&req.GenerationParams)
	top := 0
	if req.TopLogprobs != nil {
		top = *req.TopLogprobs
	}
	reqs := make([]engine.GenRequest, req.Choices())
	for i := range reqs {
		reqs[i] = engine.GenRequest{
			Prompt:      ids,
			MaxTokens:   maxTokens,
			Sampling:    samplingParams(&req.GenerationParams, choiceSeed(seed, i)),
			Stop:        req.Stops(),
			KeepStop:    false,
			Logprobs:    req.Logprobs,
			TopLogprobs: top,
		}
		if newConstraint != nil {
			reqs[i].Constraint = newConstraint()
		}
	}
	applyExtensions(&req.GenerationParams, reqs)
	return job, reqs, nil
}

// templateError turns a rendering failure into a 400: the template runs on
// the client's messages, and a template that refuses them (raise_exception,
// an unsupported role order, null content) is answering the request.
func templateError(err error) *api.Error {
	var ex *template.ExceptionError
	if errors.As(err, &ex) {
		return api.NewInvalidRequest("messages", api.CodeInvalidValue, "The model's chat template rejected the messages: "+ex.Message)
	}
	return api.NewInvalidRequest("messages", api.CodeInvalidValue, "The model's chat template could not render the messages: "+err.Error())
}

// message builds a choice's message and finish reason from its text.
func (j *chatJob) message(text string, finish engine.FinishReason) (api.ChatResponseMessage, api.FinishReason) {
	msg := api.ChatResponseMessage{Role: api.RoleAssistant}
	var calls []parsedCall
	rest := text
	switch j.mode {
	case toolsForced:
		if c, ok := parseCallObject([]byte(text)); ok {
			calls, rest = []parsedCall{c}, ""
		}
	case toolsAuto:
		if cs, r, ok := parseToolCalls(j.format, text, j.known); ok {
			calls, rest = cs, r
			if !j.parallel && len(calls) > 1 {
				calls = calls[:1]
			}
		}
	}
	if len(calls) == 0 {
		msg.Content = &text
		return msg, api.FinishReason(finish)
	}
	if rest != "" {
		msg.Content = &rest
	}
	if j.legacy {
		msg.FunctionCall = &api.FunctionCall{Name: calls[0].Name, Arguments: calls[0].Arguments}
		return msg, api.FinishFunctionCall
	}
	for _, c := range calls {
		msg.ToolCalls = append(msg.ToolCalls, api.ToolCall{ID: newID("call_"), Type: "function",
			Function: api.FunctionCall{Name: c.Name, Arguments: c.Arguments}})
	}
	return msg, api.FinishToolCalls
}

func (j *chatJob) response(res []result) api.ChatCompletion {
	out := api.ChatCompletion{
		ID: j.id, Created: j.created, Model: j.model.ID, SystemFingerprint: j.model.Fingerprint,
		Choices: make([]api.ChatChoice, len(res)),
	}
	completion := 0
	for i, r := range res {
		msg, finish := j.message(string(r.text), r.finish)
		out.Choices[i] = api.ChatChoice{Index: i, Message: msg, FinishReason: finish}
		if j.req.Logprobs {
			out.Choices[i].Logprobs = &api.ChatLogprobs{Content: chatLogprobs(r.tokens)}
		}
		completion += r.completion
	}
	out.Usage = usage(len(j.prompt), completion, cachedTokens(resultsCached(res), len(res)))
	return out
}

// chatLogprobs converts engine tokens to the chat logprobs format; never
// nil, so that "content" is [] rather than null for an empty completion.
func chatLogprobs(tokens []engine.Token) []api.TokenLogprob {
	out := make([]api.TokenLogprob, len(tokens))
	for i, t := range tokens {
		out[i] = api.TokenLogprob{Token: string(t.Bytes), Logprob: api.Logprob(t.Logprob), Bytes: api.TokenBytes(t.Bytes)}
		for _, a := range t.Top {
			out[i].TopLogprobs = append(out[i].TopLogprobs, api.TopLogprob{Token: string(a.Bytes), Logprob: api.Logprob(a.Logprob), Bytes: api.TokenBytes(a.Bytes)})
		}
	}
	return out
}

// chatStreamState is one choice's progress through a stream.
type chatStreamState struct {
	sent    strings.Builder // content already sent
	pending string          // content held back (tool-call detection)
	inCall  bool            // a <tool_call> tag was seen: hold the rest
	// held are tokens whose text is still held back (tool modes), with
	// heldFrom the bytes of content the tokens released so far covered:
	// logprobs travel with their text, never ahead of it in empty chunks.
	held     []engine.Token
	heldFrom int
	// A forced call streams as it is generated: scan reads it, header
	// says its first delta (id and name) went out, argsSent how many
	// bytes of its arguments followed.
	scan     *callScanner
	header   bool
	argsSent int
	// An auto-mode call region streams call by call: region reads it
	// (from the marker on), calls says what went out of each call.
	region    *regionScanner
	regionFed int
	calls     []streamedCall
}

// streamedCall is what went out of one call of an auto-mode region.
type streamedCall struct {
	argsSent int
}

// release returns the held tokens whose bytes lie within the content sent
// so far, or all of them at the end of the choice.
func (st *chatStreamState) release(all bool) []engine.Token {
	n := 0
	for n < len(st.held) && (all || st.heldFrom+len(st.held[n].Bytes) <= st.sent.Len()) {
		st.heldFrom += len(st.held[n].Bytes)
		n++
	}
	out := st.held[:n:n]
	st.held = st.held[n:]
	return out
}

func (s *Server) streamChat(ctx context.Context, w http.ResponseWriter, j *chatJob, chans []<-chan engine.Event) {
	out := newSSE(w)
	includeUsage := j.req.IncludeUsage()
	chunk := func(choices ...api.ChunkChoice) api.ChatCompletionChunk {
		return api.ChatCompletionChunk{ID: j.id, Created: j.created, Model: j.model.ID, SystemFingerprint: j.model.Fingerprint,
			Choices: choices, StreamUsage: includeUsage}
	}
	empty := ""
	for i := range chans {
		if out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{Role: api.RoleAssistant, Content: &empty}})) != nil {
			return
		}
	}
	states := make([]chatStreamState, len(chans))
	p, ok := s.forEachEvent(ctx, out, chans, "chat generation", func(i int, ev engine.Event, _ progress) error {
		return j.streamEvent(out, chunk, i, &states[i], ev)
	})
	if !ok {
		return
	}
	completion := p.completion
	if includeUsage {
		u := usage(len(j.prompt), completion, cachedTokens(p.cached, len(p.cached)))
		c := chunk()
		c.Choices = []api.ChunkChoice{}
		c.Usage = &u
		if out.send(c) != nil {
			return
		}
	}
	out.finish()
}

// streamEvent sends what one event of choice i makes safe to send.
func (j *chatJob) streamEvent(out *sse, chunk func(...api.ChunkChoice) api.ChatCompletionChunk, i int, st *chatStreamState, ev engine.Event) error {
	if j.mode == toolsForced {
		return j.streamForced(out, chunk, i, st, ev)
	}
	var send string
	switch j.mode {
	case toolsAuto:
		st.pending += ev.Text
		if !st.inCall {
			hold, call := streamHold(j.format, st.sent.String(), st.pending)
			k := len(st.pending) - hold
			send, st.pending, st.inCall = st.pending[:k], st.pending[k:], call
		}
	default:
		send = ev.Text
	}
	st.sent.WriteString(send)
	if st.inCall && j.autoConstrained && !j.legacy && (st.region != nil || j.constrainedStart(st.sent.String())) {
		st.held = append(st.held, ev.Tokens...)
		if send != "" {
			// The content before the marker, with the tokens it covers.
			if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{Content: &send}, Logprobs: j.logprobs(st.release(false))})); err != nil {
				return err
			}
		}
		return j.streamRegion(out, chunk, i, st, ev)
	}
	toks := ev.Tokens
	if j.mode != toolsNone {
		// Text may be held back for a tool call: the tokens wait with it.
		st.held = append(st.held, ev.Tokens...)
		toks = st.release(ev.Finish != "" && st.pending == "")
	}
	if send != "" || (j.req.Logprobs && len(toks) > 0) {
		if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{Content: &send}, Logprobs: j.logprobs(toks)})); err != nil {
			return err
		}
	}
	if ev.Finish == "" {
		return nil
	}
	finish := api.FinishReason(ev.Finish)
	if st.pending != "" {
		full := st.sent.String() + st.pending
		msg, f := j.message(full, ev.Finish)
		finish = f
		lp := j.logprobs(st.release(true))
		if msg.ToolCalls != nil || msg.FunctionCall != nil {
			// Content before the call went out already; what the call
			// block left over goes out before the calls.
			if msg.Content != nil {
				sentText := strings.TrimSpace(st.sent.String())
				if rest := strings.TrimSpace(strings.TrimPrefix(*msg.Content, sentText)); rest != "" {
					if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{Content: &rest}})); err != nil {
						return err
					}
				}
			}
			if err := j.sendCalls(out, chunk, i, msg, lp); err != nil {
				return err
			}
		} else {
			p := st.pending
			if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{Content: &p}, Logprobs: lp})); err != nil {
				return err
			}
		}
		st.pending = ""
	}
	return out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{}, FinishReason: finish}))
}

// logprobs is the chunk logprobs of toks, nil when not asked for or empty.
func (j *chatJob) logprobs(toks []engine.Token) *api.ChatLogprobs {
	if !j.req.Logprobs || len(toks) == 0 {
		return nil
	}
	return &api.ChatLogprobs{Content: chatLogprobs(toks)}
}

// sendCalls streams complete calls the way OpenAI streams them: for each,
// a first delta with its index, id, type and name (arguments ""), then one
// with its arguments. lp rides on the first delta.
func (j *chatJob) sendCalls(out *sse, chunk func(...api.ChunkChoice) api.ChatCompletionChunk, i int, msg api.ChatResponseMessage, lp *api.ChatLogprobs) error {
	if msg.FunctionCall != nil {
		if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{FunctionCall: &api.FunctionCallDelta{Name: msg.FunctionCall.Name}}, Logprobs: lp})); err != nil {
			return err
		}
		return out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{FunctionCall: &api.FunctionCallDelta{Arguments: msg.FunctionCall.Arguments}}}))
	}
	for k, c := range msg.ToolCalls {
		head := api.ToolCallDelta{Index: k, ID: c.ID, Type: c.Type, Function: api.FunctionCallDelta{Name: c.Function.Name}}
		if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{ToolCalls: []api.ToolCallDelta{head}}, Logprobs: lp})); err != nil {
			return err
		}
		lp = nil
		args := api.ToolCallDelta{Index: k, Function: api.FunctionCallDelta{Arguments: c.Function.Arguments}}
		if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{ToolCalls: []api.ToolCallDelta{args}}})); err != nil {
			return err
		}
	}
	return nil
}

// constrainedStart reports whether a call region that begins after sent
// is one the auto constraint holds to its grammar: Llama 3 calls count
// only at the start of the message (a <|python_tag|> later is text, and
// parsed as such), the other formats' markers anywhere.
func (j *chatJob) constrainedStart(sent string) bool {
	return j.format != formatLlama3 || strings.Trim(sent, leadSpace) == ""
}

// streamRegion streams the calls of an auto-mode region as they are
// generated, the way forced calls stream: each call's first delta (index,
// id, type, name) once its name is complete, then its arguments fragment by
// fragment. Content before the region went out already; the held tokens
// (the caller adds ev's) ride on the call deltas. st.pending holds the
// region so far.
func (j *chatJob) streamRegion(out *sse, chunk func(...api.ChunkChoice) api.ChatCompletionChunk, i int, st *chatStreamState, ev engine.Event) error {
	if st.region == nil {
		st.region = newRegionScanner(j.format, st.pending)
	}
	st.region.feed(st.pending[st.regionFed:])
	st.regionFed = len(st.pending)
	flush := func() *api.ChatLogprobs {
		h := st.held
		st.held = nil
		return j.logprobs(h)
	}
	delta := func(k int, id, name, args string) api.ChatDelta {
		d := api.ToolCallDelta{Index: k, Function: api.FunctionCallDelta{Name: name, Arguments: args}}
		if id != "" {
			d.ID, d.Type = id, "function"
		}
		return api.ChatDelta{ToolCalls: []api.ToolCallDelta{d}}
	}
	for k, sc := range st.region.calls {
		if k == len(st.calls) {
			if !sc.nameDone {
				break
			}
			if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: delta(k, newID("call_"), sc.name, ""), Logprobs: flush()})); err != nil {
				return err
			}
			st.calls = append(st.calls, streamedCall{})
		}
		if a := sc.argsSoFar(); len(a) > st.calls[k].argsSent {
			frag := a[st.calls[k].argsSent:]
			st.calls[k].argsSent = len(a)
			if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: delta(k, "", "", frag), Logprobs: flush()})); err != nil {
				return err
			}
		}
	}
	if ev.Finish == "" {
		return nil
	}
	full := st.sent.String() + st.pending
	msg, finish := j.message(full, ev.Finish)
	st.pending = ""
	switch {
	case len(st.calls) == 0 && msg.ToolCalls == nil:
		// Cut short before any name was complete: content, as without
		// streaming.
		p := strings.TrimPrefix(full, st.sent.String())
		if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{Content: &p}, Logprobs: flush()})); err != nil {
			return err
		}
	case msg.ToolCalls == nil:
		// A call cut short (length): the partial calls went out, and
		// the engine's reason ends the stream, as for a forced call.
		finish = api.FinishReason(ev.Finish)
	default:
		for k, c := range msg.ToolCalls {
			if k < len(st.calls) {
				continue
			}
			// Not streamed (cannot happen with a constrained region, but
			// the parse is the authority): whole, as sendCalls would.
			if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: delta(k, c.ID, c.Function.Name, c.Function.Arguments)})); err != nil {
				return err
			}
		}
	}
	if lp := flush(); lp != nil && len(st.calls) > 0 {
		if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: delta(len(st.calls)-1, "", "", ""), Logprobs: lp})); err != nil {
			return err
		}
	}
	return out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{}, FinishReason: finish}))
}

// callDelta is a delta of the forced call: its first (with name, and the
// id unless legacy) or a fragment of its arguments.
func (j *chatJob) callDelta(id, name, args string) api.ChatDelta {
	if j.legacy {
		return api.ChatDelta{FunctionCall: &api.FunctionCallDelta{Name: name, Arguments: args}}
	}
	d := api.ToolCallDelta{Index: 0, Function: api.FunctionCallDelta{Name: name, Arguments: args}}
	if id != "" {
		d.ID, d.Type = id, "function"
	}
	return api.ChatDelta{ToolCalls: []api.ToolCallDelta{d}}
}

// streamForced streams a forced call as it is generated: its first delta
// as soon as the name is complete, then the arguments fragment by fragment
// (their concatenation is the non-streamed arguments, byte for byte).
// Logprobs ride with the call's deltas.
func (j *chatJob) streamForced(out *sse, chunk func(...api.ChunkChoice) api.ChatCompletionChunk, i int, st *chatStreamState, ev engine.Event) error {
	if st.scan == nil {
		st.scan = newCallScanner()
	}
	st.scan.feed(ev.Text)
	st.pending += ev.Text
	st.held = append(st.held, ev.Tokens...)
	flush := func() []engine.Token {
		h := st.held
		st.held = nil
		return h
	}
	if !st.header && (st.scan.nameDone || j.forcedName != "") {
		st.header = true
		name := j.forcedName
		if name == "" {
			name = st.scan.name
		}
		if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: j.callDelta(newID("call_"), name, ""), Logprobs: j.logprobs(flush())})); err != nil {
			return err
		}
	}
	if st.header {
		if a := st.scan.argsSoFar(); len(a) > st.argsSent {
			frag := a[st.argsSent:]
			st.argsSent = len(a)
			if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: j.callDelta("", "", frag), Logprobs: j.logprobs(flush())})); err != nil {
				return err
			}
		}
	}
	if ev.Finish == "" {
		return nil
	}
	msg, finish := j.message(st.pending, ev.Finish)
	var args *string
	switch {
	case msg.FunctionCall != nil:
		args = &msg.FunctionCall.Arguments
	case len(msg.ToolCalls) > 0:
		args = &msg.ToolCalls[0].Function.Arguments
	}
	switch {
	case args == nil && !st.header:
		// Cut short before the name was complete: plain content, as
		// without streaming.
		p := st.pending
		if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{Content: &p}, Logprobs: j.logprobs(flush())})); err != nil {
			return err
		}
	case args != nil && !st.header:
		if err := j.sendCalls(out, chunk, i, msg, j.logprobs(flush())); err != nil {
			return err
		}
	default:
		// The arguments that were not streamed (a string of JSON, sent
		// decoded) go out whole; the tokens of the call's closing bytes
		// ride on an empty fragment.
		rest := ""
		if args != nil && st.argsSent == 0 {
			rest = *args
		}
		if lp := j.logprobs(flush()); rest != "" || lp != nil {
			if err := out.send(chunk(api.ChunkChoice{Index: i, Delta: j.callDelta("", "", rest), Logprobs: lp})); err != nil {
				return err
			}
		}
		if args == nil {
			// A call cut short (length): OpenAI ends such a stream with
			// the partial call and the engine's reason.
			finish = api.FinishReason(ev.Finish)
		}
	}
	st.pending = ""
	return out.send(chunk(api.ChunkChoice{Index: i, Delta: api.ChatDelta{}, FinishReason: finish}))
}
