package constrain

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/internal/cputime"
	"github.com/kiln-llm/kiln/tokenizer"
)

type testVocab struct {
	ix  *Index
	tok *tokenizer.Tokenizer
}

var (
	vocabMu    sync.Mutex
	vocabCache = map[string]testVocab{}
)

// loadIndex builds the Index of a test vocabulary, cached across tests:
// building the qwen3 one takes a noticeable fraction of a second.
func loadIndex(t testing.TB, rel string) (*Index, *tokenizer.Tokenizer) {
	t.Helper()
	dir := os.Getenv("KILN_TEST_MODELS")
	if dir == "" {
		t.Skip("KILN_TEST_MODELS not set; skipping test on real vocabularies")
	}
	vocabMu.Lock()
	defer vocabMu.Unlock()
	if v, ok := vocabCache[rel]; ok {
		return v.ix, v.tok
	}
	f, err := gguf.Open(filepath.Join(dir, rel))
	if err != nil {
		t.Fatalf("open %s: %v", rel, err)
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatalf("tokenizer %s: %v", rel, err)
	}
	v := testVocab{NewIndex(tok), tok}
	vocabCache[rel] = v
	return v.ix, v.tok
}

var propertySchemas = []struct {
	name   string
	schema string // "" = JSON mode
}{
	{"json mode", ""},
	{"nested objects", `{"type":"object","properties":{
		"name":{"type":"string","minLength":1,"maxLength":12},
		"age":{"type":"integer","minimum":0,"maximum":120},
		"score":{"type":"number","exclusiveMinimum":-1,"maximum":1},
		"address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string","maxLength":5}},"required":["city"],"additionalProperties":false},
		"tags":{"type":"array","items":{"enum":["a","b","longer tag","ünïcödé"]},"minItems":1,"maxItems":3},
		"maybe":{"type":["string","null"],"maxLength":4}},
		"required":["name","age","address","tags"],"additionalProperties":false}`},
	{"anyOf and recursion", `{"$ref":"#/$defs/expr","$defs":{"expr":{"anyOf":[
		{"type":"integer","minimum":-9,"maximum":9},
		{"type":"object","properties":{"op":{"enum":["+","*"]},"args":{"type":"array","items":{"$ref":"#/$defs/expr"},"minItems":2,"maxItems":2}},"required":["op","args"],"additionalProperties":false},
		{"type":"object","properties":{"neg":{"$ref":"#/$defs/expr"}},"required":["neg"],"additionalProperties":false}]}}}`},
	{"strings", `{"type":"array","items":{"type":"string","maxLength":8},"minItems":2,"maxItems":4}`},
	{"tool call", `{"type":"object","properties":{"name":{"const":"get_weather"},"arguments":{"type":"object","properties":{
		"location":{"type":"string","description":"City"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer","minimum":1,"maximum":14}},
		"required":["location","unit"],"additionalProperties":false}},"required":["name","arguments"],"additionalProperties":false}`},
	{"open object", `{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],"maxProperties":3}`},
}

var closerCache sync.Map // *tokenizer.Tokenizer -> []bool

// closerTokens marks the tokens containing '"', '}' or ']', which a random
// walk favours after its soft length limit so that it finishes.
func closerTokens(tok *tokenizer.Tokenizer) []bool {
	if v, ok := closerCache.Load(tok); ok {
		return v.([]bool)
	}
	c := make([]bool, tok.Len())
	for id := range c {
		c[id] = bytes.ContainsAny(tok.TokenBytes(id), `"}]`)
	}
	closerCache.Store(tok, c)
	return c
}

