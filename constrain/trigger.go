package constrain

import (
	"bytes"
	"fmt"
)

// Trigger is one way a model starts a tool call in free text: a marker
// (Hermes' "<tool_call>", Mistral's "[TOOL_CALLS]", Llama 3's
// "<|python_tag|>" or a message that opens with "{") after which the output
// is held to a region of calls. The text before the marker is free, and the
// marker itself is free text too: the model may write it as one special
// token or spell it out.
type Trigger struct {
	// Marker switches the constraint on as soon as the output contains it.
	Marker string
	// AtStart: the marker counts only when nothing but whitespace precedes
	// it (a whole-message call, as Llama 3 writes them).
	AtStart bool
	// Keep: the marker's bytes are the first bytes of the first value
	// (the marker "{" of a bare JSON call).
	Keep bool
	// Value is the schema of each value in the region (a call object, or
	// Mistral's array of them).
	Value *Compiled
	// Close is the literal that ends each value ("</tool_call>"); Sep the
	// literal that begins a further value ("<tool_call>", ";"), "" when
	// the region holds one value. Each may follow up to two whitespace
	// bytes (space or newline), and up to two may precede each value, so
	// the layouts models were trained on ("<tool_call>\n{...}\n</tool_call>")
	// fit while runaway whitespace cannot happen. Neither may begin with
	// whitespace.
	Close, Sep string
	// Max bounds the values of the region (0: no bound). When the region
	// has closed its last value, only end-of-generation may follow.
	Max int
}

// maxTriggers bounds the triggers of one set (the free state holds one
// matcher position per trigger in a fixed array, so copying it is cheap).
const maxTriggers = 4

type trigSpec struct {
	Trigger
	m    *matcher
	fail []int32 // KMP failure function of Marker
	// cands[p] are the tokens that, read from KMP state p, complete
	// Marker before their last byte (anywhere markers only): the only
	// tokens of free text whose tail the region must accept.
	cands [][]int32
}

// Triggers is a compiled trigger set on one vocabulary: immutable, shared by
// the choices of a request.
type Triggers struct {
	ix *Index
	ts []trigSpec
	// startLive is the bit set of AtStart triggers.
	startLive uint8
}

// Triggers compiles a set of triggers. The order matters only when two
// markers complete on the same byte: the first wins.
func (ix *Index) Triggers(ts ...Trigger) (*Triggers, error) {
	if len(ts) == 0 || len(ts) > maxTriggers {
		return nil, fmt.Errorf("constrain: %d triggers (want 1 to %d)", len(ts), maxTriggers)
	}
	out := &Triggers{ix: ix}
	for i, t := range ts {
		switch {
		case t.Marker == "":
			return nil, fmt.Errorf("constrain: trigger %d has no marker", i)
		case t.Value == nil:
			return nil, fmt.Errorf("constrain: trigger %d has no value schema", i)
		case t.Max < 0:
			return nil, fmt.Errorf("constrain: trigger %d: negative Max", i)
		case len(t.Close) > 0 && isRegionWS(t.Close[0]), len(t.Sep) > 0 && isRegionWS(t.Sep[0]):
			return nil, fmt.Errorf("constrain: trigger %d: a literal begins with whitespace", i)
		}
		ix.prepare(t.Value.pats)
		s := trigSpec{Trigger: t, fail: kmpFail(t.Marker)}
		s.m = &matcher{root: t.Value.root, prog: &program{close: t.Close, sep: t.Sep, max: t.Max}}
		if t.AtStart {
			out.startLive |= 1 << i
		} else {
			s.cands = ix.markerCands(t.Marker, s.fail)
		}
		out.ts = append(out.ts, s)
	}
	return out, nil
}

// kmpFail returns the Knuth-Morris-Pratt failure function of m: fail[i] is
// the length of the longest proper border of m[:i+1].
func kmpFail(m string) []int32 {
	f := make([]int32, len(m))
	k := int32(0)
	for i := 1; i < len(m); i++ {
		for k > 0 && m[i] != m[k] {
			k = f[k-1]
		}
		if m[i] == m[k] {
			k++
		}
		f[i] = k
	}
	return f
}

func kmpStep(m string, fail []int32, q int32, b byte) int32 {
	for q > 0 && (int(q) == len(m) || m[q] != b) {
		q = fail[q-1]
	}
	if m[q] == b {
		q++
	}
	return q
}

