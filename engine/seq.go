package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/kiln-llm/kiln/sample"
	"github.com/kiln-llm/kiln/tokenizer"
)

// seq is one request's generation state. After Submit hands it to the
// scheduler, only the scheduler goroutine touches it (the outbox is the one
// part shared with the request's drain goroutine).
type seq struct {
	req     GenRequest
	ctx     context.Context
	unwatch func() bool // stops the cancellation watch
	out     *outbox

	slot   int
	cached int   // leading prompt positions attached from the prefix cache
	gone   bool  // released from its slot; nothing more happens to it
	fed    []int // tokens written to the slot: prompt, then generated
	next   int   // sampled token to feed in the next step (decoding)
	// leader, while set, is a running sequence whose slot will hold the
	// first share prompt positions of s (one prompt, n choices): s waits,
	// running nothing, until they are there to copy (see Engine.follow).
	leader *seq
	share  int

	sampler   *sample.Sampler
	dec       *tokenizer.Decoder
	stop      *stopFilter
	mask      []bool
	maskReady bool // mask already holds the constraint's current answer

	generated  int            // tokens produced, not counting an end-of-generation token
	decoded    int            // bytes of text the decoder has produced
	sent       int            // bytes of text sent
	tokEnd     int            // decoded offset where the text of the tokens taken so far ends
	pending    []pendingToken // tokens not yet attached to an event
	promptToks []Token        // PromptLogprobs: prompt tokens, sent with the first event
	sentFirst  bool
}

// pendingToken is a generated token waiting for its text to be sent. end is
// the decoded byte offset where its text ends; -1 while its bytes are an
// unfinished UTF-8 character (or no text at all), resolved by the next token
// that completes text.
type pendingToken struct {
	tok Token
	end int
}

func newSeq(ctx context.Context, r GenRequest) *seq {
	return &seq{req: r, ctx: ctx, out: newOutbox(), next: -1, unwatch: func() bool { return false }}
}

// start prepares s to run in slot whose first reuse prompt positions are
// already cached.
func (s *seq) start(e *Engine, slot, reuse int) {
	s.slot = slot
	s.fed = make([]int, reuse, len(s.req.Prompt)+min(s.req.MaxTokens, e.opt.Ctx))
	copy(s.fed, s.req.Prompt[:reuse])
	p := s.req.Sampling
	if s.req.IgnoreEOS {
		// The end tokens are banned through the sampler's bias, a few
		// entries, rather than in a mask over the vocabulary every token.
		p.LogitBias = maps.Clone(p.LogitBias)
		if p.LogitBias == nil {
			p.LogitBias = make(map[int]float32, len(e.eog))
		}
		for _, id := range e.eog {
			p.LogitBias[id] = float32(math.Inf(-1))
		}
	}
	s.sampler = sample.New(p, e.vocab)
	s.sampler.Prompt(s.req.Prompt)
	s.dec = e.tok.NewDecoder(false)
	s.stop = newStopFilter(s.req.Stop, s.req.KeepStop)
	if s.req.PromptLogprobs {
		first := s.req.Prompt[0]
		s.promptToks = append(make([]Token, 0, len(s.req.Prompt)), Token{TokenLogprob: TokenLogprob{ID: first, Bytes: e.tok.TokenBytes(first)}})
	}
}

func (s *seq) prefilling() bool { return len(s.fed) < len(s.req.Prompt) }

// known is the longest token run s's slot holds or will hold for sure: its
// prompt while prefilling, then everything fed.
func (s *seq) known() []int {
	if len(s.fed) > len(s.req.Prompt) {
		return s.fed
	}
	return s.req.Prompt
}

// token builds a Token for id with its log-probabilities under the raw logits.
func (e *Engine) token(id int, logits []float32, logprobs bool, top int) Token {
	t := Token{TokenLogprob: TokenLogprob{ID: id, Bytes: e.tok.TokenBytes(id)}}
	if logprobs {
		var alts []sample.IDLogprob
		t.Logprob, alts = sample.Logprobs(logits, id, top)
		for _, c := range alts {
			t.Top = append(t.Top, TokenLogprob{ID: c.ID, Bytes: e.tok.TokenBytes(c.ID), Logprob: c.Logprob})
		}
	}
	return t
}

