package engine

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestStepTimingBudget(t *testing.T) {
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	type obs struct {
		prompt int
		d      time.Duration
	}
	for _, tc := range []struct {
		name   string
		steps  []obs
		target time.Duration
		want   int
	}{
		{"nothing measured", nil, ms(100), math.MaxInt},
		{"only decode steps", []obs{{0, ms(10)}, {0, ms(10)}}, ms(100), math.MaxInt},
		{"too few prompt tokens to measure", []obs{{0, ms(10)}, {15, ms(40)}}, ms(100), math.MaxInt},
		// 10 ms fixed, (110-10)/100 = 1 ms a prompt token: 90 fit in 100 ms.
		{"fixed then prompt", []obs{{0, ms(10)}, {100, ms(110)}}, ms(100), 90},
		// Without the fixed part the whole step is charged: 1.1 ms a token.
		{"prompt before any decode step", []obs{{100, ms(110)}}, ms(100), 90},
		{"floor", []obs{{0, ms(10)}, {100, ms(110)}}, ms(20), MinPromptChunk},
		{"target below the fixed part", []obs{{0, ms(10)}, {100, ms(110)}}, ms(5), MinPromptChunk},
		// A step faster than the fixed estimate charges a quarter of itself.
		{"step under the fixed estimate", []obs{{0, ms(100)}, {50, ms(40)}}, ms(300), 1000},
		// Moving averages: the newest decode step weighs a quarter.
		{"averages", []obs{{0, ms(10)}, {0, ms(30)}, {100, ms(115)}}, ms(115), 100},
	} {
		var st stepTiming
		for _, o := range tc.steps {
			st.observe(o.prompt, o.d)
		}
		if got := st.promptBudget(tc.target); got != tc.want && !(got > tc.want-2 && got < tc.want+2 && tc.want != math.MaxInt) {
			t.Errorf("%s: budget %d, want %d (estimates %+v)", tc.name, got, tc.want, st)
		}
	}
}

// TestStepTargetCutsPromptChunks has a prompt arrive while another
// sequence decodes. With a target no step can meet, every step that carries
// the decoding sequence takes only MinPromptChunk prompt tokens; without a
// target the whole prompt goes in one step.
func TestStepTargetCutsPromptChunks(t *testing.T) {
	m, tok := loadStoriesTok(t)
	first := make([]int, 24)
	long := make([]int, 150)
	for i := range first {
		first[i] = 1 + i%200
	}
	for i := range long {
		long[i] = 300 + (7*i)%200 // shares no prefix with first
	}
	for _, tc := range []struct {
		target time.Duration
		want   func(int) bool
		what   string
	}{
		{time.Nanosecond, func(n int) bool { return n > 0 && n <= MinPromptChunk }, "at most MinPromptChunk"},
		{-1, func(n int) bool { return n == len(long) }, "the whole prompt"},
	} {
		e := newEngine(t, m, tok, Options{Parallel: 2, Ctx: 256, MaxBatchTokens: 512, StepTarget: tc.target})
		a, err := e.Submit(context.Background(), GenRequest{Prompt: first, MaxTokens: 200, IgnoreEOS: true})
		if err != nil {
			t.Fatal(err)
		}
		// A few tokens in, the first prompt's step and decode steps have
		// been timed.
		for range 4 {
			<-a
		}
		b, err := e.Submit(context.Background(), GenRequest{Prompt: long, MaxTokens: 2, IgnoreEOS: true})
		if err != nil {
			t.Fatal(err)
		}
		if r := collect(t, b); r.last.Err != nil || len(r.ids) != 2 {
			t.Fatalf("target %v: second request %v, %d tokens", tc.target, r.last.Err, len(r.ids))
		}
		e.cacheMu.Lock()
		got := e.stats.maxMixedPrompt
		e.cacheMu.Unlock()
		if !tc.want(got) {
			t.Errorf("target %v: a step beside a decoding sequence carried %d prompt tokens, want %s", tc.target, got, tc.what)
		}
		for range a {
		}
	}
}