// maxCandSets bounds the Index's cache of marker candidates (the server
// uses a handful of fixed markers; anything else recomputes).
const maxCandSets = 16

// markerCands returns (cached per Index) the tokens that, read from each
// KMP state of marker, complete it before their last byte. Such a token
// must end with the marker's last byte somewhere before its own end, which
// rules out nearly the whole vocabulary before any matching.
func (ix *Index) markerCands(marker string, fail []int32) [][]int32 {
	ix.candMu.Lock()
	c, ok := ix.cands[marker]
	ix.candMu.Unlock()
	if ok {
		return c
	}
	c = make([][]int32, len(marker))
	last := marker[len(marker)-1]
	for id := 0; id < ix.vocab; id++ {
		b := ix.tokBytes[ix.off[id]:ix.off[id+1]]
		if ix.isEOG[id] || len(b) < 2 || bytes.IndexByte(b[:len(b)-1], last) < 0 {
			continue
		}
		for p := range c {
			q := int32(p)
			for k, x := range b {
				q = kmpStep(marker, fail, q, x)
				if int(q) == len(marker) {
					if k < len(b)-1 {
						c[p] = append(c[p], int32(id))
					}
					break
				}
			}
		}
	}
	ix.candMu.Lock()
	if ix.cands == nil || len(ix.cands) >= maxCandSets {
		ix.cands = map[string][][]int32{}
	}
	ix.cands[marker] = c
	ix.candMu.Unlock()
	return c
}

// freeState is where free text stands with respect to the markers.
type freeState struct {
	kmp  [maxTriggers]int32
	lead int32 // non-whitespace bytes read while AtStart markers are live
	live uint8 // AtStart triggers still possible
}

func isLeadSpace(b byte) bool { return b == ' ' || b == '\n' || b == '\t' || b == '\r' }

// step reads b in free text and returns the trigger whose marker it
// completes, or -1.
func (t *Triggers) step(fs *freeState, b byte) int {
	fired := -1
	for i := range t.ts {
		s := &t.ts[i]
		if s.AtStart {
			continue
		}
		q := kmpStep(s.Marker, s.fail, fs.kmp[i], b)
		fs.kmp[i] = q
		if int(q) == len(s.Marker) && fired < 0 {
			fired = i
		}
	}
	if f := t.startStep(fs, b); f >= 0 && fired < 0 {
		fired = f
	}
	return fired
}

// startStep is step for the AtStart markers.
func (t *Triggers) startStep(fs *freeState, b byte) int {
	if fs.live == 0 || (fs.lead == 0 && isLeadSpace(b)) {
		return -1
	}
	fired := -1
	for i := range t.ts {
		if fs.live&(1<<i) == 0 {
			continue
		}
		m := t.ts[i].Marker
		if m[fs.lead] != b {
			fs.live &^= 1 << i
			continue
		}
		if int(fs.lead)+1 == len(m) && fired < 0 {
			fired = i
		}
	}
	fs.lead++
	return fired
}

// regionAccepts reports whether the region of trigger i accepts rest right
// after its marker.
func (t *Triggers) regionAccepts(i int, rest []byte) bool {
	s := &t.ts[i]
	st := s.m.start()
	var buf []thread
	feed := func(b []byte) bool {
		for _, x := range b {
			buf = s.m.feed(st, x, buf[:0])
			st, buf = buf, st
			if len(st) == 0 {
				return false
			}
		}
		return true
	}
	if s.Keep && !feed([]byte(s.Marker)) {
		return false
	}
	return feed(rest)
}

// New returns the decoding state of one sequence.
func (t *Triggers) New() *Triggered {
	return &Triggered{t: t, fs: freeState{live: t.startLive}}
}

// Triggered is a constraint that leaves the output free until it starts a
// call, then holds the rest to the region of the trigger that fired: each
// value valid against its schema, with the region's literals around, and
// nothing after the region but end-of-generation. While free it costs
// nothing per step, except when the next token could complete a marker and
// run on into the call: those few tokens are checked against the region.
// Not safe for concurrent use; it satisfies engine.Constraint.
type Triggered struct {
	t        *Triggers
	fs       freeState
	in       *Constraint // the region, once a marker fired
	fired    int
	finished bool
}

