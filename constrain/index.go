package constrain

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Vocabulary is what the index needs of a tokenizer (*tokenizer.Tokenizer
// satisfies it). If it also has IsControl(int) bool, control tokens are never
// allowed inside JSON: their text (such as "<|im_start|>") is not output.
type Vocabulary interface {
	Len() int
	TokenBytes(id int) []byte
	IsEOG(id int) bool
}

type controlVocabulary interface {
	IsControl(id int) bool
}

// Index is the token trie of one vocabulary, built once per model and shared
// by every request; it is immutable and safe for concurrent use.
type Index struct {
	vocab int
	eog   []int
	// Preorder byte trie over the usable tokens' bytes. Node i has byte
	// tb[i] at depth dep[i] (the root is implicit, depth 0); its subtree
	// ends before end[i]; the tokens spelled by its path are
	// ids[idLo[i]:idHi[i]].
	tb       []byte
	dep      []uint16
	end      []int32
	idLo     []int32
	idHi     []int32
	ids      []int32
	maxDepth int
	// Bytes of every token for Accept: tokBytes[off[id]:off[id+1]];
	// usable[id] is false for EOG, control and empty tokens.
	tokBytes []byte
	off      []int32
	usable   []bool
	isEOG    []bool

	json *node

	planOnce         sync.Once
	strPlan, keyPlan *plan

	// pats shares pattern plans across requests.
	pats patCache

	// cands caches the free-text candidates of trigger markers (see
	// markerCands).
	candMu sync.Mutex
	cands  map[string][][]int32
}

// NewIndex builds the token trie of v.
func NewIndex(v Vocabulary) *Index {
	n := v.Len()
	ix := &Index{vocab: n, off: make([]int32, n+1), usable: make([]bool, n), isEOG: make([]bool, n)}
	cv, _ := v.(controlVocabulary)
	type tok struct {
		b  []byte
		id int32
	}
	toks := make([]tok, 0, n)
	for id := 0; id < n; id++ {
		b := v.TokenBytes(id)
		ix.tokBytes = append(ix.tokBytes, b...)
		ix.off[id+1] = int32(len(ix.tokBytes))
		switch {
		case v.IsEOG(id):
			ix.isEOG[id] = true
			ix.eog = append(ix.eog, id)
		case len(b) == 0, cv != nil && cv.IsControl(id):
		default:
			ix.usable[id] = true
			toks = append(toks, tok{b, int32(id)})
		}
	}
	sort.Slice(toks, func(i, j int) bool {
		if c := bytes.Compare(toks[i].b, toks[j].b); c != 0 {
			return c < 0
		}
		return toks[i].id < toks[j].id
	})
	var path []int32 // node index at each depth of the current path
	var prev []byte
	closeTo := func(depth int) {
		for len(path) > depth {
			ix.end[path[len(path)-1]] = int32(len(ix.tb))
			path = path[:len(path)-1]
		}
	}
	for k, t := range toks {
		l := 0
		for l < len(prev) && l < len(t.b) && prev[l] == t.b[l] {
			l++
		}
		closeTo(l)
		for d := l; d < len(t.b); d++ {
			ix.tb = append(ix.tb, t.b[d])
			ix.dep = append(ix.dep, uint16(d+1))
			ix.end = append(ix.end, 0)
			ix.idLo = append(ix.idLo, int32(k))
			ix.idHi = append(ix.idHi, int32(k))
			path = append(path, int32(len(ix.tb)-1))
		}
		ix.idHi[path[len(path)-1]] = int32(k + 1)
		ix.ids = append(ix.ids, t.id)
		if len(t.b) > ix.maxDepth {
			ix.maxDepth = len(t.b)
		}
		prev = t.b
	}
	closeTo(0)
	c := &compiler{memo: map[string]*node{}}
	anyN := c.anyNode()
	root := c.newNode("#")
	root.atoms = []*atom{anyN.atoms[0]} // the object atom of "any value"
	if err := c.finish(); err != nil {
		panic("constrain: JSON-mode graph: " + err.Error()) // fixed graph, cannot fail
	}
	ix.json = root
	return ix
}

// Nodes returns the number of nodes of the token trie (for diagnostics).
func (ix *Index) Nodes() int { return len(ix.tb) }

// JSON returns a constraint for JSON mode: any JSON object.
func (ix *Index) JSON() *Constraint {
	return ix.newConstraint(ix.json)
}

// Schema returns a constraint for output that validates against schema.
// The error names an unsupported keyword or what else is wrong.
func (ix *Index) Schema(schema []byte, opts ...Option) (*Constraint, error) {
	return ix.SchemaContext(context.Background(), schema, opts...)
}

// SchemaContext is Schema with a context that abandons the compile (see
// CompileSchemaContext).
func (ix *Index) SchemaContext(ctx context.Context, schema []byte, opts ...Option) (*Constraint, error) {
	c, err := compileSchema(ctx, schema, opts)
	if err != nil {
		return nil, err
	}
	return ix.New(c), nil
}

// New returns a constraint for a schema compiled by CompileSchemaContext, so
// that the choices of one request share one compile.
func (ix *Index) New(c *Compiled) *Constraint {
	ix.prepare(c.pats)
	return ix.newConstraint(c.root)
}

func (ix *Index) newConstraint(root *node) *Constraint {
	return ix.newMatcherConstraint(&matcher{root: root})
}

func (ix *Index) newMatcherConstraint(m *matcher) *Constraint {
	return &Constraint{ix: ix, m: m, state: m.start()}
}

// Constraint is the decoding state of one sequence. It is not safe for
// concurrent use; it satisfies engine.Constraint.
type Constraint struct {
	ix       *Index
	m        *matcher
	state    []thread
	text     []byte
	finished bool // an end-of-generation token was accepted

	// patPlans caches the plans of pattern-constrained strings by DFA
	// state: a sequence often revisits the same state (a word pattern, an
	// unanchored pattern once matched), and the walk of a whole large
	// vocabulary inside a pattern costs milliseconds.
	patPlans map[patPlanKey]*plan

	// scratch for Allow
	levels [][]thread
	fast   []fastLevel
	multi  []thread
	ok     []uint64
}

// fastLevel is the Allow fast path's state at one trie depth: inside a
// string value or an off-trie additional key (where almost every token is
// allowed, so the walk visits most of the trie), only the tiny part of the
// frame changes; the full thread is rebuilt from the one at depth base when
// the string closes.
type fastLevel struct {
	on   bool
	key  bool // an additional key rather than a string value
	base uint16
	a    *atom
	st   tiny
}

// enterFastOne reports whether thread t can use the fast path.
func enterFastOne(t *thread, d int) (fastLevel, bool) {
	f := &t.f
	switch {
	case f.kind == fString && f.a.pat != nil:
		return fastLevel{on: true, base: uint16(d), a: f.a, st: tiny{esc: f.esc, count: f.count, hash: f.hash, pos: f.pos}}, true
	case f.kind == fString:
		return fastLevel{on: true, base: uint16(d), a: f.a, st: tiny{u8: f.u8, esc: f.esc, count: f.count}}, true
	case f.kind == fObject && f.phase == oKey && f.pos < 0 && f.esc == 1:
		return fastLevel{on: true, key: true, base: uint16(d), a: f.a, st: tiny{u8: f.u8, hash: f.hash}}, true
	}
	return fastLevel{}, false
}

// enterFast reports whether the threads ts can use the fast path: all inside
// a string value, or all inside an off-trie additional key, in the same
// state (threads that read the same bytes since the string opened are). There
// a byte's fate depends only on that state and, for strings, on the largest
// maxLength, which fl.a then has; so a union of many string alternatives
// costs what one string does. The threads are rebuilt when the string
// closes.
func enterFast(ts []thread, d int) (fastLevel, bool) {
	var fl fastLevel
	for i := range ts {
		one, ok := enterFastOne(&ts[i], d)
		if !ok {
			return fastLevel{}, false
		}
		if i == 0 {
			fl = one
			continue
		}
		if one.key != fl.key || one.st != fl.st {
			return fastLevel{}, false
		}
		if (one.a.pat != nil || fl.a.pat != nil) && one.a != fl.a {
			return fastLevel{}, false // different patterns: different languages
		}
		if !fl.key && fl.a.maxLen >= 0 && (one.a.maxLen < 0 || one.a.maxLen > fl.a.maxLen) {
			fl.a = one.a
		}
	}
	return fl, len(ts) > 0
}

// rebuild returns the full threads for fast state fl, without the strings
// that have outgrown their own maxLength (the fast path only checked the
// largest). The result is scratch space, valid until the next rebuild.
func (c *Constraint) rebuild(fl *fastLevel) []thread {
	c.multi = c.multi[:0]
	for _, t := range c.levels[fl.base] {
		t.f.u8 = fl.st.u8
		switch {
		case fl.key:
			t.f.hash = fl.st.hash
		case t.f.a.pat != nil:
			t.f.esc, t.f.count, t.f.hash, t.f.pos = fl.st.esc, fl.st.count, fl.st.hash, fl.st.pos
		default:
			if t.f.a.maxLen >= 0 && fl.st.count > int32(t.f.a.maxLen) {
				continue
			}
			t.f.esc, t.f.count = fl.st.esc, fl.st.count
		}
		c.multi = append(c.multi, t)
	}
	return c.multi
}

// Done reports whether the output so far is a complete value.
func (c *Constraint) Done() bool { return c.m.done(c.state) }

// Text returns the bytes accepted so far.
func (c *Constraint) Text() string { return string(c.text) }

// Accept advances past tok, which must be allowed.
func (c *Constraint) Accept(tok int) error {
	ix := c.ix
	if tok < 0 || tok >= ix.vocab {
		return fmt.Errorf("constrain: token %d out of range", tok)
	}
	if c.finished {
		return fmt.Errorf("constrain: token %d after end of generation", tok)
	}
	if ix.isEOG[tok] {
		if !c.Done() {
			return fmt.Errorf("constrain: end of generation (token %d) before the JSON value is complete", tok)
		}
		c.finished = true
		return nil
	}
	if !ix.usable[tok] {
		return fmt.Errorf("constrain: token %d cannot appear in JSON output", tok)
	}
	if err := c.feedBytes(ix.tokBytes[ix.off[tok]:ix.off[tok+1]]); err != nil {
		return fmt.Errorf("constrain: token %d: %w", tok, err)
	}
	return nil
}

// feedBytes advances past b, all or nothing.
func (c *Constraint) feedBytes(b []byte) error {
	st := c.state
	for _, x := range b {
		st = c.m.feed(st, x, nil)
		if len(st) == 0 {
			return fmt.Errorf("%q does not continue %q validly", b, c.text)
		}
	}
	c.state = st
	c.text = append(c.text, b...)
	return nil
}

// plan is the precomputed Allow walk from the start state of a string
// content or additional-key context (no pending UTF-8 or escape, no length
// limit): the tokens that stay inside, and the nodes where a closing quote
// leaves it, whose subtrees depend on the context and are walked for real.
type plan struct {
	// inside marks the tokens that stay inside (all plans but those of
	// length-limited patterns).
	inside []uint64
	// chars are the characters of each inside token (255: not inside),
	// for maxLength (string and key plans).
	chars []uint8
	// groups are the inside tokens of a length-limited pattern plan that
	// end outside an escape, by DFA state and characters at their end:
	// the allowed ones depend only on those and the string's count. They
	// are sorted by need, ascending: the characters plus the fewest
	// characters that reach an accepting state after them. With maxLength
	// only, a group is allowed exactly when its need fits the room left,
	// so the allowed ones are groups[:needOff[room+1]].
	groups  []tokGroup
	needOff []int32 // len 257
	slow    []int32 // inside tokens ending inside an escape, checked byte by byte
	exits   []exit
}

// tokGroup is tokens of a pattern plan that end in the same DFA state after
// the same number of characters. ids is shared with the trie it came from.
type tokGroup struct {
	ids   []int32
	end   int32
	chars int32
}

type exit struct {
	node  int32
	pos   int32  // DFA state before the quote (pattern plans)
	count int32  // characters before the quote
	path  []byte // bytes before the quote
}

// plans builds (once) the string and key plans.
func (ix *Index) plans() (*plan, *plan) {
	ix.planOnce.Do(func() {
		ix.strPlan = ix.buildPlan(false)
		ix.keyPlan = ix.buildPlan(true)
	})
	return ix.strPlan, ix.keyPlan
}

func (ix *Index) buildPlan(key bool) *plan {
	p := &plan{inside: make([]uint64, (ix.vocab+63)/64), chars: make([]uint8, ix.vocab)}
	for i := range p.chars {
		p.chars[i] = 255
	}
	free := &atom{kind: aString, maxLen: -1}
	st := make([]tiny, ix.maxDepth+1)
	path := make([]byte, ix.maxDepth+1)
	n := int32(len(ix.tb))
	for i := int32(0); i < n; {
		d := ix.dep[i]
		b := ix.tb[i]
		path[d-1] = b
		cur := st[d-1]
		if b == '"' && cur.u8 == 0 && cur.esc == 0 {
			p.exits = append(p.exits, exit{node: i, count: cur.count, path: append([]byte(nil), path[:d-1]...)})
			i = ix.end[i]
			continue
		}
		var ok bool
		if key {
			ok = keyAdvance(&cur, b)
		} else {
			ok, _ = strAdvance(free, &cur, b)
		}
		if !ok {
			i = ix.end[i]
			continue
		}
		st[d] = cur
		for _, id := range ix.ids[ix.idLo[i]:ix.idHi[i]] {
			p.inside[id>>6] |= 1 << (uint(id) & 63)
			p.chars[id] = uint8(min(cur.count, 254))
		}
		i++
	}
	return p
}

// Allow sets allowed[id] to false for every token that may not come next.
// It cannot dead-end: the compiler prunes unsatisfiable branches, so while
// not Done some token continues the value, provided the vocabulary can spell
// every byte (byte tokens or single-character tokens). It walks the token
// trie depth first with the matcher state, skipping a subtree as soon as its
// prefix is rejected; inside strings and keys it starts from a precomputed
// plan.
func (c *Constraint) Allow(allowed []bool) {
	ix := c.ix
	words := (ix.vocab + 63) / 64
	if len(c.ok) != words {
		c.ok = make([]uint64, words)
	} else {
		clear(c.ok)
	}
	if !c.finished {
		if len(c.levels) < ix.maxDepth+1 {
			c.levels = make([][]thread, ix.maxDepth+1)
			c.fast = make([]fastLevel, ix.maxDepth+1)
		}
		c.levels[0] = append(c.levels[0][:0], c.state...)
		c.fast[0] = fastLevel{}
		var pl *plan
		limited := false  // a pattern plan whose tokens need a length check
		room := int32(-1) // characters a length-limited string may still take
		if fl, ok := enterFast(c.levels[0], 0); ok {
			c.fast[0] = fl
			if fl.a.pat != nil && fl.st.esc == 0 {
				pl = c.patPlan(fl.a, fl.st.pos)
				limited = fl.a.pat.limited
			} else if fl.st.u8 == 0 && fl.st.esc == 0 && fl.a.pat == nil {
				sp, kp := ix.plans()
				pl = sp
				switch {
				case fl.key:
					pl = kp
				case fl.a.maxLen >= 0:
					room = int32(fl.a.maxLen) - fl.st.count
				}
			}
		}
		switch {
		case pl == nil:
			c.walk(0, int32(len(ix.tb)))
		default:
			switch {
			case limited:
				c.allowLimited(pl, &c.fast[0])
			case room < 0:
				copy(c.ok, pl.inside)
			default:
				for id, n := range pl.chars {
					if int32(n) <= room {
						c.ok[id>>6] |= 1 << (uint(id) & 63)
					}
				}
			}
			base := c.fast[0]
			for _, e := range pl.exits {
				if room >= 0 && e.count > room {
					continue
				}
				if limited {
					n := int(base.st.count + e.count)
					if a := base.a; n < a.minLen || (a.maxLen >= 0 && n > a.maxLen) {
						continue
					}
				}
				fl := base
				fl.st.count += e.count
				if fl.key {
					for _, b := range e.path {
						fl.st.hash = (fl.st.hash ^ uint64(b)) * fnvPrime
					}
				}
				if fl.a.pat != nil {
					fl.st.pos = e.pos
				}
				d := ix.dep[e.node]
				c.fast[d-1] = fl
				c.walk(e.node, ix.end[e.node])
			}
		}
		if c.Done() {
			for _, id := range ix.eog {
				c.ok[id>>6] |= 1 << (uint(id) & 63)
			}
		}
	}
	applyMask(allowed, c.ok, ix.vocab)
}

// applyMask clears allowed[id] for every id whose bit in ok is 0 (and every
// id from vocab on), a 64-token word at a time: a mask is usually nearly
// all ones (inside strings) or nearly all zeros (between values), and both
// are then one test per word.
func applyMask(allowed []bool, ok []uint64, vocab int) {
	n := min(len(allowed), vocab)
	for w := 0; w*64 < n; w++ {
		lo, hi := w*64, min(w*64+64, n)
		switch x := ok[w]; x {
		case ^uint64(0):
		case 0:
			clear(allowed[lo:hi])
		default:
			// Branch-free on the bit, which is unpredictable in a
			// mixed word; allowed[id] is nearly always true.
			for id := lo; id < hi; id++ {
				allowed[id] = allowed[id] && x>>(uint(id)&63)&1 != 0
			}
		}
	}
	if len(allowed) > vocab {
		clear(allowed[vocab:])
	}
}

// walk marks the allowed tokens of trie nodes [lo, hi), a whole subtree (or
// the whole trie), whose parent state is at depth dep[lo]-1.
func (c *Constraint) walk(lo, hi int32) {
	ix := c.ix
	for i := lo; i < hi; {
		d := ix.dep[i]
		b := ix.tb[i]
		pf := &c.fast[d-1]
		if pf.on && (b != '"' || pf.st.u8 != 0 || pf.st.esc != 0) {
			st := pf.st
			var ok bool
			switch {
			case pf.key:
				ok = keyAdvance(&st, b)
			case pf.a.pat != nil:
				ok, _ = patAdvance(pf.a, &st, b)
			case st.u8 == 0 && st.esc == 0 && b >= 0x20 && b < 0x80 && b != '\\' && pf.a.maxLen < 0:
				st.count++
				ok = true
			default:
				ok, _ = strAdvance(pf.a, &st, b)
			}
			if !ok {
				i = ix.end[i]
				continue
			}
			c.fast[d] = fastLevel{on: true, key: pf.key, base: pf.base, a: pf.a, st: st}
		} else {
			in := c.levels[d-1]
			if pf.on {
				in = c.rebuild(pf)
			}
			out := c.m.feed(in, b, c.levels[d][:0])
			c.levels[d] = out
			c.fast[d].on = false
			if len(out) == 0 {
				i = ix.end[i]
				continue
			}
			if fl, ok := enterFast(out, int(d)); ok {
				c.fast[d] = fl
			}
		}
		for _, id := range ix.ids[ix.idLo[i]:ix.idHi[i]] {
			c.ok[id>>6] |= 1 << (uint(id) & 63)
		}
		i++
	}
}

type patPlanKey struct {
	a   *atom
	pos int32
}

// maxPatPlans bounds the per-sequence memo of shared plans (a map lookup
// without the Index's lock).
const maxPatPlans = 32

// patPlan returns the plan of pattern string a, without length limits, in
// DFA state pos with no escape pending: from the sequence's memo, else from
// the Index's shared cache, else built (and shared).
func (c *Constraint) patPlan(a *atom, pos int32) *plan {
	k := patPlanKey{a, pos}
	if p, ok := c.patPlans[k]; ok {
		return p
	}
	if c.patPlans == nil || len(c.patPlans) >= maxPatPlans {
		c.patPlans = map[patPlanKey]*plan{}
	}
	p := c.ix.patPlan(a.pat, pos)
	c.patPlans[k] = p
	return p
}

// sharedKey identifies a pattern plan across requests: the pattern's
// canonical source (its patterns and format, which determine the DFA and
// its state numbering), whether per-token records are kept, and the DFA
// state. pos trieKey stands for a class trie, src then being its byte
// partition.
type sharedKey struct {
	src     string
	limited bool
	pos     int32
}

const trieKey = -1

// maxSharedPlanBytes bounds the memory of the Index's pattern plans and
// class tries; the oldest go first. A plan holds a bit per token, plus, for
// a length-limited pattern, a record per token that stays inside; a class
// trie a few bytes per token.
const maxSharedPlanBytes = 64 << 20

// patCache holds the pattern plans of an Index, shared by every request
// whose schema uses the same pattern: the first visit of a DFA state walks
// the pattern's class trie (built on the first visit of any of its
// states), later ones (in any request) cost a lookup. Safe for concurrent
// use.
type patCache struct {
	mu     sync.Mutex
	budget int // bytes; maxSharedPlanBytes unless a test lowers it
	plans  map[sharedKey]*plan
	tries  map[string]*classTrie // by byte partition
	dfas   map[string]*dfa       // the DFA each source was first cached with
	order  []sharedKey           // insertion order, for eviction
	bytes  int
}

// size is the memory the plan holds for the cache budget (the ids of its
// groups belong to a trie and are not counted).
func (p *plan) size() int {
	n := 8*len(p.inside) + len(p.chars) + 32*len(p.groups) + 4*(len(p.needOff)+len(p.slow))
	for _, e := range p.exits {
		n += 48 + len(e.path)
	}
	return n + 64
}

// patPlan returns the shared plan of sp in DFA state pos, building it on a
// miss (by a walk of the pattern's class trie, built first if need be).
// Two requests may build the same plan at once; both get a correct plan
// and one is kept.
func (ix *Index) patPlan(sp *strPattern, pos int32) *plan {
	pc := &ix.pats
	k := sharedKey{sp.src, sp.limited, pos}
	pc.mu.Lock()
	shared := pc.shareable(sp)
	if p, ok := pc.plans[k]; ok && shared {
		pc.mu.Unlock()
		return p
	}
	pc.mu.Unlock()
	if !shared {
		return ix.buildPatPlan(sp, pos, nil)
	}
	p := ix.buildPatPlan(sp, pos, ix.classTrie(sp))
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if q, ok := pc.plans[k]; ok {
		return q
	}
	pc.init(sp)
	pc.plans[k] = p
	pc.order = append(pc.order, k)
	pc.bytes += p.size()
	pc.evict()
	return p
}

// classTrie returns the shared class trie of sp's byte partition, building
// it on a miss.
func (ix *Index) classTrie(sp *strPattern) *classTrie {
	pc := &ix.pats
	part := string(sp.cls[:])
	pc.mu.Lock()
	if ct, ok := pc.tries[part]; ok {
		pc.mu.Unlock()
		return ct
	}
	pc.mu.Unlock()
	ct := ix.newClassTrie(sp.cls, sp.rep)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if q, ok := pc.tries[part]; ok {
		return q
	}
	if pc.plans == nil {
		pc.plans, pc.tries, pc.dfas = map[sharedKey]*plan{}, map[string]*classTrie{}, map[string]*dfa{}
	}
	pc.tries[part] = ct
	pc.order = append(pc.order, sharedKey{src: part, pos: trieKey})
	pc.bytes += ct.size()
	pc.evict()
	return ct
}

// prepare builds the class tries of pats that are not cached yet, so that
// the first mask in each pattern does not pay for them: a constraint's
// creation pays (once per byte partition and process) rather than a
// decoding step.
func (ix *Index) prepare(pats []*strPattern) {
	for _, sp := range pats {
		if sp.src != "" {
			ix.classTrie(sp)
		}
	}
}

// shareable reports whether plans of sp may be shared under its source.
// The caller holds mu.
func (pc *patCache) shareable(sp *strPattern) bool {
	if sp.src == "" {
		return false
	}
	if d, ok := pc.dfas[sp.src]; ok && d != sp.d && !d.equal(sp.d) {
		return false // cannot happen with deterministic compiles; never trust a key blindly
	}
	return true
}

// init makes the maps and records sp's DFA as that of its source. The
// caller holds mu.
func (pc *patCache) init(sp *strPattern) {
	if pc.plans == nil {
		pc.plans, pc.tries, pc.dfas = map[sharedKey]*plan{}, map[string]*classTrie{}, map[string]*dfa{}
	}
	if _, ok := pc.dfas[sp.src]; !ok {
		pc.dfas[sp.src] = sp.d
	}
}

// evict drops the oldest plans and tries until the cache fits its budget
// (keeping at least the newest entry). The caller holds mu.
func (pc *patCache) evict() {
	budget := pc.budget
	if budget == 0 {
		budget = maxSharedPlanBytes
	}
	for pc.bytes > budget && len(pc.order) > 1 {
		old := pc.order[0]
		pc.order = pc.order[1:]
		if old.pos == trieKey {
			pc.bytes -= pc.tries[old.src].size()
			delete(pc.tries, old.src)
			continue
		}
		pc.bytes -= pc.plans[old].size()
		delete(pc.plans, old)
	}
	if len(pc.order) == 0 || len(pc.dfas) > 4*len(pc.order)+64 {
		// Drop the DFAs of evicted sources (rare: only on churn).
		live := map[string]bool{}
		for _, k := range pc.order {
			if k.pos != trieKey {
				live[k.src] = true
			}
		}
		for src := range pc.dfas {
			if !live[src] {
				delete(pc.dfas, src)
			}
		}
	}
}

// buildPatPlan walks the trie from DFA state pos of pattern sp, without
// length limits (a string state is then good exactly when the DFA state is
// live); a length-limited string checks each token's end state and count
// in allowLimited. With ct (sp's class trie) it walks that, else the byte
// trie: both give the same plan, up to the order of exits.
func (ix *Index) buildPatPlan(sp *strPattern, pos int32, ct *classTrie) *plan {
	w := ix.newPatWalk(sp, pos)
	if ct != nil {
		w.classes(ct)
	} else {
		w.bytes(0, int32(len(ix.tb)))
	}
	return w.finish()
}

// patWalk is one plan build: the plan so far and the string state at each
// trie depth, split so that the common path touches 8 bytes: DFA state and
// character count; esc and the \u digits (hash) only matter inside
// escapes.
type patWalk struct {
	ix      *Index
	sp      *strPattern
	a       *atom // a string of sp without length limits, for patAdvance
	p       *plan
	limited bool
	sPos    []int32
	sCnt    []int32
	sEsc    []uint8
	sHash   []uint64
}

func (ix *Index) newPatWalk(sp *strPattern, pos int32) *patWalk {
	w := &patWalk{ix: ix, sp: sp, limited: sp.limited, p: &plan{}}
	if !w.limited {
		w.p.inside = make([]uint64, (ix.vocab+63)/64)
	}
	w.a = &atom{kind: aString, maxLen: -1, pat: &strPattern{d: sp.d, t: sp.free}}
	depth := ix.maxDepth + 1
	w.sPos, w.sCnt = make([]int32, depth), make([]int32, depth)
	w.sEsc, w.sHash = make([]uint8, depth), make([]uint64, depth)
	w.sPos[0] = pos
	return w
}

// finish completes and returns the plan.
func (w *patWalk) finish() *plan {
	if w.limited {
		w.p.sortByNeed(w.sp.d.charDist())
	}
	return w.p
}

// mark records the tokens ids, which end in DFA state s after c
// characters (esc pending).
func (w *patWalk) mark(ids []int32, s, c int32, esc uint8) {
	p := w.p
	switch {
	case len(ids) == 0:
	case !w.limited:
		for _, id := range ids {
			p.inside[id>>6] |= 1 << (uint(id) & 63)
		}
	case esc != 0:
		p.slow = append(p.slow, ids...)
	default:
		p.groups = append(p.groups, tokGroup{ids: ids, end: s, chars: c})
	}
}

// bytes walks the byte-trie subtrees in nodes [lo, hi), whose parent state
// is at depth dep[lo]-1. Plain characters, nearly every trie node, take a
// fast path of one table lookup; escapes, control bytes and the closing
// quote go through patAdvance.
func (w *patWalk) bytes(lo, hi int32) {
	ix, p, a := w.ix, w.p, w.a
	next, pending, free := w.sp.d.next, w.sp.d.pending, w.sp.free
	rows := int32(free.rows)
	sPos, sCnt, sEsc, sHash := w.sPos, w.sCnt, w.sEsc, w.sHash
	tb, dep, end, idLo, ids := ix.tb, ix.dep, ix.end, ix.idLo, ix.ids
	n := int32(len(tb))
	for i := lo; i < hi; {
		d := dep[i]
		b := tb[i]
		s, c, esc := sPos[d-1], sCnt[d-1], sEsc[d-1]
		if esc == 0 && b >= 0x20 && b != '"' && b != '\\' {
			t := next[int(s)<<8|int(b)]
			if pending[s] == 0 {
				c++
			}
			if t < 0 || (c < rows && !free.good(int(c), t)) || (c >= rows && !free.unbnd) {
				i = end[i]
				continue
			}
			s = t
		} else {
			cur := tiny{esc: esc, count: c, pos: s, hash: sHash[d-1]}
			ok, _ := patAdvance(a, &cur, b)
			if b == '"' && esc == 0 {
				if ok {
					p.exits = append(p.exits, exit{node: i, pos: cur.pos, count: cur.count})
				}
				i = end[i]
				continue
			}
			if !ok {
				i = end[i]
				continue
			}
			s, c, esc = cur.pos, cur.count, cur.esc
			sHash[d] = cur.hash
		}
		sPos[d], sCnt[d], sEsc[d] = s, c, esc
		// Tokens ending here: idHi[i] is idLo[i+1] (preorder), read
		// from one array.
		top := int32(len(ids))
		if i+1 < n {
			top = idLo[i+1]
		}
		w.mark(ids[idLo[i]:top], s, c, esc)
		i++
	}
}

// classes walks the class trie ct of the pattern: the same decisions as
// bytes, made once per class string rather than once per byte string.
// Quote leaves become exits at each of their byte-trie nodes; the byte-trie
// subtrees of backslash leaves are walked by bytes.
func (w *patWalk) classes(ct *classTrie) {
	d := w.sp.d
	nc := int32(ct.nc)
	// The DFA over classes: cnext[s*nc+k].
	cnext := make([]int32, int32(d.n)*nc)
	for s := range int32(d.n) {
		for k, b := range ct.rep[clsFirst:] {
			cnext[s*nc+int32(k)+clsFirst] = d.next[int(s)<<8|int(b)]
		}
	}
	pending, accept, free := d.pending, d.accept, w.sp.free
	rows := int32(free.rows)
	sPos, sCnt := w.sPos, w.sCnt
	kls, dep, end, idAt, ids := ct.kls, ct.dep, ct.end, ct.idAt, ct.ids
	n := int32(len(kls))
	for i := int32(0); i < n; {
		dp := dep[i]
		s, c := sPos[dp-1], sCnt[dp-1]
		switch k := int32(kls[i]); k {
		case clsQuote:
			// patAdvance on the quote, esc 0 and minLen 0.
			if pending[s] == 0 && accept[s] {
				for _, bn := range ct.bnodes[ct.bnAt[i]:ct.bnAt[i+1]] {
					w.p.exits = append(w.p.exits, exit{node: bn, pos: s, count: c})
				}
			}
		case clsBack:
			w.sEsc[dp-1], w.sHash[dp-1] = 0, 0
			for _, bn := range ct.bnodes[ct.bnAt[i]:ct.bnAt[i+1]] {
				w.bytes(bn, w.ix.end[bn])
			}
		default:
			t := cnext[s*nc+k]
			if pending[s] == 0 {
				c++
			}
			if t < 0 || (c < rows && !free.good(int(c), t)) || (c >= rows && !free.unbnd) {
				i = end[i]
				continue
			}
			sPos[dp], sCnt[dp] = t, c
			w.mark(ids[idAt[i]:idAt[i+1]], t, c, 0)
		}
		i++
	}
}

// sortByNeed sorts groups by need and fills needOff (a counting sort;
// needs are capped at 255).
func (p *plan) sortByNeed(dist []int32) {
	need := func(g *tokGroup) int {
		return int(min(g.chars+dist[g.end], 255))
	}
	p.needOff = make([]int32, 257)
	for i := range p.groups {
		p.needOff[need(&p.groups[i])+1]++
	}
	for k := 1; k < len(p.needOff); k++ {
		p.needOff[k] += p.needOff[k-1]
	}
	sorted := make([]tokGroup, len(p.groups))
	at := slices.Clone(p.needOff[:256])
	for i := range p.groups {
		k := need(&p.groups[i])
		sorted[at[k]] = p.groups[i]
		at[k]++
	}
	p.groups = sorted
}

// allowLimited marks the plan tokens of a length-limited pattern string in
// fast state fl (no escape pending) that keep it completable: a token whose
// end state is good at its end count has every intermediate state good too,
// since the token itself continues them; tokens ending inside an escape are
// run byte by byte.
func (c *Constraint) allowLimited(pl *plan, fl *fastLevel) {
	ix := c.ix
	a := fl.a
	tab := a.pat.t
	count := int32(fl.st.count)
	groups := pl.groups
	if room := int32(a.maxLen) - count; a.minLen == 0 && room >= 0 && room < 255 {
		// maxLength only: good(c, s) is c + dist(s) <= maxLength, so the
		// allowed groups are a prefix.
		groups = groups[:pl.needOff[room+1]]
		for _, g := range groups {
			for _, id := range g.ids {
				c.ok[id>>6] |= 1 << (uint(id) & 63)
			}
		}
	} else {
		for _, g := range groups {
			if tab.good(int(count+g.chars), g.end) {
				for _, id := range g.ids {
					c.ok[id>>6] |= 1 << (uint(id) & 63)
				}
			}
		}
	}
	for _, id := range pl.slow {
		st := fl.st
		ok := true
		for _, b := range ix.tokBytes[ix.off[id]:ix.off[id+1]] {
			if ok, _ = patAdvance(a, &st, b); !ok {
				break
			}
		}
		if ok {
			c.ok[id>>6] |= 1 << (uint(id) & 63)
		}
	}
}
