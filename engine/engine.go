package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/kiln-llm/kiln/model"
	"github.com/kiln-llm/kiln/tokenizer"
)

// Options sizes the scheduler. Zero values take the defaults.
type Options struct {
	// Parallel is the number of KV cache slots, i.e. sequences decoded
	// together in one batch (default 4).
	Parallel int
	// Ctx is the number of positions per slot: prompt plus generated tokens
	// must fit (default min(4096, the model's training context)).
	Ctx int
	// Queue is how many requests may wait for a slot beyond Parallel before
	// Submit answers ErrQueueFull (default 64; negative: none may wait).
	Queue int
	// MaxBatchTokens bounds the tokens of one step (default 512). Decode
	// tokens go first; prompt chunks fill the rest. It is raised to Parallel
	// so every decoding sequence advances in every step.
	MaxBatchTokens int
	// StepTarget is how long a step that carries decoding sequences should
	// take (default 100ms; negative: no target). Their streams wait for
	// every step, so a step that also runs 512 prompt tokens stalls them
	// for a whole prefill (half a second on a 110M model, five on a 1B).
	// While sequences decode, prompt chunks are cut to what fits the
	// target at the step times measured so far, but never below
	// MinPromptChunk tokens, so that prompts still advance. Without
	// decoding sequences a step takes MaxBatchTokens, for the fastest
	// first token.
	StepTarget time.Duration
	// KV is the KV cache layout: element type (default: the model's,
	// see model.Options), block size
	// and pool bound (default Parallel x Ctx positions). Blocks of
	// finished sequences stay in the pool as a prefix cache until room is
	// needed. A pool smaller than the default can run out: the sequences
	// of that step then fail with model.ErrCacheFull.
	KV model.CacheOptions
}

// Defaults of Options.
const (
	DefaultParallel       = 4
	DefaultCtx            = 4096
	DefaultQueue          = 64
	DefaultMaxBatchTokens = 512
	DefaultStepTarget     = 100 * time.Millisecond
	// MinPromptChunk is the fewest prompt tokens a step carries when a
	// prompt is waiting, whatever StepTarget says: below it a step reads
	// all weights for too little prompt work.
	MinPromptChunk = 32
)

func (o Options) withDefaults(ctxTrain int) Options {
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.Ctx <= 0 {
		o.Ctx = DefaultCtx
		if ctxTrain > 0 {
			o.Ctx = min(o.Ctx, ctxTrain)
		}
	}
	switch {
	case o.Queue == 0:
		o.Queue = DefaultQueue
	case o.Queue < 0:
		o.Queue = 0
	}
	if o.MaxBatchTokens <= 0 {
		o.MaxBatchTokens = DefaultMaxBatchTokens
	}
	o.MaxBatchTokens = max(o.MaxBatchTokens, o.Parallel)
	if o.StepTarget == 0 {
		o.StepTarget = DefaultStepTarget
	}
	// Out-of-range cache options take the defaults rather than failing
	// New (the command line validates what users type).
	o.KV.BlockSize, o.KV.Blocks = max(o.KV.BlockSize, 0), max(o.KV.Blocks, 0)
	if o.KV.Type > model.KVQ8_0 {
		o.KV.Type = model.KVDefault
	}
	return o
}

// Engine serves generation requests with continuous batching: one scheduler
// goroutine runs model steps whose batch holds the next token of every
// decoding sequence plus prompt chunks of sequences still being prefilled.
// Sequences join and leave between steps, so a long generation never makes a
// new request wait for it, and one Forward call serves everyone at the cost
// of reading the weights once. A prompt is read once for all sequences
// submitted with it (the n choices of a request): the others share its KV
// blocks and compute only their last prompt position. Full KV blocks are
// published in the cache's prefix index as they fill, so a later prompt
// starting with the same tokens (a system prompt, a growing chat) attaches
// them instead of recomputing them.
type Engine struct {
	m     *model.Model
	tok   *tokenizer.Tokenizer
	opt   Options
	vocab int   // logits per row
	eog   []int // end-of-generation ids inside the logits row

	ctx    context.Context // ends with Close; aborts a running Forward
	cancel context.CancelFunc
	wake   chan struct{} // capacity 1: new work or a cancellation
	done   chan struct{} // closed when the scheduler has stopped

	mu      sync.Mutex
	closed  bool
	waiting []*seq // FIFO of requests without a slot
	nActive int    // sequences holding a slot (admitted, not yet released)

	// cacheMu guards cache; only the scheduler uses the cache, the lock
	// exists so tests can inspect slot lengths safely.
	cacheMu sync.Mutex
	cache   *model.Cache
	stats   stepStats // guarded by cacheMu

	// Owned by the scheduler goroutine.
	slots  []slotState
	active []*seq     // admission order, which is also prefill priority
	timing stepTiming // what steps have cost, for StepTarget
}