// freeConstraint is optional for a Constraint: Free reports that it
// restricts nothing at this step (tool_choice auto before the model starts a
// call), so no mask is built at all.
type freeConstraint interface{ Free() bool }

// allowed returns the mask for the next token (nil: every token), or end
// when a finished Constraint admits nothing but end-of-generation.
func (e *Engine) allowed(s *seq) (mask []bool, end bool) {
	c := s.req.Constraint
	if c == nil {
		return nil, false // IgnoreEOS is the sampler's bias (see start)
	}
	if f, ok := c.(freeConstraint); ok && f.Free() {
		s.maskReady = false
		return nil, false
	}
	if s.maskReady {
		s.maskReady = false
		return s.mask, false
	}
	if s.mask == nil {
		s.mask = make([]bool, e.vocab)
	}
	mask = s.mask
	for i := range mask {
		mask[i] = true
	}
	c.Allow(mask)
	done := c.Done()
	if !done {
		for _, id := range e.eog {
			mask[id] = false
		}
		return mask, false
	}
	for id, ok := range mask {
		if ok && !e.tok.IsEOG(id) {
			return mask, false
		}
	}
	// Complete, and nothing may follow: the output is finished.
	return nil, true
}

// errNoToken reports a Constraint that is not done yet allows no token.
var errNoToken = errors.New("engine: the constraint allows no next token")

// pick is what the logits of a sequence's last fed position decide before
// anything is streamed: the sampled id and its Token, or that a complete
// constraint admits only the end.
type pick struct {
	end bool
	id  int
	tok Token
	// caught is a panic of choose, re-raised in process so it fails only
	// its sequence.
	caught any
}

// choose samples the next token of s from logits. Besides the engine's
// fixed state it reads and writes only s (its sampler, constraint and
// mask), so a step chooses for all its sequences at once on the model's
// workers: with many streams, a large vocabulary or a grammar, sampling,
// log-probabilities and masks are a part of each decode step that would
// otherwise run on one core while the others wait.
func (e *Engine) choose(s *seq, logits []float32) (p pick) {
	mask, end := e.allowed(s)
	if end {
		return pick{end: true}
	}
	p.id = s.sampler.Sample(logits, mask)
	if p.id >= 0 && !e.stopsAt(s, p.id) {
		p.tok = e.token(p.id, logits, s.req.Logprobs || s.req.TopLogprobs > 0, s.req.TopLogprobs)
	}
	return p
}

// stopsAt reports whether sampling id ends s's output without emitting it.
func (e *Engine) stopsAt(s *seq, id int) bool {
	return (!s.req.IgnoreEOS && e.tok.IsEOG(id)) || slices.Contains(s.req.StopTokens, id)
}

// advance streams what choose picked for s.
func (e *Engine) advance(s *seq, p pick) {
	if p.caught != nil {
		panic(p.caught)
	}
	if p.end {
		e.finish(s, FinishStop, "", false)
		return
	}
	id := p.id
	if id < 0 {
		if s.req.Constraint != nil {
			e.fail(s, errNoToken)
		} else {
			// Only possible when every token is banned (IgnoreEOS on a
			// vocabulary of end tokens): nothing more can be said.
			e.finish(s, FinishStop, "", false)
		}
		return
	}
	if e.stopsAt(s, id) {
		e.finish(s, FinishStop, "", false)
		return
	}
	s.sampler.Accept(id)
	if c := s.req.Constraint; c != nil {
		if err := c.Accept(id); err != nil {
			e.fail(s, fmt.Errorf("engine: constraint refused token %d: %w", id, err))
			return
		}
	}
	s.generated++
	text := s.dec.Add(id)
	s.addToken(p.tok, text)
	out, stopped := s.stop.push(text)
	if stopped {
		e.finish(s, FinishStop, out, true)
		return
	}
	// The slot is full when prompt and output fill Ctx positions (the
	// last token is never fed back, but counting it keeps the rule the
	// one callers size requests by: prompt + max tokens <= Ctx).
	if s.generated >= s.req.MaxTokens || len(s.fed)+1 >= e.opt.Ctx {
		e.finish(s, FinishLength, out, false)
		return
	}
	s.emit(out)
	s.next = id
	// A complete constrained output with no possible continuation ends
	// now rather than after one more model step.
	if c := s.req.Constraint; c != nil && c.Done() {
		if _, end := e.allowed(s); end {
			e.finish(s, FinishStop, "", false)
		} else {
			s.maskReady = true
		}
	}
}

