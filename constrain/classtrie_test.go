package constrain

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// synthVocab is a vocabulary of every byte plus n random tokens (and
// end-of-generation) made of
// pieces chosen to hit what the class trie treats apart: quotes anywhere,
// escapes (whole and cut), raw control bytes, whole and partial UTF-8,
// bytes no pattern reads, duplicates and an empty token.
func synthVocab(seed uint64, n int) listVocab {
	pieces := []string{
		"a", "b", "c", "d", "e", "f", "u", "n", "x", "z", "A", "F", "T", "Z", "_", "0", "1", "2", "9",
		" ", "  ", "-", ".", "@", ":", "+", "/", ",", "}", "%",
		`"`, `",`, `\`, `\n`, `\"`, `\\`, `\t`, `\u00`, `\u001`, `\u001f`, `\u0041`, `\/`, `\q`,
		"\t", "\n", "\x01", "\x7f",
		"é", "€", "😀", "\xc3", "\xa9", "\x80", "\xe2\x82", "\xff", "\u3000", "\u00a0",
		"ab", "cd", "hello", "world", " the", "com", "2024", "-01", "T12", ":30", "0x", "ff", "ing",
	}
	r := rand.New(rand.NewPCG(seed, 11))
	v := listVocab{}
	for b := range 256 {
		v = append(v, string([]byte{byte(b)}))
	}
	v = append(v, "", "ab", "ab")
	for len(v) < 256+n {
		var sb strings.Builder
		for range 1 + r.IntN(5) {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		v = append(v, sb.String())
	}
	return v
}

// classTrieSchemas are string schemas whose patterns cover unicode classes,
// anchors, alternations, bounded repeats, escapes and the formats, with and
// without length limits.
var classTrieSchemas = []string{
	`{"type":"string","pattern":"^\\w+( \\w+)*$"}`,
	`{"type":"string","pattern":"^\\w+( \\w+)*$","maxLength":12}`,
	`{"type":"string","pattern":"^\\w+( \\w+)*$","minLength":3,"maxLength":12}`,
	`{"type":"string","pattern":"ab|cd"}`,
	`{"type":"string","pattern":"ab|cd","maxLength":8}`,
	`{"type":"string","pattern":"^[^a-z\\s]{1,4}$"}`,
	`{"type":"string","pattern":"^(0x)?[0-9a-f]+$","minLength":2,"maxLength":10}`,
	`{"type":"string","pattern":"^[A-Z]{3}-\\d{4}$"}`,
	`{"type":"string","pattern":"é+x"}`,
	`{"type":"string","pattern":"^\\u00e9\\.\\s?$"}`,
	`{"type":"string","pattern":"^[a\"\\\\/]+\\n?$","maxLength":6}`,
	`{"type":"string","pattern":"^\\s*\\d+$"}`,
	`{"type":"string","pattern":"^.{2,3}$"}`,
	`{"type":"string","pattern":"^(cat|dog)s?$|^€+$","minLength":2}`,
	`{"type":"string","format":"email"}`,
	`{"type":"string","format":"email","maxLength":20}`,
	`{"type":"string","format":"uuid"}`,
	`{"type":"string","format":"date"}`,
	`{"type":"string","format":"date-time"}`,
	`{"type":"string","format":"time","pattern":"^1"}`,
}

// stringPattern compiles a string schema and returns its string atom.
func stringPattern(t testing.TB, schema string) *atom {
	t.Helper()
	comp, err := CompileSchemaContext(context.Background(), []byte(schema))
	if err != nil {
		t.Fatalf("%s: %v", schema, err)
	}
	if len(comp.root.flat) != 1 || comp.root.flat[0].pat == nil {
		t.Fatalf("%s: not one pattern string", schema)
	}
	return comp.root.flat[0]
}

// tokRec is what a plan says of one token.
type tokRec struct {
	end, chars int32
	slow       bool
}

// flatPlan is a plan in a form that does not depend on grouping or order.
type flatPlan struct {
	inside []uint64
	toks   map[int32]tokRec
	exits  []exit
}

func flatten(p *plan) flatPlan {
	f := flatPlan{inside: p.inside, toks: map[int32]tokRec{}, exits: slices.Clone(p.exits)}
	for _, g := range p.groups {
		for _, id := range g.ids {
			f.toks[id] = tokRec{end: g.end, chars: g.chars}
		}
	}
	for _, id := range p.slow {
		f.toks[id] = tokRec{slow: true}
	}
	slices.SortFunc(f.exits, func(x, y exit) int { return int(x.node - y.node) })
	return f
}

func (f flatPlan) diff(g flatPlan) string {
	if !slices.Equal(f.inside, g.inside) {
		return "inside differs"
	}
	if len(f.toks) != len(g.toks) {
		return fmt.Sprintf("%d vs %d limited tokens", len(f.toks), len(g.toks))
	}
	for id, r := range f.toks {
		if g.toks[id] != r {
			return fmt.Sprintf("token %d: %+v vs %+v", id, r, g.toks[id])
		}
	}
	if !slices.EqualFunc(f.exits, g.exits, func(x, y exit) bool {
		return x.node == y.node && x.pos == y.pos && x.count == y.count && len(x.path) == 0 && len(y.path) == 0
	}) {
		return fmt.Sprintf("exits differ: %d vs %d", len(f.exits), len(g.exits))
	}
	return ""
}

// bruteAllowed is the definition a plan implements, token by token: from
// DFA state s after count characters, token id stays inside string a (no
// closing quote) and keeps it completable at every byte.
func bruteAllowed(ix *Index, a *atom, s, count int32, id int) bool {
	st := tiny{pos: s, count: count}
	for _, b := range ix.tokBytes[ix.off[id]:ix.off[id+1]] {
		if b == '"' && st.esc == 0 {
			return false
		}
		if ok, _ := patAdvance(a, &st, b); !ok {
			return false
		}
	}
	return true
}

// planMask is the mask of plan p's inside tokens for string a in DFA state
// s after count characters, as Allow computes it.
func planMask(ix *Index, p *plan, a *atom, s, count int32) []uint64 {
	c := &Constraint{ix: ix, ok: make([]uint64, (ix.vocab+63)/64)}
	if !a.pat.limited {
		copy(c.ok, p.inside)
		return c.ok
	}
	fl := fastLevel{on: true, a: a, st: tiny{pos: s, count: count}}
	c.allowLimited(p, &fl)
	return c.ok
}

// checkClassPlans compares, for every DFA state of the schema's pattern,
// the plan walked over the class trie with the one walked over the byte
// trie (the construction the class trie replaced), and the masks of both
// with the token-by-token definition for up to maxCounts counts per state
// (all if maxCounts < 0) at which the state can occur, in every state (or
// every stride-th).
func checkClassPlans(t *testing.T, ix *Index, schema string, maxCounts, stride int) {
	a := stringPattern(t, schema)
	sp := a.pat
	ct := ix.newClassTrie(sp.cls, sp.rep)
	free := &atom{kind: aString, maxLen: -1, pat: &strPattern{d: sp.d, t: sp.free}}
	words := (ix.vocab + 63) / 64
	checked := 0
	for s := range int32(sp.d.n) {
		byBytes := ix.buildPatPlan(sp, s, nil)
		byClass := ix.buildPatPlan(sp, s, ct)
		if d := flatten(byClass).diff(flatten(byBytes)); d != "" {
			t.Fatalf("%s: state %d: class plan vs byte plan: %s", schema, s, d)
		}
		if int(s)%stride != 0 {
			continue
		}
		var counts []int32
		switch {
		case !sp.limited:
			counts = []int32{0}
		default:
			for c := int32(0); c <= int32(sp.t.rows); c++ {
				if sp.t.good(int(c), s) {
					counts = append(counts, c)
				}
			}
		}
		if maxCounts >= 0 && len(counts) > maxCounts {
			step := len(counts) / maxCounts
			var some []int32
			for i := 0; i < len(counts) && len(some) < maxCounts; i += step {
				some = append(some, counts[i])
			}
			counts = some
		}
		want := make([]uint64, words)
		for _, count := range counts {
			target := a
			if !sp.limited {
				target = free
			}
			clear(want)
			for id := range ix.vocab {
				if ix.usable[id] && bruteAllowed(ix, target, s, count, id) {
					want[id>>6] |= 1 << (uint(id) & 63)
				}
			}
			for name, p := range map[string]*plan{"class": byClass, "byte": byBytes} {
				got := planMask(ix, p, a, s, count)
				if !slices.Equal(got, want) {
					for id := range ix.vocab {
						if g, w := got[id>>6]>>(id&63)&1, want[id>>6]>>(id&63)&1; g != w {
							t.Fatalf("%s: state %d count %d: %s plan allows token %d %q: %v, token by token: %v",
								schema, s, count, name, id, ix.tokBytes[ix.off[id]:ix.off[id+1]], g == 1, w == 1)
						}
					}
				}
			}
			checked++
		}
	}
	t.Logf("%s: %d states, %d classes, %d class nodes for %d byte nodes, %d (state, count) masks checked",
		schema, sp.d.n, ct.nc, len(ct.kls), len(ix.tb), checked)
}

// Plans walked over class tries are those walked over the byte trie, and
// their masks are the token-by-token definition, for every DFA state.
func TestClassTriePlans(t *testing.T) {
	size, maxCounts := 6000, -1
	if raceEnabled {
		size, maxCounts = 1500, 3
	}
	ix := NewIndex(synthVocab(1, size))
	for _, schema := range classTrieSchemas {
		t.Run(schema, func(t *testing.T) {
			checkClassPlans(t, ix, schema, maxCounts, 1)
		})
	}
}

// The same on the qwen3 vocabulary (151,669 tokens), the masks at one count
// in some states (about 30 ms each).
func TestClassTriePlansQwen3(t *testing.T) {
	ix, _ := loadIndex(t, "vocab/kiln-vocab-qwen3.gguf")
	schemas := classTrieSchemas
	switch {
	case raceEnabled:
		schemas = []string{classTrieSchemas[14]}
	case testing.Short():
		schemas = []string{classTrieSchemas[1], classTrieSchemas[14]}
	}
	for _, schema := range schemas {
		t.Run(schema, func(t *testing.T) {
			a := stringPattern(t, schema)
			checkClassPlans(t, ix, schema, 1, a.pat.d.n/2+1)
		})
	}
}

// Creating a constraint prepares the class tries of the patterns its
// schema can meet (and only those), so that no mask pays for one.
func TestPreparedClassTries(t *testing.T) {
	ix := NewIndex(synthVocab(2, 500))
	schema := `{"type":"object","properties":{
		"w":{"type":"string","pattern":"^\\w+$"},
		"l":{"type":"array","items":{"type":"string","format":"uuid"}},
		"e":{"enum":["x@y.io"],"format":"email"},
		"n":{"anyOf":[{"type":"null"},{"type":"string","pattern":"^a"}]}},
		"required":["w"],"additionalProperties":false}`
	comp, err := CompileSchemaContext(context.Background(), []byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	var srcs []string
	for _, sp := range comp.pats {
		srcs = append(srcs, sp.src)
	}
	slices.Sort(srcs)
	want := []string{"^\\w+$\x01", "^a\x01", "\x01uuid"}
	slices.Sort(want)
	if !slices.Equal(srcs, want) {
		t.Fatalf("patterns %q, want %q", srcs, want)
	}
	ix.New(comp)
	tries := func() (int, int) {
		ix.pats.mu.Lock()
		defer ix.pats.mu.Unlock()
		return len(ix.pats.tries), len(ix.pats.plans)
	}
	if n, p := tries(); n != len(want) || p != 0 {
		t.Errorf("after New: %d tries, %d plans; want %d tries, no plan", n, p, len(want))
	}
	// Another pattern with the bytes classed as ^\w+$ does: no new trie.
	if _, err := ix.Schema([]byte(`{"type":"string","pattern":"^\\w{2,9}$"}`)); err != nil {
		t.Fatal(err)
	}
	if n, _ := tries(); n != len(want) {
		t.Errorf("a pattern with a known byte partition built a trie (%d tries)", n)
	}
	if _, err := ix.Schema([]byte(`{"type":"string","pattern":"^[a-z]+$"}`)); err != nil {
		t.Fatal(err)
	}
	if n, _ := tries(); n != len(want)+1 {
		t.Errorf("a pattern with a new byte partition: %d tries, want %d", n, len(want)+1)
	}
}