// slotState is what the scheduler knows about one KV cache slot.
type slotState struct {
	seq *seq
}

// New starts an engine on m. The model and tokenizer must stay usable until
// Close returns.
func New(m *model.Model, tok *tokenizer.Tokenizer, opt Options) *Engine {
	opt = opt.withDefaults(m.Config.CtxTrain)
	cache, err := m.NewCacheWith(opt.Parallel, opt.Ctx, opt.KV)
	if err != nil {
		// withDefaults leaves only valid options; keep serving anyway.
		slog.Error("engine: KV cache options refused, using the defaults", "err", err)
		cache = m.NewCache(opt.Parallel, opt.Ctx)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		m:      m,
		tok:    tok,
		opt:    opt,
		vocab:  m.Config.Vocab,
		ctx:    ctx,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		cache:  cache,
		slots:  make([]slotState, opt.Parallel),
	}
	for _, id := range tok.EOG() {
		if id >= 0 && id < e.vocab {
			e.eog = append(e.eog, id)
		}
	}
	go e.loop()
	return e
}

// Close stops the scheduler. Streams still running or waiting end with an
// event whose Err is ErrClosed; Submit then returns ErrClosed. Close waits
// for the scheduler, not for consumers to read their channels.
func (e *Engine) Close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	<-e.done
}

// Ctx returns the positions per slot: a request's prompt plus its generated
// tokens must fit in it.
func (e *Engine) Ctx() int { return e.opt.Ctx }

// KVBytes is the memory the engine's KV cache can grow to.
func (e *Engine) KVBytes() int64 { return e.cache.MaxBytes() }

// Capacity is how many requests may be submitted and unfinished at once
// (running plus waiting): Parallel + Queue. A caller splitting one client
// request into several can tell a request that can never be admitted from
// a busy engine.
func (e *Engine) Capacity() int { return e.opt.Parallel + e.opt.Queue }

// Options returns the effective options (defaults filled in).
func (e *Engine) Options() Options { return e.opt }

// Submit queues r and returns its event stream. The channel is closed after
// the event with Finish or Err set; when ctx ends first (the client went
// away) the sequence is dropped before the next step, its KV slot is cleared
// and the channel is closed without a Finish event.
//
// Submit fails at once with ErrQueueFull when Parallel sequences run and Queue
// more wait, ErrPromptTooLong when the prompt leaves no room to generate
// (len(Prompt) >= Ctx), ErrClosed after Close, or a validation error.
func (e *Engine) Submit(ctx context.Context, r GenRequest) (<-chan Event, error) {
	if err := e.validate(&r); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("engine: request already cancelled: %w", err)
	}
	// The scheduler reads these later; the caller may reuse its slices.
	r.Prompt, r.Stop, r.StopTokens = slices.Clone(r.Prompt), slices.Clone(r.Stop), slices.Clone(r.StopTokens)
	s := newSeq(ctx, r)
	e.mu.Lock()
	switch {
	case e.closed:
		e.mu.Unlock()
		return nil, ErrClosed
	case len(e.waiting)+e.nActive >= e.opt.Parallel+e.opt.Queue:
		e.mu.Unlock()
		return nil, ErrQueueFull
	}
	// The watch is set before the scheduler can see s, so a cancellation
	// always wakes it (an idle scheduler has nothing else to wake it).
	s.unwatch = context.AfterFunc(ctx, e.signal)
	e.waiting = append(e.waiting, s)
	e.mu.Unlock()

	ch := make(chan Event, 8)
	go s.out.drain(ctx, ch)
	e.signal()
	return ch, nil
}

