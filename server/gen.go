package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"

	"github.com/kiln-llm/kiln/api"
	"github.com/kiln-llm/kiln/engine"
	"github.com/kiln-llm/kiln/sample"
)

// samplingParams maps the request's sampling fields onto the engine's, with
// OpenAI's defaults (temperature 1, top_p 1). seed is the seed of this
// choice (see choiceSeed).
func samplingParams(g *api.GenerationParams, seed uint64) sample.Params {
	p := sample.Params{Temperature: 1, TopP: 1, RepetitionPenalty: 1, Seed: seed}
	if g.Temperature != nil {
		p.Temperature = *g.Temperature
	}
	if g.TopP != nil {
		p.TopP = *g.TopP
	}
	if g.TopK != nil {
		p.TopK = *g.TopK
	}
	if g.MinP != nil {
		p.MinP = *g.MinP
	}
	if g.PresencePenalty != nil {
		p.PresencePenalty = *g.PresencePenalty
	}
	if g.FrequencyPenalty != nil {
		p.FrequencyPenalty = *g.FrequencyPenalty
	}
	if g.RepetitionPenalty != nil {
		p.RepetitionPenalty = *g.RepetitionPenalty
	}
	if len(g.LogitBias) > 0 {
		p.LogitBias = make(map[int]float32, len(g.LogitBias))
		for id, b := range g.LogitBias {
			p.LogitBias[id] = float32(b)
		}
	}
	return p
}

