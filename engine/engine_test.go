package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/internal/testmodels"
	"github.com/kiln-llm/kiln/model"
	"github.com/kiln-llm/kiln/sample"
	"github.com/kiln-llm/kiln/tokenizer"
)

// loadStoriesTok loads stories260K with its tokenizer.
func loadStoriesTok(t testing.TB) (*model.Model, *tokenizer.Tokenizer) {
	t.Helper()
	return openModelTok(t, testmodels.Path(t, "stories260K.gguf"))
}

func openModelTok(t testing.TB, path string) (*model.Model, *tokenizer.Tokenizer) {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	// F32 keys and values: several tests hold the engine to llama.cpp's
	// logprobs within 1e-4 (TestPrefixCacheSystemPrompt covers F16, Q8_0).
	m, err := model.Load(f, model.Options{Workers: 2, KV: model.KVF32})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return m, tok
}

func newEngine(t testing.TB, m *model.Model, tok *tokenizer.Tokenizer, opt Options) *Engine {
	t.Helper()
	e := New(m, tok, opt)
	t.Cleanup(e.Close)
	return e
}

// result is a whole stream, gathered.
type result struct {
	events []Event
	text   string
	ids    []int
	tokens []Token
	prompt []Token
	last   Event
}

// collect reads ch until it is closed. It fails the test on a stream that
// goes on after its final event or takes unreasonably long.
func collect(t testing.TB, ch <-chan Event) result {
	t.Helper()
	var r result
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return r
			}
			if r.last.Finish != "" || r.last.Err != nil {
				t.Errorf("event after the final one: %+v", ev)
			}
			r.events = append(r.events, ev)
			r.text += ev.Text
			r.tokens = append(r.tokens, ev.Tokens...)
			for _, tk := range ev.Tokens {
				r.ids = append(r.ids, tk.ID)
			}
			if ev.PromptTokens != nil {
				if r.prompt != nil || len(r.events) > 1 {
					t.Errorf("prompt tokens in event %d", len(r.events))
				}
				r.prompt = ev.PromptTokens
			}
			r.last = ev
		case <-timeout:
			t.Fatal("stream did not end within 2 minutes")
		}
	}
}