// Started reports whether the output has started a call, and which
// trigger's (its index in the set).
func (c *Triggered) Started() (int, bool) { return c.fired, c.in != nil }

// Free reports that Allow would restrict nothing at this step: free text
// where no token can complete a marker and run on into a call. The engine
// then skips the mask altogether, so free text costs nothing per step.
func (c *Triggered) Free() bool {
	if c.in != nil || c.finished || c.fs.live != 0 {
		return false
	}
	for i := range c.t.ts {
		if s := &c.t.ts[i]; !s.AtStart && len(s.cands[c.fs.kmp[i]]) > 0 {
			return false
		}
	}
	return true
}

// Done reports whether the output may end here: anywhere in free text, and
// in a region once its last value is closed.
func (c *Triggered) Done() bool {
	if c.in != nil {
		return c.in.Done()
	}
	return true
}

// Allow sets allowed[id] to false for every token that may not come next.
func (c *Triggered) Allow(allowed []bool) {
	switch {
	case c.in != nil:
		c.in.Allow(allowed)
		return
	case c.finished:
		clear(allowed)
		return
	}
	check := func(id int32) {
		if int(id) < len(allowed) && allowed[id] && !c.viable(int(id)) {
			allowed[id] = false
		}
	}
	for i := range c.t.ts {
		s := &c.t.ts[i]
		if !s.AtStart {
			for _, id := range s.cands[c.fs.kmp[i]] {
				check(id)
			}
		}
	}
	if c.fs.live != 0 {
		c.startCands(c.fs, 0, int32(len(c.t.ix.tb)), check)
	}
}

// viable reports whether free-text token id either starts no call or
// starts one whose region accepts the rest of the token.
func (c *Triggered) viable(id int) bool {
	ix := c.t.ix
	fs := c.fs
	b := ix.tokBytes[ix.off[id]:ix.off[id+1]]
	for k, x := range b {
		if i := c.t.step(&fs, x); i >= 0 {
			return c.t.regionAccepts(i, b[k+1:])
		}
	}
	return true
}

// startCands calls fn for every token below trie nodes [lo, hi) (siblings
// whose parent is in state fs) that completes an AtStart marker before its
// last byte. It follows only paths that keep such a marker possible, which
// is a handful of nodes (leading whitespace, then the marker's bytes).
func (c *Triggered) startCands(fs freeState, lo, hi int32, fn func(int32)) {
	ix := c.t.ix
	for i := lo; i < hi; i = ix.end[i] {
		f := fs
		if c.t.startStep(&f, ix.tb[i]) >= 0 {
			last := ix.end[i] - 1
			for _, id := range ix.ids[ix.idHi[i]:ix.idHi[last]] {
				fn(id)
			}
			continue
		}
		if f.live != 0 {
			c.startCands(f, i+1, ix.end[i], fn)
		}
	}
}

// Accept advances past tok, which must be allowed.
func (c *Triggered) Accept(tok int) error {
	ix := c.t.ix
	switch {
	case tok < 0 || tok >= ix.vocab:
		return fmt.Errorf("constrain: token %d out of range", tok)
	case c.finished:
		return fmt.Errorf("constrain: token %d after end of generation", tok)
	case ix.isEOG[tok]:
		if !c.Done() {
			return fmt.Errorf("constrain: end of generation (token %d) inside a tool call", tok)
		}
		c.finished = true
		if c.in != nil {
			c.in.finished = true
		}
		return nil
	case c.in != nil:
		return c.in.Accept(tok)
	}
	b := ix.tokBytes[ix.off[tok]:ix.off[tok+1]]
	for k, x := range b {
		i := c.t.step(&c.fs, x)
		if i < 0 {
			continue
		}
		s := &c.t.ts[i]
		in := ix.newMatcherConstraint(s.m)
		if s.Keep {
			if err := in.feedBytes([]byte(s.Marker)); err != nil {
				return fmt.Errorf("constrain: token %d starts a call: %w", tok, err)
			}
		}
		if err := in.feedBytes(b[k+1:]); err != nil {
			return fmt.Errorf("constrain: token %d starts a call: %w", tok, err)
		}
		c.in, c.fired = in, i
		return nil
	}
	return nil
}