// randomWalk samples random allowed tokens until it chooses end of
// generation, checking on the way that Allow never dead-ends, that Done
// holds exactly when the text is a complete valid value, and that the final
// text parses and validates. It returns the text and the number of steps.
func randomWalk(t *testing.T, ix *Index, tok *tokenizer.Tokenizer, schema string, seed uint64, check bool) (string, int) {
	t.Helper()
	var c *Constraint
	var comp *Compiled
	if schema == "" {
		c = ix.JSON()
		comp = &Compiled{root: ix.json}
	} else {
		var err error
		if c, err = ix.Schema([]byte(schema)); err != nil {
			t.Fatalf("Schema: %v", err)
		}
		if comp, err = compileSchema(context.Background(), []byte(schema), nil); err != nil {
			t.Fatal(err)
		}
	}
	valid := func(text string) error {
		v, err := decodeJSON([]byte(text))
		if err != nil {
			return err
		}
		return validNode(comp.root, v)
	}
	closer := closerTokens(tok)
	r := rand.New(rand.NewPCG(seed, 7))
	allowed := make([]bool, tok.Len())
	var cand, pref []int
	const soft, hard = 60, 3000
	for step := 0; ; step++ {
		if step > hard {
			t.Fatalf("seed %d: no end after %d steps: %q", seed, hard, c.Text())
		}
		for i := range allowed {
			allowed[i] = true
		}
		c.Allow(allowed)
		cand, pref = cand[:0], pref[:0]
		eog := false
		for id, ok := range allowed {
			if !ok {
				continue
			}
			if tok.IsEOG(id) {
				eog = true
				continue
			}
			cand = append(cand, id)
			if step > soft && closer[id] {
				pref = append(pref, id)
			}
		}
		done := c.Done()
		if eog != done {
			t.Fatalf("seed %d: EOG allowed %v, Done %v at %q", seed, eog, done, c.Text())
		}
		if check {
			err := valid(c.Text())
			if done != (err == nil) {
				t.Fatalf("seed %d: Done %v but validation says %v for %q", seed, done, err, c.Text())
			}
		}
		if done && (len(cand) == 0 || r.IntN(4) == 0 || step > soft) {
			for _, id := range tok.EOG() {
				if allowed[id] {
					if err := c.Accept(id); err != nil {
						t.Fatalf("seed %d: Accept(EOG): %v", seed, err)
					}
					break
				}
			}
			text := c.Text()
			if !json.Valid([]byte(text)) {
				t.Fatalf("seed %d: output does not parse: %q", seed, text)
			}
			if err := valid(text); err != nil {
				t.Fatalf("seed %d: output does not validate: %v: %q", seed, err, text)
			}
			return text, step
		}
		if len(cand) == 0 {
			t.Fatalf("seed %d: dead end at %q", seed, c.Text())
		}
		pick := cand
		if len(pref) > 0 && r.IntN(10) < 9 {
			pick = pref
		}
		id := pick[r.IntN(len(pick))]
		if err := c.Accept(id); err != nil {
			t.Fatalf("seed %d: Accept(%d %q) of an allowed token: %v", seed, id, tok.TokenBytes(id), err)
		}
	}
}

func TestRandomWalks(t *testing.T) {
	vocabs := []struct {
		rel   string
		seeds int
	}{
		{"stories260K.gguf", 40},
		{"vocab/kiln-vocab-qwen3.gguf", 6},
	}
	for _, v := range vocabs {
		ix, tok := loadIndex(t, v.rel)
		seeds := v.seeds
		if testing.Short() || raceEnabled {
			seeds = max(1, seeds/4)
		}
		for _, s := range propertySchemas {
			t.Run(filepath.Base(v.rel)+"/"+s.name, func(t *testing.T) {
				steps := 0
				start := time.Now()
				for seed := 0; seed < seeds; seed++ {
					text, n := randomWalk(t, ix, tok, s.schema, uint64(seed), v.seeds > 10)
					steps += n
					if seed == 0 {
						t.Logf("example: %s", text)
					}
				}
				t.Logf("%d walks, %d steps, %.2f ms per step", seeds, steps, float64(time.Since(start).Microseconds())/1000/float64(max(steps, 1)))
			})
		}
	}
}

func TestQwenSpecialTokensExcluded(t *testing.T) {
	ix, tok := loadIndex(t, "vocab/kiln-vocab-qwen3.gguf")
	c := ix.JSON()
	for _, s := range []string{`{"`, `a`} {
		ids := tok.Encode(s, false, false)
		for _, id := range ids {
			if err := c.Accept(id); err != nil {
				t.Fatalf("Accept(%d): %v", id, err)
			}
		}
	}
	allowed := make([]bool, tok.Len())
	for i := range allowed {
		allowed[i] = true
	}
	c.Allow(allowed)
	for _, name := range []string{"<|im_start|>", "<|im_end|>", "<|endoftext|>"} {
		id, ok := tok.Special(name)
		if !ok {
			t.Fatalf("no token %s", name)
		}
		if allowed[id] {
			t.Errorf("%s (%d) allowed inside a JSON key", name, id)
		}
	}
	// An ordinary word token stays allowed inside a key.
	id := tok.Encode("hello", false, false)
	if len(id) != 1 || !allowed[id[0]] {
		t.Errorf("token %v for \"hello\" not allowed inside a key", id)
	}
}

func BenchmarkAllowQwen3(b *testing.B) {
	ix, tok := loadIndex(b, "vocab/kiln-vocab-qwen3.gguf")
	prefixes := []struct {
		name, schema, text string
		nocache            bool // drop the pattern plans every time (not the class tries New prepared)
	}{
		{"object start", "", `{`, false},
		{"in string", "", `{"text": "Hello wor`, false},
		{"in key", "", `{"ab`, false},
		{"after value", "", `{"a": 1`, false},
		{"schema key", propertySchemas[1].schema, `{"name": "Bob", "`, false},
		{"schema string", propertySchemas[4].schema, `{"name": "get_weather", "arguments": {"location": "Par`, false},
		{"pattern string", validityCorpus[2].schema, `{"word": "hello wor`, false},
		{"pattern string uncached", validityCorpus[2].schema, `{"word": "hello wor`, true},
		{"pattern with maxLength", validityCorpus[2].schema, `{"code": "x`, false},
		{"format email", validityCorpus[0].schema, `{"email": "john.sm`, false},
		{"format email uncached", validityCorpus[0].schema, `{"email": "john.sm`, true},
		{"format date-time", validityCorpus[1].schema, `{"start": "2024-01-02T1`, false},
	}
	allowed := make([]bool, tok.Len())
	for _, p := range prefixes {
		b.Run(p.name, func(b *testing.B) {
			var c *Constraint
			if p.schema == "" {
				c = ix.JSON()
			} else {
				var err error
				if c, err = ix.Schema([]byte(p.schema)); err != nil {
					b.Fatal(err)
				}
			}
			for i := 0; i < len(p.text); i++ {
				// Byte-wise through single-byte tokens keeps the prefix exact.
				ids := tok.Encode(p.text[i:i+1], false, false)
				for _, id := range ids {
					if err := c.Accept(id); err != nil {
						b.Fatalf("Accept %q: %v", p.text[:i+1], err)
					}
				}
			}
			b.ResetTimer()
			for b.Loop() {
				for i := range allowed {
					allowed[i] = true
				}
				if p.nocache {
					c.patPlans = nil
					dropPlans(ix)
				}
				c.Allow(allowed)
			}
			n := 0
			for _, a := range allowed {
				if a {
					n++
				}
			}
			b.ReportMetric(float64(n), "allowed")
		})
	}
}