// addToken records a generated token and the text its id completed.
func (s *seq) addToken(t Token, text string) {
	end := -1
	if text != "" {
		s.decoded += len(text)
		end = s.decoded
		for i := len(s.pending) - 1; i >= 0 && s.pending[i].end < 0; i-- {
			s.pending[i].end = end
		}
	}
	s.pending = append(s.pending, pendingToken{tok: t, end: end})
}

// emit sends text released by the stop filter, with the tokens whose text it
// completes.
func (s *seq) emit(text string) {
	if text == "" {
		return
	}
	s.sent += len(text)
	n := 0
	for n < len(s.pending) && s.pending[n].end >= 0 && s.pending[n].end <= s.sent {
		n++
	}
	ev := Event{Text: text, Tokens: s.takeTokens(n)}
	s.first(&ev)
	s.out.push(ev, false)
}

// keptAtStop returns how many pending tokens keep their place in the output
// when a stop sequence ends it at decoded offset cut: those whose text starts
// before the cut. A token straddling the cut stays (part of its text is in
// the output); the tokens of the cut stop text, and any without text yet,
// go, so that logprobs describe the text the client receives.
func (s *seq) keptAtStop(cut int) int {
	// Tokens that complete one character together share an end offset;
	// they stand or fall as one, by where their character starts.
	start, prev := s.tokEnd, -1
	for i, p := range s.pending {
		if p.end < 0 {
			return i
		}
		if p.end != prev {
			if prev >= 0 {
				start = prev
			}
			prev = p.end
		}
		if start >= cut {
			return i
		}
	}
	return len(s.pending)
}

func (s *seq) takeTokens(n int) []Token {
	if n == 0 {
		return nil
	}
	toks := make([]Token, n)
	for i := range toks {
		toks[i] = s.pending[i].tok
		s.tokEnd = max(s.tokEnd, s.pending[i].end)
	}
	s.pending = append(s.pending[:0], s.pending[n:]...)
	return toks
}

// first attaches the prompt tokens to the first event of the stream.
func (s *seq) first(ev *Event) {
	if !s.sentFirst {
		s.sentFirst = true
		ev.PromptTokens = s.promptToks
		s.promptToks = nil
	}
}

// finish ends s with reason. text is released text not yet sent; stopped
// says a stop sequence ended it (then nothing held may be sent). Otherwise
// the decoder's unfinished character (as U+FFFD) and the held-back tail are
// released, since they can no longer become a stop sequence.
func (e *Engine) finish(s *seq, reason FinishReason, text string, stopped bool) {
	if !stopped {
		out, st := s.stop.push(s.dec.Flush())
		text += out
		stopped = st
		if st {
			reason = FinishStop
		} else {
			text += s.stop.flush()
		}
	}
	n := len(s.pending)
	if stopped {
		n = s.keptAtStop(s.sent + len(text))
	}
	ev := Event{
		Text:             text,
		Tokens:           s.takeTokens(n),
		Finish:           reason,
		PromptTokenCount: len(s.req.Prompt),
		CompletionTokens: s.generated,
		CachedTokens:     s.cached,
	}
	s.first(&ev)
	// Release before the client can see the end: a client that submits
	// again right after its last event must find the capacity free.
	e.release(s, true)
	s.out.push(ev, true)
}