func (e *Engine) validate(r *GenRequest) error {
	switch {
	case len(r.Prompt) == 0:
		return errors.New("engine: empty prompt")
	case r.MaxTokens < 1:
		return fmt.Errorf("engine: max tokens %d, want at least 1", r.MaxTokens)
	case r.TopLogprobs < 0:
		return fmt.Errorf("engine: top logprobs %d, want >= 0", r.TopLogprobs)
	case len(r.Prompt) >= e.opt.Ctx:
		return fmt.Errorf("%w: %d prompt tokens, %d positions per slot", ErrPromptTooLong, len(r.Prompt), e.opt.Ctx)
	}
	for i, id := range r.Prompt {
		if id < 0 || id >= e.vocab {
			return fmt.Errorf("engine: prompt token %d is id %d, outside the vocabulary [0, %d)", i, id, e.vocab)
		}
	}
	for i, id := range r.StopTokens {
		if id < 0 || id >= e.vocab {
			return fmt.Errorf("engine: stop token %d is id %d, outside the vocabulary [0, %d)", i, id, e.vocab)
		}
	}
	return nil
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// loop is the scheduler goroutine.
func (e *Engine) loop() {
	defer close(e.done)
	for {
		admit, closed := e.takeWaiting()
		if closed {
			e.shutdown()
			return
		}
		for _, s := range admit {
			e.admit(s)
		}
		for _, s := range slices.Clone(e.active) {
			if s.ctx.Err() != nil {
				s.out.end()
				e.release(s, false)
			}
		}
		if len(e.active) == 0 {
			select {
			case <-e.wake:
			case <-e.ctx.Done():
			}
			continue
		}
		e.step()
	}
}

// takeWaiting drops cancelled requests from the queue and removes those that
// get a free slot now.
func (e *Engine) takeWaiting() (admit []*seq, closed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, true
	}
	kept := e.waiting[:0]
	for _, s := range e.waiting {
		if s.ctx.Err() != nil {
			s.out.end()
			s.unwatch()
			continue
		}
		kept = append(kept, s)
	}
	clear(e.waiting[len(kept):])
	e.waiting = kept
	for len(e.waiting) > 0 && len(e.active)+len(admit) < len(e.slots) {
		admit = append(admit, e.waiting[0])
		e.waiting[0] = nil
		e.waiting = e.waiting[1:]
		e.nActive++
	}
	return admit, false
}

// shutdown fails every running and waiting request with ErrClosed.
func (e *Engine) shutdown() {
	e.mu.Lock()
	waiting := e.waiting
	e.waiting = nil
	e.mu.Unlock()
	for _, s := range slices.Clone(e.active) {
		e.fail(s, ErrClosed)
	}
	for _, s := range waiting {
		s.out.push(Event{Err: ErrClosed}, true)
		s.unwatch()
	}
}

// admit gives s a free slot, attaches the longest run of cached KV blocks
// that starts its prompt, then lets it follow a running sequence that holds
// or is computing a longer prefix of its prompt.
func (e *Engine) admit(s *seq) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("engine: panic admitting a request", "panic", r)
			err := fmt.Errorf("engine: internal error admitting the request: %v", r)
			if slices.Contains(e.active, s) { // it holds a slot: free it
				e.fail(s, err)
				return
			}
			s.out.push(Event{Err: err}, true)
			s.unwatch()
			e.mu.Lock()
			e.nActive--
			e.mu.Unlock()
		}
	}()
	slot := slices.IndexFunc(e.slots, func(st slotState) bool { return st.seq == nil })
	reuse := 0
	e.cacheMu.Lock()
	if !s.req.PromptLogprobs { // those need logits of every prompt position
		// At least the last prompt token is recomputed: its logits are
		// needed.
		reuse = min(e.cache.AttachPrefix(slot, s.req.Prompt), len(s.req.Prompt)-1)
	}
	e.cache.Truncate(slot, reuse)
	e.stats.reused += reuse
	e.cacheMu.Unlock()
	e.slots[slot].seq = s
	s.start(e, slot, reuse)
	s.cached = reuse
	e.active = append(e.active, s)
	e.pickLeader(s, reuse)
}

// pickLeader makes s follow the running sequence that will hold the longest
// prefix of its prompt, when that beats the reuse positions s has already:
// the server submits the n choices of one prompt back to back, and this is
// how their prompt is evaluated once. Followers are not leaders (the first
// of a group is), and a PromptLogprobs request never follows, since it
// needs the logits of every prompt position.
func (e *Engine) pickLeader(s *seq, reuse int) {
	if s.req.PromptLogprobs {
		return
	}
	var leader *seq
	share := reuse
	for _, l := range e.active {
		if l == s || l.leader != nil || l.gone {
			continue
		}
		if n := min(commonPrefix(l.known(), s.req.Prompt), len(s.req.Prompt)-1); n > share {
			leader, share = l, n
		}
	}
	if leader != nil {
		s.leader, s.share = leader, share
		e.follow(s)
	}
}