// BenchmarkPatPlanQwen3 measures the first visit of a pattern state: the
// walk that builds its plan (shared across requests afterwards) over the
// pattern's class trie, which creating the constraint built ("trie": paid
// once per byte partition and vocabulary, outside any mask). The "bytes"
// sub-benchmarks walk the byte trie instead, as plans were built before
// class tries (that walk is kept as the test oracle and for escapes).
func BenchmarkPatPlanQwen3(b *testing.B) {
	ix, _ := loadIndex(b, "vocab/kiln-vocab-qwen3.gguf")
	for _, tt := range []struct{ name, schema string }{
		{"word maxLength", `{"type":"string","pattern":"^\\w+( \\w+)*$","maxLength":24}`},
		{"word", `{"type":"string","pattern":"^\\w+( \\w+)*$"}`},
		{"unanchored", `{"type":"string","pattern":"ab|cd"}`},
		{"email", `{"type":"string","format":"email"}`},
		{"date-time", `{"type":"string","format":"date-time"}`},
		{"uuid", `{"type":"string","format":"uuid"}`},
		{"non-ascii class", `{"type":"string","pattern":"^[^a-z\\s]{1,4}$"}`},
	} {
		comp, err := CompileSchemaContext(context.Background(), []byte(tt.schema))
		if err != nil {
			b.Fatal(err)
		}
		sp := comp.root.flat[0].pat
		// Every state of the DFA, as a request would meet them. Thread
		// CPU time as well as wall time: the build runs on one
		// goroutine, and on a shared machine wall time also measures
		// the other processes.
		for _, mode := range []string{"classes", "bytes"} {
			b.Run(tt.name+"/"+mode, func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var trie, trieWall, worst, total, worstWall, totalWall time.Duration
				for b.Loop() {
					var ct *classTrie
					if mode == "classes" {
						t0, w0 := cputime.Thread(), time.Now()
						ct = ix.newClassTrie(sp.cls, sp.rep)
						trie += cputime.Thread() - t0
						trieWall += time.Since(w0)
					}
					for s := int32(0); s < int32(sp.d.n); s++ {
						t0, w0 := cputime.Thread(), time.Now()
						ix.buildPatPlan(sp, s, ct)
						d, dw := cputime.Thread()-t0, time.Since(w0)
						total += d
						totalWall += dw
						worst = max(worst, d)
						worstWall = max(worstWall, dw)
					}
				}
				us := func(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(max(n, 1)) }
				if mode == "classes" {
					b.ReportMetric(us(trie, b.N), "cpu-µs-trie")
					b.ReportMetric(us(trieWall, b.N), "wall-µs-trie")
				}
				b.ReportMetric(us(total, b.N*sp.d.n), "cpu-µs/state")
				b.ReportMetric(us(totalWall, b.N*sp.d.n), "wall-µs/state")
				b.ReportMetric(us(worst, 1), "cpu-µs-worst")
				b.ReportMetric(us(worstWall, 1), "wall-µs-worst")
				b.ReportMetric(float64(sp.d.n), "states")
			})
		}
	}
}

// BenchmarkClassTrieBuildQwen3 measures the build of a pattern's class
// trie, paid once per pattern and vocabulary when a constraint is made.
func BenchmarkClassTrieBuildQwen3(b *testing.B) {
	ix, _ := loadIndex(b, "vocab/kiln-vocab-qwen3.gguf")
	for _, schema := range []string{`{"type":"string","pattern":"^\\w+( \\w+)*$"}`, `{"type":"string","pattern":"ab|cd"}`, `{"type":"string","pattern":"^[^a-z\\s]{1,4}$"}`, `{"type":"string","format":"uuid"}`} {
		comp, _ := CompileSchemaContext(context.Background(), []byte(schema))
		sp := comp.root.flat[0].pat
		b.Run(schema, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			best := time.Duration(1 << 62)
			for b.Loop() {
				t0 := cputime.Thread()
				ix.newClassTrie(sp.cls, sp.rep)
				best = min(best, cputime.Thread()-t0)
			}
			b.ReportMetric(float64(best.Microseconds()), "cpu-µs-best")
		})
	}
}