// baseSeed is the request's seed, or a random one: without a seed every
// request must sample differently.
func baseSeed(g *api.GenerationParams) uint64 {
	if g.Seed != nil {
		return uint64(*g.Seed)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// choiceSeed derives the seed of choice i from the request's seed. It mixes
// rather than adds: with seed+i, choice 1 of seed 42 would repeat choice 0 of
// seed 43, so neighbouring seeds would share samples. splitmix64's finalizer
// over seed and index (spread by the golden-ratio increment) makes the
// choices of one request, and of different seeds, independent streams while
// staying a pure function of (seed, i), which keeps seeded requests
// reproducible.
func choiceSeed(seed uint64, i int) uint64 {
	z := seed + (uint64(i)+1)*0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// checkLogitBias rejects token ids outside the vocabulary, in logit_bias
// and in stop_token_ids: both endpoints call it once they know the model,
// so it is where every request-supplied id is checked.
func checkLogitBias(g *api.GenerationParams, vocab int) *api.Error {
	for id := range g.LogitBias {
		if id < 0 || id >= vocab {
			return api.NewInvalidRequest("logit_bias", api.CodeInvalidValue,
				fmt.Sprintf("Invalid key in 'logit_bias': %d is not a token id of this model (the vocabulary has %d tokens).", id, vocab))
		}
	}
	for i, id := range g.StopTokenIDs {
		if id < 0 || id >= vocab {
			return api.NewInvalidRequest("stop_token_ids", api.CodeInvalidValue,
				fmt.Sprintf("Invalid 'stop_token_ids[%d]': %d is not a token id of this model (the vocabulary has %d tokens).", i, id, vocab))
		}
	}
	return nil
}

// applyExtensions maps the decoding extensions that are not sampling
// parameters (ignore_eos, stop_token_ids) onto every engine request of one
// API request. The engine clones StopTokens on Submit, so the choices may
// share the request's slice.
func applyExtensions(g *api.GenerationParams, reqs []engine.GenRequest) {
	for i := range reqs {
		reqs[i].IgnoreEOS = g.IgnoreEOS
		reqs[i].StopTokens = g.StopTokenIDs
	}
}

// completionBudget returns max_tokens for a prompt of n tokens in a context
// of ctx positions, applying context_length_exceeded_behavior.
func completionBudget(g *api.GenerationParams, n, ctx int, promptParam string) (int, *api.Error) {
	room := ctx - n
	if room < 1 {
		return 0, api.NewContextLengthExceeded(promptParam, fmt.Sprintf(
			"This model's maximum context length is %d tokens. However, your prompt has %d tokens, which leaves no room for a completion. Please shorten the prompt.", ctx, n))
	}
	want, ok := g.MaxTokens()
	if !ok {
		return room, nil
	}
	if want <= room {
		return want, nil
	}
	if g.TruncateToContext() {
		return room, nil
	}
	param := "max_tokens"
	if g.MaxCompletionTokens != nil {
		param = "max_completion_tokens"
	}
	return 0, api.NewContextLengthExceeded(param, fmt.Sprintf(
		"This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the prompt, %d for the completion). Please reduce the prompt or the completion length.", ctx, n+want, n, want))
}

// checkCapacity rejects a request whose choices (n times the number of
// prompts) exceed what the engine can ever hold at once: its slots plus its
// queue. Such a request would be refused with 429 even by an idle server,
// and the SDKs retry a 429 forever, so it is a 400 that names the server's
// limit instead; 429 keeps meaning "busy now, retry later". param is the
// field to blame ("n", or "prompt" when n alone would fit).
func checkCapacity(m *Model, choices int, param string) *api.Error {
	limit := m.Engine.Capacity()
	if choices <= limit {
		return nil
	}
	return api.NewInvalidRequest(param, api.CodeInvalidValue, fmt.Sprintf(
		"This request asks for %d choices in total, but this server can hold at most %d generations at once (--parallel plus --queue). Lower n or send fewer prompts per request.", choices, limit))
}

// submitAll submits every request under one cancellable context: if one is
// refused, the ones already queued are cancelled (freeing their slots) and
// the error is returned.
func (s *Server) submitAll(ctx context.Context, m *Model, reqs []engine.GenRequest) ([]<-chan engine.Event, context.CancelFunc, *api.Error) {
	ctx, cancel := context.WithCancel(ctx)
	chans := make([]<-chan engine.Event, len(reqs))
	for i, r := range reqs {
		ch, err := m.Engine.Submit(ctx, r)
		if err != nil {
			cancel()
			return nil, nil, s.submitError(err)
		}
		chans[i] = ch
	}
	return chans, cancel, nil
}

// generate submits reqs and answers the client: as a stream through stream,
// or, once every choice has finished, with the JSON body respond builds.
// what names the work in the log when the engine fails.
func (s *Server) generate(w http.ResponseWriter, r *http.Request, m *Model, reqs []engine.GenRequest, streaming bool, what string,
	stream func(ctx context.Context, chans []<-chan engine.Event), respond func([]result) any) {
	chans, cancel, e := s.submitAll(r.Context(), m, reqs)
	if e != nil {
		api.WriteError(w, e)
		return
	}
	defer cancel()
	if streaming {
		stream(r.Context(), chans)
		return
	}
	res, err := collect(r.Context(), chans)
	if err != nil {
		if !errors.Is(err, errDisconnected) {
			s.log.Error(what+" failed", slog.String("err", err.Error()))
			api.WriteError(w, engineError(err))
		}
		return
	}
	writeJSON(w, respond(res))
}

// result is everything one choice produced.
type result struct {
	text         []byte
	tokens       []engine.Token
	promptTokens []engine.Token
	finish       engine.FinishReason
	promptCount  int
	completion   int
	cached       int
	err          error
}

// add folds one event into the result.
func (r *result) add(ev engine.Event) {
	r.text = append(r.text, ev.Text...)
	r.tokens = append(r.tokens, ev.Tokens...)
	if ev.PromptTokens != nil {
		r.promptTokens = ev.PromptTokens
	}
	if ev.Finish != "" {
		r.finish = ev.Finish
		r.promptCount = ev.PromptTokenCount
		r.completion = ev.CompletionTokens
		r.cached = ev.CachedTokens
	}
	if ev.Err != nil {
		r.err = ev.Err
	}
}

// errDisconnected marks a stream that ended because the client went away.
var errDisconnected = errors.New("client disconnected")

// collect drains every channel. A channel closed without a finish means the
// request was cancelled (the client left) or the engine failed.
func collect(ctx context.Context, chans []<-chan engine.Event) ([]result, error) {
	res := make([]result, len(chans))
	for i, ch := range chans {
		for ev := range ch {
			res[i].add(ev)
		}
		if res[i].err != nil {
			return nil, res[i].err
		}
		if res[i].finish == "" {
			if ctx.Err() != nil {
				return nil, errDisconnected
			}
			return nil, errors.New("the engine ended a generation without a finish reason")
		}
	}
	return res, nil
}

// indexedEvent is an event of choice i.
type indexedEvent struct {
	i  int
	ev engine.Event
	// closed reports the end of choice i's channel.
	closed bool
}

// merge fans the choices' channels into one, in arrival order. The
// forwarding goroutines end when their channel closes or ctx is done.
func merge(ctx context.Context, chans []<-chan engine.Event) <-chan indexedEvent {
	out := make(chan indexedEvent)
	for i, ch := range chans {
		go func() {
			for ev := range ch {
				select {
				case out <- indexedEvent{i: i, ev: ev}:
				case <-ctx.Done():
					// Keep draining so the engine's sender never waits.
					for range ch {
					}
					return
				}
			}
			select {
			case out <- indexedEvent{i: i, closed: true}:
			case <-ctx.Done():
			}
		}()
	}
	return out
}

// progress is a stream's running totals over its choices.
type progress struct {
	finished   int   // choices whose final event has arrived
	completion int   // their completion tokens
	cached     []int // per choice: prompt tokens from the prefix cache
}

// forEachEvent merges the choices' event streams and hands each event to fn
// as it arrives, with the totals already counting it. A failed generation, or
// a stream that ends without a finish reason, is reported on out. ok is false
// when the response must stop there: fn failed (the client is gone), the
// request's context ended, or the engine failed.
func (s *Server) forEachEvent(ctx context.Context, out *sse, chans []<-chan engine.Event, what string,
	fn func(i int, ev engine.Event, p progress) error) (p progress, ok bool) {
	done := make([]bool, len(chans))
	p.cached = make([]int, len(chans))
	merged := merge(ctx, chans)
	for open := len(chans); open > 0; {
		var ie indexedEvent
		select {
		case ie = <-merged:
		case <-ctx.Done():
			return p, false
		}
		if ie.closed {
			open--
			if !done[ie.i] {
				if ctx.Err() == nil {
					s.log.Error(what + " stream ended without a finish reason")
					out.sendError(engineError(errors.New("the engine ended a generation without a finish reason")))
				}
				return p, false
			}
			continue
		}
		if ie.ev.Err != nil {
			s.log.Error(what+" failed", slog.String("err", ie.ev.Err.Error()))
			out.sendError(engineError(ie.ev.Err))
			return p, false
		}
		if ie.ev.Finish != "" {
			done[ie.i] = true
			p.finished++
			p.completion += ie.ev.CompletionTokens
			p.cached[ie.i] = ie.ev.CachedTokens
		}
		if fn(ie.i, ie.ev, p) != nil {
			return p, false
		}
	}
	return p, ctx.Err() == nil
}

// newID returns prefix plus 24 random hex digits.
func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// usage sums the choices' token counts. The prompt is counted once per
// distinct prompt, as OpenAI does for n > 1, and so are its cached tokens
// (cachedTokens gives them).
func usage(promptTokens, completionTokens, cachedTokens int) api.Usage {
	return api.Usage{PromptTokens: promptTokens, CompletionTokens: completionTokens, TotalTokens: promptTokens + completionTokens,
		PromptTokensDetails: &api.PromptTokensDetails{CachedTokens: cachedTokens}}
}

// cachedTokens totals the prompt tokens served from the prefix cache when
// choices come in groups of n per prompt. Within a group the least is
// taken: the choices read one prompt, and what one choice found cached
// because a sibling had just computed it was still computed for this
// request.
func cachedTokens(perChoice []int, n int) int {
	total := 0
	for i := 0; i < len(perChoice); i += max(n, 1) {
		total += slices.Min(perChoice[i:min(i+max(n, 1), len(perChoice))])
	}
	return total
}

// resultsCached lists the finished results' cached prompt tokens.
func resultsCached(res []result) []int {
	c := make([]int, len(res))
	for i, r := range res {
		c[i] = r.cached
	}
	return c
}

// engineError is the API error for a generation that failed inside the
// engine after it was accepted: always our bug, hence a 500.
func engineError(err error) *api.Error {
	return api.NewInternal("The generation failed: " + err.Error())
}

// itoa is strconv.Itoa, short for the many index paths.
func itoa(i int) string { return strconv.Itoa(i) }