// follow copies the shared prefix from the leader of s into s's slot once
// the leader's slot holds it, or, when the leader is leaving, whatever part
// of it the leader's slot holds (s computes the rest itself). It reports
// whether s still waits.
func (e *Engine) follow(s *seq) bool {
	l := s.leader
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	have := min(commonPrefix(l.fed, s.req.Prompt), e.cache.Len(l.slot), s.share)
	if have < s.share && !l.gone {
		return true
	}
	s.leader, s.share = nil, 0
	if have <= len(s.fed) {
		return false
	}
	if err := e.cache.CopyPrefix(l.slot, s.slot, have); err != nil {
		// Not expected (have is within the leader's slot); s then
		// computes its prompt itself from what its slot holds.
		slog.Error("engine: sharing a prompt prefix failed", "err", err)
		return false
	}
	e.stats.shared += have - len(s.fed)
	s.fed = append(s.fed[:0], s.req.Prompt[:have]...)
	return false
}

// followUp resolves the followers of l (nil: of every leader) whose prefix
// may now be ready.
func (e *Engine) followUp(l *seq) {
	for _, s := range e.active {
		if s.leader != nil && (l == nil || s.leader == l) {
			e.follow(s)
		}
	}
}

func commonPrefix(a, b []int) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// publish registers the full KV blocks s's slot holds in the prefix index.
func (e *Engine) publish(s *seq) {
	e.cacheMu.Lock()
	if e.cache.Len(s.slot) == len(s.fed) {
		e.cache.Publish(s.slot, s.fed)
	}
	e.cacheMu.Unlock()
}

// release takes s out of the batch and clears its slot. keep first
// publishes its blocks, so they stay cached for prefix reuse (until the
// pool needs them); a failed or cancelled sequence's are freed at once.
func (e *Engine) release(s *seq, keep bool) {
	if s.gone {
		return
	}
	s.gone = true
	// Followers take what they can from the slot before it is reused.
	e.followUp(s)
	if i := slices.Index(e.active, s); i >= 0 {
		e.active = slices.Delete(e.active, i, i+1)
	}
	e.slots[s.slot].seq = nil
	if keep {
		e.publish(s)
	}
	e.cacheMu.Lock()
	e.stats.lastLen = e.cache.Len(s.slot)
	e.cache.Clear(s.slot)
	e.cacheMu.Unlock()
	s.unwatch()
	e.mu.Lock()
	e.nActive--
	e.mu.Unlock()
}

// fail ends s with err and frees its slot.
func (e *Engine) fail(s *seq, err error) {
	e.release(s, false) // before the client sees the end, as in finish
	s.out.push(Event{Err: err, PromptTokenCount: len(s.req.Prompt), CompletionTokens: s.generated}, true)
}

// work is one sequence's share of a step.
type work struct {
	s      *seq
	decode bool
	p0, n  int // prefill: prompt positions [p0, p0+n)
	row    int // index of its first logits row
	rows   int
}

// step runs one batch: decode tokens first (they keep streams flowing),
// then prompt chunks within MaxBatchTokens.
func (e *Engine) step() {
	// forward and process recover on their own; this catches a bug in the
	// bookkeeping around them, failing the running sequences instead of
	// taking the server down.
	defer func() {
		if r := recover(); r != nil {
			slog.Error("engine: panic in a scheduler step", "panic", r)
			for _, s := range slices.Clone(e.active) {
				e.fail(s, fmt.Errorf("engine: internal error: %v", r))
			}
		}
	}()
	b := &model.Batch{}
	var works []work
	rows := 0
	add := func(tok, pos, slot int, out bool) {
		b.Tokens = append(b.Tokens, tok)
		b.Pos = append(b.Pos, pos)
		b.Seq = append(b.Seq, slot)
		b.Output = append(b.Output, out)
		if out {
			rows++
		}
	}
	budget := e.opt.MaxBatchTokens
	for _, s := range e.active {
		if s.prefilling() {
			continue
		}
		works = append(works, work{s: s, decode: true, row: rows, rows: 1})
		add(s.next, len(s.fed), s.slot, true)
		budget--
	}
	decoding := len(b.Tokens)
	if decoding > 0 && e.opt.StepTarget > 0 {
		budget = min(budget, e.timing.promptBudget(e.opt.StepTarget))
	}
	for _, s := range e.active {
		if budget <= 0 {
			break
		}
		if !s.prefilling() || s.leader != nil {
			continue
		}
		p0 := len(s.fed)
		n := min(len(s.req.Prompt)-p0, budget)
		budget -= n
		w := work{s: s, p0: p0, n: n, row: rows}
		for i := p0; i < p0+n; i++ {
			out := s.req.PromptLogprobs || i == len(s.req.Prompt)-1
			add(s.req.Prompt[i], i, s.slot, out)
		}
		w.rows = rows - w.row
		works = append(works, w)
	}
	if len(b.Tokens) == 0 {
		return
	}
	start := time.Now()
	logits, err := e.forward(b, works)
	if err != nil {
		if e.ctx.Err() != nil {
			return // Close: the loop fails everyone with ErrClosed
		}
		slog.Error("engine: model step failed", "err", err, "tokens", len(b.Tokens))
		for _, w := range works {
			e.fail(w.s, fmt.Errorf("engine: model step: %w", err))
		}
		return
	}
	e.timing.observe(len(b.Tokens)-decoding, time.Since(start))
	picks := e.chooseAll(works, logits)
	for i, w := range works {
		e.process(w, logits[w.row:w.row+w.rows], picks[i])
	}
	e.followUp(nil)
}