func submit(t testing.TB, e *Engine, r GenRequest) result {
	t.Helper()
	ch, err := e.Submit(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	res := collect(t, ch)
	if res.last.Err != nil {
		t.Fatalf("stream failed: %v", res.last.Err)
	}
	return res
}

// solo is the reference continuation: the single-sequence Generate path.
func solo(t testing.TB, m *model.Model, tok *tokenizer.Tokenizer, prompt []int, n int) ([]int, FinishReason) {
	t.Helper()
	var got []int
	cache := m.NewCache(1, len(prompt)+n)
	reason, err := Generate(context.Background(), m, cache, 0, Request{
		Prompt: prompt, MaxTokens: n, Pick: sample.Greedy, IsEnd: tok.IsEOG,
		Emit: func(id int) error { got = append(got, id); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, reason
}

// slotLens reads the cache's slot lengths (test hook).
func (e *Engine) slotLens() []int {
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	n := make([]int, e.cache.Slots())
	for i := range n {
		n[i] = e.cache.Len(i)
	}
	return n
}

// load reports waiting and slot-holding sequences (test hook).
func (e *Engine) load() (waiting, active int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.waiting), e.nActive
}

// eventually polls cond for up to 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSubmitGolden(t *testing.T) {
	m, tok := loadStoriesTok(t)
	e := newEngine(t, m, tok, Options{Parallel: 2, Ctx: 256})
	r := submit(t, e, GenRequest{Prompt: []int{1}, MaxTokens: len(golden)})
	if !slices.Equal(r.ids, golden) {
		t.Fatalf("ids %v\nwant golden %v", r.ids, golden)
	}
	if want := tok.Decode(golden, false); r.text != want {
		t.Errorf("text %q, want %q", r.text, want)
	}
	if r.last.Finish != FinishLength || r.last.PromptTokenCount != 1 || r.last.CompletionTokens != len(golden) {
		t.Errorf("final event: finish %q, usage %d+%d", r.last.Finish, r.last.PromptTokenCount, r.last.CompletionTokens)
	}
	for i, ev := range r.events {
		if !utf8.ValidString(ev.Text) {
			t.Errorf("event %d text %q is not valid UTF-8", i, ev.Text)
		}
	}
	// The finished sequence's slot held the prompt and every generated
	// token but the last (which was never fed back); its full blocks stay
	// cached for prefix reuse, the slots are free.
	e.cacheMu.Lock()
	last, st := e.stats.lastLen, e.cache.Stats()
	e.cacheMu.Unlock()
	if last != len(golden) || st.InUse != 0 || st.Cached != len(golden)/st.BlockSize {
		t.Errorf("released slot held %d positions, want %d; pool %+v, want %d cached blocks",
			last, len(golden), st, len(golden)/st.BlockSize)
	}
}

// Eight requests on three slots with a small step budget: prompt chunks,
// decode tokens and waiting requests all mix. Every stream must equal the
// same request run alone, greedy (also against Generate) and seeded.
func TestConcurrentEqualsSolo(t *testing.T) {
	m, tok := loadStoriesTok(t)
	ref := loadReference(t)
	var reqs []GenRequest
	for i, c := range ref.Cases {
		reqs = append(reqs, GenRequest{Prompt: c.Prompt, MaxTokens: 12 + 5*i})
	}
	reqs = append(reqs,
		GenRequest{Prompt: []int{1}, MaxTokens: 30, Sampling: sample.Params{Temperature: 0.9, Seed: 7}},
		GenRequest{Prompt: ref.Cases[4].Prompt, MaxTokens: 25, Sampling: sample.Params{Temperature: 1.2, Seed: 99}},
	)
	opt := Options{Parallel: 3, Queue: 8, Ctx: 256, MaxBatchTokens: 16}

	alone := newEngine(t, m, tok, Options{Parallel: 1, Ctx: 256, MaxBatchTokens: 16})
	want := make([]result, len(reqs))
	for i, r := range reqs {
		want[i] = submit(t, alone, r)
		if r.Sampling.Temperature == 0 {
			ids, reason := solo(t, m, tok, r.Prompt, r.MaxTokens)
			if !slices.Equal(want[i].ids, ids) || want[i].last.Finish != reason {
				t.Fatalf("request %d: engine %v (%s), Generate %v (%s)", i, want[i].ids, want[i].last.Finish, ids, reason)
			}
		}
	}

	e := newEngine(t, m, tok, opt)
	chans := make([]<-chan Event, len(reqs))
	for i, r := range reqs {
		ch, err := e.Submit(context.Background(), r)
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		chans[i] = ch
	}
	got := make([]result, len(reqs))
	var wg sync.WaitGroup
	for i, ch := range chans {
		wg.Go(func() { got[i] = collect(t, ch) })
	}
	wg.Wait()
	for i := range reqs {
		g, w := got[i], want[i]
		if g.last.Err != nil {
			t.Errorf("request %d failed: %v", i, g.last.Err)
			continue
		}
		if !slices.Equal(g.ids, w.ids) || g.text != w.text || g.last.Finish != w.last.Finish {
			t.Errorf("request %d batched: %v %q (%s)\nalone: %v %q (%s)", i, g.ids, g.text, g.last.Finish, w.ids, w.text, w.last.Finish)
		}
		if g.last.CompletionTokens != len(g.ids) || g.last.PromptTokenCount != len(reqs[i].Prompt) {
			t.Errorf("request %d usage %d+%d, want %d+%d", i, g.last.PromptTokenCount, g.last.CompletionTokens, len(reqs[i].Prompt), len(g.ids))
		}
	}
	if w, a := e.load(); w != 0 || a != 0 {
		t.Errorf("after all streams: %d waiting, %d active", w, a)
	}
	e.cacheMu.Lock()
	st := e.stats
	e.cacheMu.Unlock()
	t.Logf("%d steps, %d mixing decode and prefill, at most %d tokens and %d sequences per step", st.steps, st.mixed, st.maxTokens, st.maxSeqs)
	if st.mixed == 0 || st.maxSeqs != opt.Parallel || st.maxTokens > opt.MaxBatchTokens {
		t.Errorf("steps did not batch as configured: %+v", st)
	}
}

func TestQueueFullAndQueuedCancel(t *testing.T) {
	m, tok := loadStoriesTok(t)
	e := newEngine(t, m, tok, Options{Parallel: 1, Queue: 1, Ctx: 128})
	req := GenRequest{Prompt: []int{1}, MaxTokens: 20}
	// Holding the cache stalls the scheduler, so nothing can finish while
	// the queue fills.
	e.cacheMu.Lock()
	a, err := e.Submit(context.Background(), req)
	if err != nil {
		e.cacheMu.Unlock()
		t.Fatal(err)
	}
	ctxB, cancelB := context.WithCancel(context.Background())
	b, err := e.Submit(ctxB, req)
	if err != nil {
		e.cacheMu.Unlock()
		t.Fatal(err)
	}
	_, errC := e.Submit(context.Background(), req)
	cancelB()
	e.cacheMu.Unlock()
	if !errors.Is(errC, ErrQueueFull) {
		t.Fatalf("third request with Parallel 1, Queue 1: err %v, want ErrQueueFull", errC)
	}
	if rb := collect(t, b); len(rb.events) != 0 {
		t.Errorf("cancelled queued request got events %+v", rb.events)
	}
	ra := collect(t, a)
	if ra.last.Finish != FinishLength || !slices.Equal(ra.ids, golden[:20]) {
		t.Errorf("first request: %v (%s), want golden[:20]", ra.ids, ra.last.Finish)
	}
	eventually(t, "an empty queue", func() bool { w, a := e.load(); return w == 0 && a == 0 })
	if r := submit(t, e, req); !slices.Equal(r.ids, golden[:20]) {
		t.Errorf("request after the queue drained: %v", r.ids)
	}
}

func TestCancelFreesSlot(t *testing.T) {
	m, tok := loadStoriesTok(t)
	e := newEngine(t, m, tok, Options{Parallel: 1, Ctx: 512})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := e.Submit(ctx, GenRequest{Prompt: []int{1}, MaxTokens: 500, IgnoreEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; ev.Text == "" || ev.Finish != "" {
		t.Fatalf("first event %+v", ev)
	}
	e.cacheMu.Lock() // at most one more step runs before the cancellation is seen
	cancel()
	e.cacheMu.Unlock()
	for ev := range ch {
		if ev.Finish != "" || ev.Err != nil {
			t.Fatalf("cancelled stream ended with %+v", ev)
		}
	}
	eventually(t, "the slot to be cleared", func() bool {
		_, a := e.load()
		return a == 0 && e.slotLens()[0] == 0
	})
	r := submit(t, e, GenRequest{Prompt: []int{1}, MaxTokens: 40})
	if !slices.Equal(r.ids, golden[:40]) {
		t.Errorf("next request: %v, want golden[:40]", r.ids)
	}
}

// A prompt extending a finished sequence reuses the full KV blocks it
// shares with it and continues exactly as from scratch; PromptLogprobs
// requests never reuse.
func TestPrefixReuse(t *testing.T) {
	m, tok := loadStoriesTok(t)
	e := newEngine(t, m, tok, Options{Parallel: 2, Ctx: 128})
	reused := func() int { e.cacheMu.Lock(); defer e.cacheMu.Unlock(); return e.stats.reused }
	a := submit(t, e, GenRequest{Prompt: append([]int{1}, golden[:30]...), MaxTokens: 10})
	if !slices.Equal(a.ids, golden[30:40]) {
		t.Fatalf("first request %v", a.ids)
	}
	// Cached: BOS, golden[:30] and the 9 generated tokens fed back, 40
	// positions of which the first 2 blocks of 16 are full.
	b := submit(t, e, GenRequest{Prompt: append([]int{1}, golden[:45]...), MaxTokens: 10})
	if !slices.Equal(b.ids, golden[45:55]) {
		t.Errorf("continuation after reuse %v, want %v", b.ids, golden[45:55])
	}
	if got := reused(); got != 32 || b.last.CachedTokens != 32 {
		t.Errorf("reused %d positions (reported %d), want 32", got, b.last.CachedTokens)
	}
	c := submit(t, e, GenRequest{Prompt: append([]int{1}, golden[:45]...), MaxTokens: 10, PromptLogprobs: true})
	if !slices.Equal(c.ids, golden[45:55]) || len(c.prompt) != 46 {
		t.Errorf("prompt-logprobs request: %v with %d prompt tokens", c.ids, len(c.prompt))
	}
	if got := reused(); got != 32 || c.last.CachedTokens != 0 {
		t.Errorf("a PromptLogprobs request reused a prefix (%d positions reused in all, %d reported)", got, c.last.CachedTokens)
	}
	// The same prompt again: only its full blocks can match (2 of 16).
	d := submit(t, e, GenRequest{Prompt: append([]int{1}, golden[:45]...), MaxTokens: 10})
	if !slices.Equal(d.ids, golden[45:55]) {
		t.Errorf("repeated prompt: %v", d.ids)
	}
	if got := reused(); got != 32+32 || d.last.CachedTokens != 32 {
		t.Errorf("reused %d positions in all (%d reported), want %d", got, d.last.CachedTokens, 32+32)
	}
	// A prompt of exactly 3 blocks, all cached: the last token is still
	// recomputed, for its logits.
	f := submit(t, e, GenRequest{Prompt: append([]int{1}, golden[:47]...), MaxTokens: 5})
	if !slices.Equal(f.ids, golden[47:52]) {
		t.Errorf("fully cached prompt: %v", f.ids)
	}
	if got := reused(); got != 64+47 || f.last.CachedTokens != 47 {
		t.Errorf("fully cached prompt: %d reported, %d in all, want 47 and %d", f.last.CachedTokens, got, 64+47)
	}
}

// TestPrefixCacheSystemPrompt sends two requests sharing a 1000-token
// system prompt (with a different question each) and then the first again:
// the later ones attach the prompt's full KV blocks and compute only the
// rest (asserted on the engine's counters and the reported CachedTokens),
// and every output is token for token the uncached run's (greedy).
func TestPrefixCacheSystemPrompt(t *testing.T) {
	m, tok := loadStoriesTok(t)
	rng := rand.New(rand.NewPCG(11, 12))
	words := func(n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = 3 + rng.IntN(m.Config.Vocab-3) // no BOS/EOS
		}
		return s
	}
	sysLen, kvs := 1000, []model.KVType{model.KVF32, model.KVF16, model.KVQ8_0}
	if testing.Short() || raceEnabled {
		sysLen, kvs = 400, kvs[1:2] // 37 s under -race otherwise
	}
	system := append([]int{1}, words(sysLen-1)...)
	q1 := append(slices.Clone(system), words(20)...)
	q2 := append(slices.Clone(system), words(25)...)
	const gen = 16
	for _, kv := range kvs {
		t.Run(kv.String(), func(t *testing.T) { testSystemPrompt(t, m, tok, kv, q1, q2, gen) })
	}
}

func testSystemPrompt(t *testing.T, m *model.Model, tok *tokenizer.Tokenizer, kv model.KVType, q1, q2 []int, gen int) {
	e := newEngine(t, m, tok, Options{Parallel: 2, Ctx: len(q2) + gen + 8, KV: model.CacheOptions{Type: kv}})
	stats := func() stepStats { e.cacheMu.Lock(); defer e.cacheMu.Unlock(); return e.stats }
	// The uncached run: one sequence on a fresh cache of the same type.
	solo := func(prompt []int) []int {
		var got []int
		cache, err := m.NewCacheWith(1, len(prompt)+gen, model.CacheOptions{Type: kv})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Generate(context.Background(), m, cache, 0, Request{
			Prompt: prompt, MaxTokens: gen, Pick: sample.Greedy, IsEnd: func(int) bool { return false },
			Emit: func(id int) error { got = append(got, id); return nil },
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	run := func(prompt []int, wantCached int) {
		t.Helper()
		before := stats()
		r := submit(t, e, GenRequest{Prompt: prompt, MaxTokens: gen, IgnoreEOS: true})
		after := stats()
		want := solo(prompt)
		if !slices.Equal(r.ids, want) {
			t.Errorf("%d-token prompt, %d cached: %v, uncached %v", len(prompt), wantCached, r.ids, want)
		}
		if r.last.CachedTokens != wantCached || after.reused-before.reused != wantCached {
			t.Errorf("%d-token prompt: %d cached tokens reported, %d counted, want %d",
				len(prompt), r.last.CachedTokens, after.reused-before.reused, wantCached)
		}
		if ran := after.prompt - before.prompt; ran != len(prompt)-wantCached {
			t.Errorf("%d-token prompt: %d positions computed, want %d", len(prompt), ran, len(prompt)-wantCached)
		}
	}
	run(q1, 0)
	// The shared tokens' full blocks of 16 (with 1000: 62, 992 positions);
	// the next block mixes the system prompt with the first question.
	bs := model.DefaultBlockSize
	run(q2, (len(q1)-20)/bs*bs)
	// q1 again: its full prompt blocks are cached (with 1000: 63, 1008
	// positions; only full blocks of the new prompt can match).
	run(q1, min(len(q1)/bs*bs, len(q1)-1))
}

// A consumer that does not read must not hold up the others, and loses
// nothing: its events wait for it.
func TestStalledConsumer(t *testing.T) {
	m, tok := loadStoriesTok(t)
	e := newEngine(t, m, tok, Options{Parallel: 2, Ctx: 128})
	stalled, err := e.Submit(context.Background(), GenRequest{Prompt: []int{1}, MaxTokens: len(golden)})
	if err != nil {
		t.Fatal(err)
	}
	r := submit(t, e, GenRequest{Prompt: []int{1, golden[0]}, MaxTokens: 40})
	if !slices.Equal(r.ids, golden[1:41]) {
		t.Errorf("reading request: %v", r.ids)
	}
	eventually(t, "the unread request to finish", func() bool { _, a := e.load(); return a == 0 })
	s := collect(t, stalled)
	if !slices.Equal(s.ids, golden) || s.last.Finish != FinishLength || s.text != tok.Decode(golden, false) {
		t.Errorf("unread request delivered %v (%s)", s.ids, s.last.Finish)
	}
}

func TestStopSequences(t *testing.T) {
	m, tok := loadStoriesTok(t)
	e := newEngine(t, m, tok, Options{Parallel: 2, Ctx: 256})
	full := tok.Decode(golden, false)
	tests := []struct {
		name   string
		stop   []string
		keep   bool
		text   string // expected text
		finish FinishReason
		match  string // the stop sequence that must end the last token's text ("" when none)
		cut    int    // tokens of the cut stop text, left out of Tokens
	}{
		{"cut mid-token", []string{"ttle gi"}, false, full[:strings.Index(full, "ttle gi")], FinishStop, "ttle gi", 2},
		{"keep mid-token", []string{"ttle gi"}, true, full[:strings.Index(full, "ttle gi")+7], FinishStop, "ttle gi", 0},
		{"earliest of two", []string{"park", "Lily"}, false, full[:strings.Index(full, "Lily")], FinishStop, "Lily", 0},
		{"newline byte token", []string{"\nLily"}, false, full[:strings.Index(full, "\nLily")], FinishStop, "\nLily", 3},
		{"at the start", []string{" Once"}, true, " Once", FinishStop, " Once", 0},
		{"prefix never completes", []string{"a little cat", "go to the moon"}, false, full, FinishLength, "", 0},
		{"empty stop ignored", []string{""}, false, full, FinishLength, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := submit(t, e, GenRequest{Prompt: []int{1}, MaxTokens: len(golden), Stop: tt.stop, KeepStop: tt.keep})
			if r.text != tt.text || r.last.Finish != tt.finish {
				t.Fatalf("text %q (%s)\nwant %q (%s)", r.text, r.last.Finish, tt.text, tt.finish)
			}
			n := r.last.CompletionTokens
			// Tokens whose text was cut with the stop sequence are not
			// reported: logprobs must describe the returned text. The
			// kept tokens spell the text, the last one possibly running
			// past it (a token straddling the cut).
			if !slices.Equal(r.ids, golden[:n-tt.cut]) {
				t.Errorf("tokens %v, want golden[:%d-%d]", r.ids, n, tt.cut)
			}
			if got := tok.Decode(r.ids, false); !strings.HasPrefix(got, tt.text) || (len(r.ids) > 0 && len(tok.Decode(r.ids[:len(r.ids)-1], false)) >= len(tt.text)) {
				t.Errorf("kept tokens spell %q, want the shortest run covering %q", got, tt.text)
			}
			if tt.match != "" && (strings.Contains(tok.Decode(golden[:n-1], false), tt.match) || !strings.Contains(tok.Decode(golden[:n], false), tt.match)) {
				t.Errorf("stopped after %d tokens, not at the token completing %q", n, tt.match)
			}
		})
	}
}

// A stop token ends the stream where it is sampled, like an end token: it is
// neither text nor a completion token, and nothing after it is generated.
func TestStopTokens(t *testing.T) {
	m, tok := loadStoriesTok(t)
	e := newEngine(t, m, tok, Options{Parallel: 2, Ctx: 256})
	// first returns where id first occurs in golden (-1: never).
	first := func(id int) int { return slices.Index(golden, id) }
	absent := -1
	for id := 3; id < m.Config.Vocab; id++ {
		if first(id) < 0 && !tok.IsEOG(id) {
			absent = id
			break
		}
	}
	a, b := golden[3], golden[15]
	if first(a) != 3 || first(b) != 15 {
		t.Fatalf("golden[3]=%d and golden[15]=%d do not first occur there", a, b)
	}
	tests := []struct {
		name   string
		stops  []int
		ignore bool
		n      int // tokens generated before the stop (len(golden): none)
		finish FinishReason
	}{
		{"one stop token", []int{a}, false, first(a), FinishStop},
		{"earliest of two", []int{b, a}, false, first(a), FinishStop},
		{"later one only", []int{b}, false, first(b), FinishStop},
		{"with ignore eos", []int{b}, true, first(b), FinishStop},
		{"never sampled", []int{absent}, false, len(golden), FinishLength},
		{"none", nil, false, len(golden), FinishLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := submit(t, e, GenRequest{Prompt: []int{1}, MaxTokens: len(golden), StopTokens: tt.stops, IgnoreEOS: tt.ignore, Logprobs: true})
			want := golden[:tt.n]
			if !slices.Equal(r.ids, want) || r.last.Finish != tt.finish {
				t.Fatalf("ids %v (%s)\nwant %v (%s)", r.ids, r.last.Finish, want, tt.finish)
			}
			if wt := tok.Decode(want, false); r.text != wt {
				t.Errorf("text %q, want %q", r.text, wt)
			}
			if r.last.CompletionTokens != tt.n || r.last.PromptTokenCount != 1 {
				t.Errorf("usage %d+%d, want 1+%d", r.last.PromptTokenCount, r.last.CompletionTokens, tt.n)
			}
		})
	}
	// The caller may reuse its slice after Submit.
	stops := []int{a}
	ch, err := e.Submit(context.Background(), GenRequest{Prompt: []int{1}, MaxTokens: len(golden), StopTokens: stops})
	if err != nil {
		t.Fatal(err)
	}
	stops[0] = absent
	if r := collect(t, ch); !slices.Equal(r.ids, golden[:3]) || r.last.Finish != FinishStop {
		t.Errorf("after the caller changed its slice: %v (%s), want golden[:3] (stop)", r.ids, r.last.Finish)
	}
}

// TestStopFilter checks the hold-back rule piece by piece, with multi-byte
// text where a stop prefix must not split a character.
func TestStopFilter(t *testing.T) {
	tests := []struct {
		name    string
		stops   []string
		keep    bool
		pieces  []string
		outs    []string // what each push releases
		stopped int      // index of the push that stops, -1 none
		flush   string
	}{
		{"no stops", nil, false, []string{"ab", "c"}, []string{"ab", "c"}, -1, ""},
		{"held then released", []string{"abc"}, false, []string{"xa", "b", "d"}, []string{"x", "", "abd"}, -1, ""},
		{"held then matched", []string{"abc"}, false, []string{"xa", "b", "cz"}, []string{"x", "", ""}, 2, ""},
		{"keep", []string{"abc"}, true, []string{"xa", "bcz"}, []string{"x", "abc"}, 1, ""},
		{"held at end", []string{"abc"}, false, []string{"xab"}, []string{"x"}, -1, "ab"},
		{"earliest end wins", []string{"abcd", "c"}, false, []string{"abcd"}, []string{"ab"}, 0, ""},
		{"overlapping prefix", []string{"aab"}, false, []string{"a", "a", "a", "b"}, []string{"", "", "a", ""}, 3, ""},
		{"multi-byte", []string{"é!"}, false, []string{"café", "?"}, []string{"caf", "é?"}, -1, ""},
		{"invalid stop never splits a character", []string{"\xa9"}, false, []string{"é"}, []string{"é"}, -1, ""},
		{"invalid stop matches the replacement character", []string{"a\xff"}, true, []string{"xa\uFFFDy"}, []string{"xa\uFFFD"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newStopFilter(tt.stops, tt.keep)
			stopped := -1
			for i, p := range tt.pieces {
				out, st := f.push(p)
				if out != tt.outs[i] {
					t.Errorf("push %d (%q): released %q, want %q", i, p, out, tt.outs[i])
				}
				if st {
					stopped = i
					break
				}
			}
			if stopped != tt.stopped {
				t.Errorf("stopped at push %d, want %d", stopped, tt.stopped)
			}
			if got := f.flush(); got != tt.flush {
				t.Errorf("flush %q, want %q", got, tt.flush)
			}
		})
	}
}

// bytesConstraint forces an exact byte string: a token is allowed when its
// bytes are a non-empty prefix of what is still missing.
type bytesConstraint struct {
	tok  *tokenizer.Tokenizer
	want []byte
	pos  int
}

func (c *bytesConstraint) Allow(allowed []bool) {
	rest := c.want[c.pos:]
	for id := range allowed {
		b := c.tok.TokenBytes(id)
		if c.tok.IsEOG(id) {
			allowed[id] = allowed[id] && len(rest) == 0
			continue
		}
		if len(b) == 0 || c.tok.IsControl(id) || !bytes.HasPrefix(rest, b) {
			allowed[id] = false
		}
	}
}

func (c *bytesConstraint) Accept(id int) error {
	b := c.tok.TokenBytes(id)
	if !bytes.HasPrefix(c.want[c.pos:], b) {
		return fmt.Errorf("token %d (%q) does not continue %q", id, b, c.want[c.pos:])
	}
	c.pos += len(b)
	return nil
}

func (c *bytesConstraint) Done() bool { return c.pos == len(c.want) }

// A constraint forcing text with characters the 512-token vocabulary only
// has as byte tokens: the output is exactly that text, no event splits a
// character, and the request ends as soon as the constraint is complete.
func TestConstraintAndUTF8(t *testing.T) {
	m, tok := loadStoriesTok(t)
	e := newEngine(t, m, tok, Options{Parallel: 2, Ctx: 128})
	want := "Once upon a café, 中文 ✓ end"
	r := submit(t, e, GenRequest{
		Prompt: []int{1}, MaxTokens: 100, Logprobs: true,
		Constraint: &bytesConstraint{tok: tok, want: []byte(want)},
	})
	if r.text != want || r.last.Finish != FinishStop {
		t.Fatalf("text %q (%s), want %q (stop)", r.text, r.last.Finish, want)
	}
	var all []byte
	partial := 0
	for _, tk := range r.tokens {
		all = append(all, tk.Bytes...)
		if !utf8.Valid(tk.Bytes) {
			partial++
		}
	}
	if string(all) != want || len(r.tokens) != r.last.CompletionTokens {
		t.Errorf("token bytes %q over %d tokens, usage %d", all, len(r.tokens), r.last.CompletionTokens)
	}
	if partial == 0 {
		t.Error("no token held a partial character: the test does not exercise UTF-8 hold-back")
	}
	sent := 0
	for i, ev := range r.events {
		if !utf8.ValidString(ev.Text) {
			t.Errorf("event %d text %q splits a character", i, ev.Text)
		}
		// An event's tokens are exactly those whose bytes its text completes.
		var b []byte
		for _, tk := range ev.Tokens {
			b = append(b, tk.Bytes...)
		}
		if string(b) != ev.Text {
			t.Errorf("event %d: text %q, tokens spell %q", i, ev.Text, b)
		}
		sent += len(ev.Tokens)
	}
	// Ended without one more model step: the last forced token was never fed.
	n := len(r.tokens)
	e.cacheMu.Lock()
	last := e.stats.lastLen
	e.cacheMu.Unlock()
	if last != n {
		t.Errorf("the slot held %d positions, want %d (prompt + all but the last token)", last, n)
	}
}

// A Constraint that panics fails its own request; the other one finishes.
type panicConstraint struct{}

func (panicConstraint) Allow([]bool)     { panic("constraint bug") }
func (panicConstraint) Accept(int) error { return nil }
func (panicConstraint) Done() bool       { return false }

func TestPanicIsolated(t *testing.T) {
	m, tok := loadStoriesTok(t)
	e := newEngine(t, m, tok, Options{Parallel: 2, Ctx: 128})
	bad, err := e.Submit(context.Background(), GenRequest{Prompt: []int{1}, MaxTokens: 10, Constraint: panicConstraint{}})
	if err != nil {
		t.Fatal(err)
	}
	good, err := e.Submit(context.Background(), GenRequest{Prompt: []int{1}, MaxTokens: 30})
	if err != nil {
		t.Fatal(err)
	}
	if rb := collect(t, bad); rb.last.Err == nil || !strings.Contains(rb.last.Err.Error(), "constraint bug") {
		t.Errorf("panicking request ended with %+v", rb.last)
	}
	if rg := collect(t, good); !slices.Equal(rg.ids, golden[:30]) {
		t.Errorf("other request: %v", rg.ids)
	}
	if got := e.slotLens(); got[0] != 0 && got[1] != 0 {
		t.Errorf("slot lengths %v: the failed request's slot was not cleared", got)
	}
}

func TestLengthAndValidation(t *testing.T) {
	m, tok := loadStoriesTok(t)
	e := newEngine(t, m, tok, Options{Parallel: 1, Ctx: 20})
	prompt := append([]int{1}, golden[:9]...)
	r := submit(t, e, GenRequest{Prompt: prompt, MaxTokens: 100})
	if r.last.Finish != FinishLength || !slices.Equal(r.ids, golden[9:19]) {
		t.Errorf("context exhaustion: %v (%s), want golden[9:19] (length)", r.ids, r.last.Finish)
	}
	tests := []struct {
		name string
		req  GenRequest
		is   error
	}{
		{"empty prompt", GenRequest{MaxTokens: 5}, nil},
		{"negative id", GenRequest{Prompt: []int{1, -1}, MaxTokens: 5}, nil},
		{"id past vocab", GenRequest{Prompt: []int{1, 512}, MaxTokens: 5}, nil},
		{"zero max tokens", GenRequest{Prompt: []int{1}}, nil},
		{"prompt fills the context", GenRequest{Prompt: make([]int, 20), MaxTokens: 1}, ErrPromptTooLong},
		{"stop token past vocab", GenRequest{Prompt: []int{1}, MaxTokens: 5, StopTokens: []int{3, 512}}, nil},
		{"negative stop token", GenRequest{Prompt: []int{1}, MaxTokens: 5, StopTokens: []int{-1}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Submit(context.Background(), tt.req)
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Errorf("err %v, want %v", err, tt.is)
			}
		})
	}
}

func TestClose(t *testing.T) {
	m, tok := loadStoriesTok(t)
	e := New(m, tok, Options{Parallel: 1, Ctx: 512})
	e.cacheMu.Lock()
	a, errA := e.Submit(context.Background(), GenRequest{Prompt: []int{1}, MaxTokens: 400})
	b, errB := e.Submit(context.Background(), GenRequest{Prompt: []int{1}, MaxTokens: 400})
	closed := make(chan struct{})
	go func() { e.Close(); close(closed) }()
	eventually(t, "Close to start", func() bool { e.mu.Lock(); defer e.mu.Unlock(); return e.closed })
	e.cacheMu.Unlock()
	<-closed
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	for i, ch := range []<-chan Event{a, b} {
		if r := collect(t, ch); !errors.Is(r.last.Err, ErrClosed) {
			t.Errorf("stream %d ended with %+v, want ErrClosed", i, r.last)
		}
	}
	if _, err := e.Submit(context.Background(), GenRequest{Prompt: []int{1}, MaxTokens: 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v", err)
	}
	e.Close() // a second Close is harmless
}

// reference is $KILN_TEST_MODELS/../reference/logits/stories260K.json.
type reference struct {
	Cases []struct {
		Name      string  `json:"name"`
		Prompt    []int   `json:"prompt_tokens"`
		Generated []int   `json:"generated_tokens"`
		Top       [][]ref `json:"top_logprobs"`
	} `json:"cases"`
}

type ref struct {
	ID      int     `json:"id"`
	Logprob float64 `json:"logprob"`
}

func loadReference(t testing.TB) reference {
	t.Helper()
	b, err := os.ReadFile(testmodels.Reference(t, "logits", "stories260K.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("reference: %v", err)
	}
	if len(r.Cases) == 0 {
		t.Fatal("reference has no cases")
	}
	return r
}

// checkTop compares a token's logprob and alternatives with a reference row.
func checkTop(t *testing.T, what string, got Token, want []ref, tol float64) float64 {
	t.Helper()
	worst := math.Abs(float64(got.Logprob) - want[0].Logprob)
	if got.ID != want[0].ID || len(got.Top) != len(want) {
		t.Errorf("%s: token %d with %d alternatives, want %d with %d", what, got.ID, len(got.Top), want[0].ID, len(want))
		return worst
	}
	for k, w := range want {
		g := got.Top[k]
		d := math.Abs(float64(g.Logprob) - w.Logprob)
		worst = max(worst, d)
		if g.ID != w.ID || d > tol || string(g.Bytes) != string(got.Top[k].Bytes) {
			t.Errorf("%s: alternative %d is %d (%.6f), want %d (%.6f)", what, k, g.ID, g.Logprob, w.ID, w.Logprob)
		}
	}
	if worst > tol {
		t.Errorf("%s: logprob off by %.3g", what, worst)
	}
	return worst
}

// Generated-token logprobs (free-running, batched) and prompt logprobs
// (teacher-forced: prompt = case prompt + generated tokens) against
// llama.cpp's top-10 log-probabilities, and against sample's log-softmax of
// a solo Forward.
func TestLogprobsReference(t *testing.T) {
	const tol = 1e-4
	m, tok := loadStoriesTok(t)
	ref := loadReference(t)
	e := newEngine(t, m, tok, Options{Parallel: 3, Ctx: 256, MaxBatchTokens: 24})
	type pending struct {
		gen, forced <-chan Event
	}
	var chans []pending
	for _, c := range ref.Cases {
		gen, err := e.Submit(context.Background(), GenRequest{Prompt: c.Prompt, MaxTokens: len(c.Generated), Logprobs: true, TopLogprobs: 10})
		if err != nil {
			t.Fatal(err)
		}
		forced, err := e.Submit(context.Background(), GenRequest{
			Prompt: append(slices.Clone(c.Prompt), c.Generated...), MaxTokens: 1, PromptLogprobs: true, Logprobs: true, TopLogprobs: 10,
		})
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, pending{gen, forced})
	}
	worstGen, worstPrompt := 0.0, 0.0
	for i, c := range ref.Cases {
		g := collect(t, chans[i].gen)
		if !slices.Equal(g.ids, c.Generated) {
			t.Errorf("%s: generated %v, want %v", c.Name, g.ids, c.Generated)
			continue
		}
		for k, tk := range g.tokens {
			worstGen = max(worstGen, checkTop(t, fmt.Sprintf("%s step %d", c.Name, k), tk, c.Top[k], tol))
		}
		f := collect(t, chans[i].forced)
		if len(f.prompt) != len(c.Prompt)+len(c.Generated) {
			t.Errorf("%s: %d prompt tokens, want %d", c.Name, len(f.prompt), len(c.Prompt)+len(c.Generated))
			continue
		}
		if p0 := f.prompt[0]; p0.ID != c.Prompt[0] || p0.Logprob != 0 || p0.Top != nil {
			t.Errorf("%s: first prompt token %+v, want id %d with logprob 0 and no alternatives", c.Name, p0, c.Prompt[0])
		}
		for k := range c.Generated {
			worstPrompt = max(worstPrompt, checkTop(t, fmt.Sprintf("%s prompt step %d", c.Name, k), f.prompt[len(c.Prompt)+k], c.Top[k], tol))
		}
	}
	t.Logf("max |logprob - llama.cpp|: generated %.3g, prompt %.3g (tolerance %g)", worstGen, worstPrompt, tol)

	// Against the log-softmax of a solo Forward of the same sequence.
	c := ref.Cases[1]
	seq := append(slices.Clone(c.Prompt), c.Generated...)
	cache := m.NewCache(1, len(seq))
	b := &model.Batch{}
	for i, id := range seq {
		b.Tokens, b.Pos, b.Seq, b.Output = append(b.Tokens, id), append(b.Pos, i), append(b.Seq, 0), append(b.Output, true)
	}
	rows, err := m.Forward(context.Background(), cache, b)
	if err != nil {
		t.Fatal(err)
	}
	g := submit(t, e, GenRequest{Prompt: c.Prompt, MaxTokens: len(c.Generated), Logprobs: true, TopLogprobs: 3})
	worst := 0.0
	for k, tk := range g.tokens {
		row := rows[len(c.Prompt)-1+k]
		worst = max(worst, math.Abs(float64(tk.Logprob-sample.Logprob(row, tk.ID))))
		for j, alt := range sample.TopLogprobs(row, 3) {
			if tk.Top[j].ID != alt.ID {
				t.Errorf("step %d alternative %d: %d, solo Forward says %d", k, j, tk.Top[j].ID, alt.ID)
			}
		}
	}
	if worst > 1e-5 {
		t.Errorf("logprobs differ from the solo Forward's by %.3g", worst)
	}
	t.Logf("max |logprob - solo Forward| %.3g", worst)
}

// The n choices of one prompt, submitted back to back, evaluate the prompt
// once: the first runs it, the others copy its keys and values and run only
// their last prompt token. Outputs equal each choice run alone in a fresh
// engine, greedy and seeded, with the prompt in one chunk or several.
func TestSharedPrompt(t *testing.T) {
	m, tok := loadStoriesTok(t)
	const n = 4
	long := append([]int{1}, golden[:40]...)
	tests := []struct {
		name     string
		prompt   []int
		sampling func(i int) sample.Params
		budget   int
		shared   int // prompt positions expected to be copied in all
	}{
		{"greedy one chunk", long, func(int) sample.Params { return sample.Params{} }, 512, (n - 1) * (len(long) - 1)},
		{"seeded one chunk", long, func(i int) sample.Params { return sample.Params{Temperature: 1, Seed: uint64(7 + i)} }, 512, (n - 1) * (len(long) - 1)},
		{"seeded chunked", long, func(i int) sample.Params { return sample.Params{Temperature: 0.8, TopP: 0.9, Seed: uint64(40 + i)} }, 16, (n - 1) * (len(long) - 1)},
		{"one-token prompt", []int{1}, func(i int) sample.Params { return sample.Params{Temperature: 1, Seed: uint64(i)} }, 512, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqs := make([]GenRequest, n)
			want := make([]result, n)
			for i := range reqs {
				reqs[i] = GenRequest{Prompt: tt.prompt, MaxTokens: 20, Sampling: tt.sampling(i)}
				want[i] = submit(t, newEngine(t, m, tok, Options{Parallel: 1, Ctx: 128}), reqs[i])
			}
			if tt.sampling(0).Temperature == 0 && len(tt.prompt) == len(long) && !slices.Equal(want[0].ids, golden[40:60]) {
				t.Fatalf("greedy reference %v, want golden[40:60]", want[0].ids)
			}
			e := newEngine(t, m, tok, Options{Parallel: n, Ctx: 128, MaxBatchTokens: tt.budget})
			chans := make([]<-chan Event, n)
			for i, r := range reqs {
				ch, err := e.Submit(context.Background(), r)
				if err != nil {
					t.Fatal(err)
				}
				chans[i] = ch
			}
			var wg sync.WaitGroup
			got := make([]result, n)
			for i, ch := range chans {
				wg.Go(func() { got[i] = collect(t, ch) })
			}
			wg.Wait()
			distinct := map[string]bool{}
			for i := range got {
				g, w := got[i], want[i]
				if g.last.Err != nil || !slices.Equal(g.ids, w.ids) || g.text != w.text || g.last.Finish != w.last.Finish {
					t.Errorf("choice %d shared: %v %q (%s, %v)\nalone: %v %q (%s)", i, g.ids, g.text, g.last.Finish, g.last.Err, w.ids, w.text, w.last.Finish)
				}
				if g.last.PromptTokenCount != len(tt.prompt) || g.last.CompletionTokens != len(g.ids) {
					t.Errorf("choice %d usage %d+%d", i, g.last.PromptTokenCount, g.last.CompletionTokens)
				}
				distinct[g.text] = true
			}
			if tt.sampling(0).Temperature > 0 && len(distinct) < 2 {
				t.Errorf("seeded choices all gave %q: the test cannot tell streams apart", got[0].text)
			}
			e.cacheMu.Lock()
			st := e.stats
			e.cacheMu.Unlock()
			// A choice admitted after the leader's first step may attach
			// its published blocks instead of copying them: either way
			// the prompt is computed once.
			if wantRun := len(tt.prompt) + n - 1; st.prompt != wantRun || st.shared+st.reused != tt.shared {
				t.Errorf("%d prompt positions run and %d+%d copied/attached, want %d and %d", st.prompt, st.shared, st.reused, wantRun, tt.shared)
			}
		})
	}
}

// Followers whose leader leaves early still finish exactly as alone: a
// leader done right after its prefill hands over its prompt, a leader
// cancelled while its prompt is being read hands over what it has (maybe
// nothing) and the followers compute the rest themselves.
func TestSharedPromptLeaderLeaves(t *testing.T) {
	m, tok := loadStoriesTok(t)
	prompt := append([]int{1}, golden[:40]...)
	follower := GenRequest{Prompt: prompt, MaxTokens: 15}
	ref := submit(t, newEngine(t, m, tok, Options{Parallel: 1, Ctx: 128}), follower)
	if !slices.Equal(ref.ids, golden[40:55]) {
		t.Fatalf("reference %v, want golden[40:55]", ref.ids)
	}
	tests := []struct {
		name   string
		leader GenRequest
		cancel bool
	}{
		{"leader done at prefill", GenRequest{Prompt: prompt, MaxTokens: 1}, false},
		{"leader cancelled while prefilling", GenRequest{Prompt: prompt, MaxTokens: 15}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A budget of 3 tokens a step (raised to Parallel) reads the
			// prompt in many chunks.
			e := newEngine(t, m, tok, Options{Parallel: 3, Ctx: 128, MaxBatchTokens: 1})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// Holding the cache stalls the scheduler, so all three are
			// admitted before the leader's prompt is read.
			e.cacheMu.Lock()
			lead, err := e.Submit(ctx, tt.leader)
			if err != nil {
				e.cacheMu.Unlock()
				t.Fatal(err)
			}
			var chans []<-chan Event
			for range 2 {
				ch, err := e.Submit(context.Background(), follower)
				if err != nil {
					e.cacheMu.Unlock()
					t.Fatal(err)
				}
				chans = append(chans, ch)
			}
			e.cacheMu.Unlock()
			if tt.cancel {
				// Cancelled under the lock as soon as a chunk has run, so
				// the leader usually leaves with its prompt partly read
				// (the assertions below hold however far it got).
				for deadline := time.Now().Add(10 * time.Second); ; runtime.Gosched() {
					e.cacheMu.Lock()
					ran := e.stats.prompt > 0
					if ran {
						cancel()
					}
					e.cacheMu.Unlock()
					if ran {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("the leader's prompt was not read within 10 seconds")
					}
				}
			}
			l := collect(t, lead)
			if !tt.cancel && (!slices.Equal(l.ids, golden[40:41]) || l.last.Finish != FinishLength) {
				t.Errorf("leader %v (%s)", l.ids, l.last.Finish)
			}
			for i, ch := range chans {
				if r := collect(t, ch); r.last.Err != nil || !slices.Equal(r.ids, ref.ids) || r.text != ref.text || r.last.Finish != ref.last.Finish {
					t.Errorf("follower %d: %v %q (%s, %v)\nwant %v %q (%s)", i, r.ids, r.text, r.last.Finish, r.last.Err, ref.ids, ref.text, ref.last.Finish)
				}
			}
			e.cacheMu.Lock()
			st := e.stats
			e.cacheMu.Unlock()
			t.Logf("%d prompt positions run, %d copied", st.prompt, st.shared)
			if !tt.cancel && (st.prompt != len(prompt)+2 || st.shared != 2*(len(prompt)-1)) {
				t.Errorf("%d prompt positions run and %d copied, want %d and %d", st.prompt, st.shared, len(prompt)+2, 2*(len(prompt)-1))
			}
			// Each follower copies k of its prompt positions from the
			// leader, which ran at least those, and runs the others.
			if k, lead := st.shared/2, st.prompt-2*len(prompt)+st.shared; tt.cancel && (st.shared%2 != 0 || k < 1 || lead < k || lead > len(prompt)) {
				t.Errorf("cancelled leader: %d prompt positions run and %d copied, want the leader's k..%d plus 2*(%d-k), and 2k", st.prompt, st.shared, len(prompt), len(prompt))
			}
		})
	}
}