// stepStats counts what the steps held, so tests can see that batches
// really mixed sequences and respected the token budget.
type stepStats struct {
	steps     int
	mixed     int // steps with decode tokens and a prompt chunk together
	maxTokens int // largest batch
	// maxMixedPrompt is the most prompt tokens a step with decoding
	// sequences carried.
	maxMixedPrompt int
	maxSeqs        int // most sequences in one batch
	reused         int // prompt positions taken from the prefix cache
	shared         int // prompt positions copied from a running sequence's slot
	prompt         int // prompt positions run through the model
	lastLen        int // positions the slot of the last released sequence held
}

// forward runs the model step, turning a panic into an error so one bad
// step fails its sequences instead of the server.
func (e *Engine) forward(b *model.Batch, works []work) (out [][]float32, err error) {
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	st := &e.stats
	st.steps++
	if works[0].decode && !works[len(works)-1].decode {
		st.mixed++
	}
	st.maxTokens = max(st.maxTokens, len(b.Tokens))
	st.maxSeqs = max(st.maxSeqs, len(works))
	prompt := 0
	for _, w := range works {
		prompt += w.n
	}
	st.prompt += prompt
	if works[0].decode {
		st.maxMixedPrompt = max(st.maxMixedPrompt, prompt)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("panic in forward: %v", r)
		}
	}()
	return e.m.Forward(e.ctx, e.cache, b)
}

// sampled is the index among w's logits rows of the position a token is
// sampled from in this step, or -1: the decode row, or a prompt's last
// position (the only row unless prompt logprobs asked for all).
func (w work) sampled() int {
	if w.decode {
		return 0
	}
	last := len(w.s.req.Prompt) - 1
	switch {
	case w.p0+w.n-1 != last:
		return -1
	case w.s.req.PromptLogprobs:
		return last - w.p0
	}
	return 0
}

// chooseAll runs choose for every work of a step that samples, spread over
// the model's workers; a panic fails only its sequence (see process).
func (e *Engine) chooseAll(works []work, logits [][]float32) []pick {
	picks := make([]pick, len(works))
	var todo []int
	for i, w := range works {
		if w.sampled() >= 0 {
			todo = append(todo, i)
		}
	}
	e.m.Workers().For(len(todo), 1, func(_, lo, hi int) {
		for _, i := range todo[lo:hi] {
			w := works[i]
			func() {
				defer func() {
					if r := recover(); r != nil {
						picks[i] = pick{caught: r}
					}
				}()
				picks[i] = e.choose(w.s, logits[w.row+w.sampled()])
			}()
		}
	})
	return picks
}

// process applies a step's result to one sequence. A panic (a bug, or a
// misbehaving Constraint) fails that sequence only.
func (e *Engine) process(w work, rows [][]float32, p pick) {
	s := w.s
	defer func() {
		if r := recover(); r != nil {
			slog.Error("engine: panic processing a sequence", "panic", r)
			if !s.gone {
				e.fail(s, fmt.Errorf("engine: internal error: %v", r))
			}
		}
	}()
	if w.decode {
		s.fed = append(s.fed, s.next)
		s.next = -1
		e.publish(s)
		e.advance(s, p)
		return
	}
	s.fed = append(s.fed, s.req.Prompt[w.p0:w.p0+w.n]...)
	e.publish(s)
	last := len(s.req.Prompt) - 1
	if !s.req.PromptLogprobs {
		if w.p0+w.n-1 == last {
			e.advance(s, p)
		}
		return
	}
	for j, row := range rows {
		pos := w.p0 + j
		if pos == last {
			e.advance(s, p)
			return
		}
		s.promptToks = append(s.promptToks, e.token(s.req.Prompt[pos+1], row, true, s.req.TopLogprobs))
	}
}
