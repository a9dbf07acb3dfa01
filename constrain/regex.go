package constrain

// JSON Schema "pattern" support: a subset of ECMA-262 regular expressions
// compiled to a DFA over the UTF-8 bytes of the decoded string. Working on
// bytes (rather than runes) lets the matcher reject a token that ends in
// the middle of a character no completion of which the pattern accepts, so
// a pattern can never lead the output into a dead end. Patterns are
// unanchored, as ECMA's RegExp.test is: a pattern without ^ matches
// anywhere, which the compiler expresses by surrounding each top-level
// alternative with "any string" where it lacks its anchor.

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of one pattern: the NFA is linear in the pattern once repetition
// counts are expanded, the DFA may be exponential, so both are bounded.
const (
	maxRepeat    = 1000  // m and n of {m,n}
	maxNFAStates = 50000 // after expansion of counted repetitions
	maxDFAStates = 4000
	maxLenTable  = 1 << 22 // bits of a pattern's length table
)

type rrange struct{ lo, hi rune }

type reOp uint8

const (
	reClass reOp = iota
	reCat
	reAlt
	reRep
)

type reNode struct {
	op       reOp
	cls      []rrange // reClass: sorted, disjoint, no surrogates
	subs     []*reNode
	min, max int // reRep; max -1: unbounded
}

var anyRune = []rrange{{0, 0xD7FF}, {0xE000, utf8.MaxRune}}

// normalize sorts and merges ranges and removes surrogates (a decoded JSON
// string never holds one).
func normalize(rs []rrange) []rrange {
	var cut []rrange
	for _, r := range rs {
		if r.lo > r.hi {
			continue
		}
		if r.lo <= 0xDFFF && r.hi >= 0xD800 {
			if r.lo < 0xD800 {
				cut = append(cut, rrange{r.lo, 0xD7FF})
			}
			if r.hi > 0xDFFF {
				cut = append(cut, rrange{0xE000, r.hi})
			}
			continue
		}
		cut = append(cut, r)
	}
	sort.Slice(cut, func(i, j int) bool { return cut[i].lo < cut[j].lo })
	var out []rrange
	for _, r := range cut {
		if n := len(out); n > 0 && r.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

func negate(rs []rrange) []rrange {
	rs = normalize(rs)
	var out []rrange
	next := rune(0)
	for _, r := range rs {
		if r.lo > next {
			out = append(out, rrange{next, r.lo - 1})
		}
		next = r.hi + 1
	}
	if next <= utf8.MaxRune {
		out = append(out, rrange{next, utf8.MaxRune})
	}
	return normalize(out)
}

var (
	digitCls = []rrange{{'0', '9'}}
	wordCls  = []rrange{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}
	spaceCls = []rrange{{'\t', '\r'}, {' ', ' '}, {0xA0, 0xA0}, {0x1680, 0x1680}, {0x2000, 0x200A},
		{0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}}
	dotCls = negate([]rrange{{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}})
)

type reParser struct {
	s []rune
	i int
}

func (p *reParser) errorf(format string, args ...any) error {
	return fmt.Errorf("pattern: "+format, args...)
}

func (p *reParser) more() bool { return p.i < len(p.s) }
func (p *reParser) peek() rune {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return -1
}

// parsePattern parses an ECMA-262 pattern into its unanchored form.
func parsePattern(pat string) (*reNode, error) {
	if !utf8.ValidString(pat) {
		return nil, errors.New("pattern: not valid UTF-8")
	}
	p := &reParser{s: []rune(pat)}
	var alts []*reNode
	for {
		start, end := false, false
		if p.peek() == '^' {
			p.i++
			start = true
		}
		cat, err := p.concat(true)
		if err != nil {
			return nil, err
		}
		if p.peek() == '$' {
			p.i++
			end = true
			if p.more() && p.peek() != '|' {
				return nil, p.errorf("$ is only supported at the end of a top-level alternative")
			}
		}
		var parts []*reNode
		if !start {
			parts = append(parts, &reNode{op: reRep, subs: []*reNode{{op: reClass, cls: anyRune}}, max: -1})
		}
		parts = append(parts, cat)
		if !end {
			parts = append(parts, &reNode{op: reRep, subs: []*reNode{{op: reClass, cls: anyRune}}, max: -1})
		}
		alts = append(alts, &reNode{op: reCat, subs: parts})
		if !p.more() {
			break
		}
		if p.peek() != '|' {
			return nil, p.errorf("unbalanced )")
		}
		p.i++
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &reNode{op: reAlt, subs: alts}, nil
}

// alt parses a|b|... up to a closing parenthesis (not consumed).
func (p *reParser) alt() (*reNode, error) {
	var alts []*reNode
	for {
		c, err := p.concat(false)
		if err != nil {
			return nil, err
		}
		alts = append(alts, c)
		if p.peek() != '|' {
			break
		}
		p.i++
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &reNode{op: reAlt, subs: alts}, nil
}

// concat parses a sequence of quantified atoms. At the top level it stops
// before a '$' that ends the alternative.
func (p *reParser) concat(top bool) (*reNode, error) {
	cat := &reNode{op: reCat}
	for p.more() {
		c := p.peek()
		if c == '|' || c == ')' {
			if c == ')' && top {
				return nil, p.errorf("unbalanced )")
			}
			break
		}
		if c == '$' && top && (p.i+1 == len(p.s) || p.s[p.i+1] == '|') {
			break
		}
		if c == '^' || c == '$' {
			return nil, p.errorf("anchor %c is only supported at the start (^) or end ($) of a top-level alternative", c)
		}
		a, err := p.atom()
		if err != nil {
			return nil, err
		}
		a, err = p.quantifier(a)
		if err != nil {
			return nil, err
		}
		cat.subs = append(cat.subs, a)
	}
	return cat, nil
}

func (p *reParser) quantifier(a *reNode) (*reNode, error) {
	for p.more() {
		lo, hi := 0, 0
		switch p.peek() {
		case '*':
			lo, hi = 0, -1
			p.i++
		case '+':
			lo, hi = 1, -1
			p.i++
		case '?':
			lo, hi = 0, 1
			p.i++
		case '{':
			var ok bool
			lo, hi, ok = p.braces()
			if !ok {
				return a, nil // a literal '{' (Annex B)
			}
		default:
			return a, nil
		}
		if p.peek() == '?' {
			p.i++ // lazy: the same language
		}
		if hi >= 0 && lo > hi {
			return nil, p.errorf("numbers out of order in {%d,%d}", lo, hi)
		}
		if lo > maxRepeat || hi > maxRepeat {
			return nil, fmt.Errorf("pattern: %w: repetition count above %d", ErrSchemaTooComplex, maxRepeat)
		}
		a = &reNode{op: reRep, subs: []*reNode{a}, min: lo, max: hi}
	}
	return a, nil
}

// braces parses {m}, {m,} or {m,n} at p.i; ok false leaves p.i unchanged.
func (p *reParser) braces() (lo, hi int, ok bool) {
	j := p.i + 1
	num := func() (int, bool) {
		k := j
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j == k {
			return 0, false
		}
		n, err := strconv.Atoi(string(p.s[k:j]))
		if err != nil || n > maxRepeat {
			n = maxRepeat + 1
		}
		return n, true
	}
	lo, ok = num()
	if !ok {
		return 0, 0, false
	}
	hi = lo
	if j < len(p.s) && p.s[j] == ',' {
		j++
		hi = -1
		if j < len(p.s) && p.s[j] != '}' {
			if hi, ok = num(); !ok {
				return 0, 0, false
			}
		}
	}
	if j >= len(p.s) || p.s[j] != '}' {
		return 0, 0, false
	}
	p.i = j + 1
	return lo, hi, true
}

func (p *reParser) atom() (*reNode, error) {
	c := p.s[p.i]
	p.i++
	switch c {
	case '(':
		if p.peek() == '?' {
			switch {
			case p.i+1 < len(p.s) && p.s[p.i+1] == ':':
				p.i += 2
			case p.i+1 < len(p.s) && (p.s[p.i+1] == '=' || p.s[p.i+1] == '!'):
				return nil, p.errorf("lookahead (?%c is not supported", p.s[p.i+1])
			case p.i+2 < len(p.s) && p.s[p.i+1] == '<' && (p.s[p.i+2] == '=' || p.s[p.i+2] == '!'):
				return nil, p.errorf("lookbehind (?<%c is not supported", p.s[p.i+2])
			case p.i+1 < len(p.s) && p.s[p.i+1] == '<':
				k := strings.IndexRune(string(p.s[p.i:]), '>')
				if k < 0 {
					return nil, p.errorf("unterminated group name")
				}
				p.i += len([]rune(string(p.s[p.i:])[:k])) + 1
			default:
				return nil, p.errorf("unsupported group syntax (?%c", p.peek())
			}
		}
		n, err := p.alt()
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, p.errorf("missing )")
		}
		p.i++
		return n, nil
	case '[':
		return p.class()
	case '.':
		return &reNode{op: reClass, cls: dotCls}, nil
	case '\\':
		cls, err := p.escape(false)
		if err != nil {
			return nil, err
		}
		return &reNode{op: reClass, cls: cls}, nil
	case '*', '+', '?':
		return nil, p.errorf("nothing to repeat before %c", c)
	case '{':
		if _, _, ok := p.bracesAt(p.i - 1); ok {
			return nil, p.errorf("nothing to repeat before {")
		}
	case ']', '}':
	}
	return &reNode{op: reClass, cls: normalize([]rrange{{c, c}})}, nil
}

func (p *reParser) bracesAt(i int) (int, int, bool) {
	save := p.i
	p.i = i
	lo, hi, ok := p.braces()
	p.i = save
	return lo, hi, ok
}

// escape parses what follows a backslash: a class escape or one character.
func (p *reParser) escape(inClass bool) ([]rrange, error) {
	if !p.more() {
		return nil, p.errorf("trailing backslash")
	}
	c := p.s[p.i]
	p.i++
	one := func(r rune) []rrange { return normalize([]rrange{{r, r}}) }
	switch c {
	case 'd':
		return digitCls, nil
	case 'D':
		return negate(digitCls), nil
	case 'w':
		return wordCls, nil
	case 'W':
		return negate(wordCls), nil
	case 's':
		return spaceCls, nil
	case 'S':
		return negate(spaceCls), nil
	case 'n':
		return one('\n'), nil
	case 'r':
		return one('\r'), nil
	case 't':
		return one('\t'), nil
	case 'f':
		return one('\f'), nil
	case 'v':
		return one('\v'), nil
	case '0':
		if p.more() && p.peek() >= '0' && p.peek() <= '9' {
			return nil, p.errorf("octal escapes are not supported")
		}
		return one(0), nil
	case 'b':
		if inClass {
			return one('\b'), nil
		}
		return nil, p.errorf("word boundary \\b is not supported")
	case 'B':
		return nil, p.errorf("word boundary \\B is not supported")
	case 'x', 'u':
		n := 2
		if c == 'u' {
			n = 4
		}
		if p.i+n > len(p.s) {
			return nil, p.errorf("bad \\%c escape", c)
		}
		v, err := strconv.ParseUint(string(p.s[p.i:p.i+n]), 16, 32)
		if err != nil {
			return nil, p.errorf("bad \\%c escape", c)
		}
		p.i += n
		return one(rune(v)), nil
	case 'k':
		return nil, p.errorf("backreference \\k is not supported")
	case 'c', 'p', 'P':
		return nil, p.errorf("escape \\%c is not supported", c)
	}
	if c >= '1' && c <= '9' {
		return nil, p.errorf("backreference \\%c is not supported", c)
	}
	if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return nil, p.errorf("unknown escape \\%c", c)
	}
	return one(c), nil
}

func (p *reParser) class() (*reNode, error) {
	neg := false
	if p.peek() == '^' {
		neg = true
		p.i++
	}
	var rs []rrange
	for {
		if !p.more() {
			return nil, p.errorf("missing ]")
		}
		c := p.s[p.i]
		p.i++
		if c == ']' {
			break
		}
		var lo []rrange
		single := true
		if c == '\\' {
			e, err := p.escape(true)
			if err != nil {
				return nil, err
			}
			lo = e
			single = len(e) == 1 && e[0].lo == e[0].hi
		} else {
			lo = []rrange{{c, c}}
		}
		if single && p.peek() == '-' && p.i+1 < len(p.s) && p.s[p.i+1] != ']' {
			p.i++
			d := p.s[p.i]
			p.i++
			hi := []rrange{{d, d}}
			if d == '\\' {
				e, err := p.escape(true)
				if err != nil {
					return nil, err
				}
				hi = e
				if len(e) != 1 || e[0].lo != e[0].hi {
					return nil, p.errorf("class escape as the end of a range")
				}
			}
			if hi[0].lo < lo[0].lo {
				return nil, p.errorf("range out of order in character class")
			}
			rs = append(rs, rrange{lo[0].lo, hi[0].lo})
			continue
		}
		rs = append(rs, lo...)
	}
	if neg {
		return &reNode{op: reClass, cls: negate(rs)}, nil
	}
	return &reNode{op: reClass, cls: normalize(rs)}, nil
}

// Byte-level NFA.

type bedge struct {
	lo, hi byte
	to     int32
}

type nfa struct {
	eps   [][]int32
	edges [][]bedge
}

func (a *nfa) state() (int32, error) {
	if len(a.eps) >= maxNFAStates {
		return 0, fmt.Errorf("pattern: %w: more than %d automaton states", ErrSchemaTooComplex, maxNFAStates)
	}
	a.eps = append(a.eps, nil)
	a.edges = append(a.edges, nil)
	return int32(len(a.eps) - 1), nil
}

// utf8Seqs appends the byte-range sequences whose concatenations are the
// UTF-8 encodings of the runes lo..hi (surrogate-free).
func utf8Seqs(lo, hi rune, out [][]bedge) [][]bedge {
	for _, m := range []rune{0x7F, 0x7FF, 0xFFFF} {
		if lo <= m && hi > m {
			out = utf8Seqs(lo, m, out)
			return utf8Seqs(m+1, hi, out)
		}
	}
	if hi < 0x80 {
		return append(out, []bedge{{byte(lo), byte(hi), 0}})
	}
	n := utf8.RuneLen(lo)
	for i := 1; i < n; i++ {
		m := rune(1)<<(6*i) - 1
		if lo&^m != hi&^m {
			if lo&m != 0 {
				out = utf8Seqs(lo, lo|m, out)
				return utf8Seqs((lo|m)+1, hi, out)
			}
			if hi&m != m {
				out = utf8Seqs(lo, (hi&^m)-1, out)
				return utf8Seqs(hi&^m, hi, out)
			}
		}
	}
	var a, b [4]byte
	utf8.EncodeRune(a[:], lo)
	utf8.EncodeRune(b[:], hi)
	seq := make([]bedge, n)
	for i := range seq {
		seq[i] = bedge{a[i], b[i], 0}
	}
	return append(out, seq)
}

// build adds the fragment of n between states from and to.
func (a *nfa) build(n *reNode, from, to int32) error {
	switch n.op {
	case reClass:
		var seqs [][]bedge
		for _, r := range n.cls {
			seqs = utf8Seqs(r.lo, r.hi, seqs)
		}
		for _, seq := range seqs {
			cur := from
			for i, e := range seq {
				nx := to
				if i < len(seq)-1 {
					var err error
					if nx, err = a.state(); err != nil {
						return err
					}
				}
				e.to = nx
				a.edges[cur] = append(a.edges[cur], e)
				cur = nx
			}
		}
	case reCat:
		cur := from
		for i, s := range n.subs {
			nx := to
			if i < len(n.subs)-1 {
				var err error
				if nx, err = a.state(); err != nil {
					return err
				}
			}
			if err := a.build(s, cur, nx); err != nil {
				return err
			}
			cur = nx
		}
		if len(n.subs) == 0 {
			a.eps[from] = append(a.eps[from], to)
		}
	case reAlt:
		for _, s := range n.subs {
			if err := a.build(s, from, to); err != nil {
				return err
			}
		}
	case reRep:
		sub := n.subs[0]
		cur := from
		for i := 0; i < n.min; i++ {
			nx, err := a.state()
			if err != nil {
				return err
			}
			if err := a.build(sub, cur, nx); err != nil {
				return err
			}
			cur = nx
		}
		if n.max < 0 {
			// cur -> loop -> cur, through a fresh state so that the loop
			// cannot be entered from elsewhere.
			loop, err := a.state()
			if err != nil {
				return err
			}
			a.eps[cur] = append(a.eps[cur], loop)
			if err := a.build(sub, loop, loop); err != nil {
				return err
			}
			a.eps[loop] = append(a.eps[loop], to)
			return nil
		}
		for i := n.min; i < n.max; i++ {
			a.eps[cur] = append(a.eps[cur], to)
			nx, err := a.state()
			if err != nil {
				return err
			}
			if err := a.build(sub, cur, nx); err != nil {
				return err
			}
			cur = nx
		}
		a.eps[cur] = append(a.eps[cur], to)
	}
	return nil
}

// dfa is a deterministic automaton over bytes; state 0 is the start, -1 in
// next means no transition. After pruning every state with a transition in
// is live: some continuation reaches an accepting state.
type dfa struct {
	n       int
	next    []int32 // n*256
	accept  []bool
	pending []uint8 // continuation bytes still due in the current character
}

func (d *dfa) step(s int32, b byte) int32 { return d.next[int(s)<<8|int(b)] }

// equal reports whether d and e are the same automaton, state for state.
func (d *dfa) equal(e *dfa) bool {
	return d.n == e.n && slices.Equal(d.next, e.next) && slices.Equal(d.accept, e.accept) && slices.Equal(d.pending, e.pending)
}

// compilePattern compiles an ECMA-262 pattern to a pruned DFA.
func compilePattern(pat string) (*dfa, error) {
	re, err := parsePattern(pat)
	if err != nil {
		return nil, err
	}
	a := &nfa{}
	start, _ := a.state()
	final, _ := a.state()
	if err := a.build(re, start, final); err != nil {
		return nil, err
	}
	return a.determinize(start, final)
}

func (a *nfa) closure(set []int32, mark []uint32, gen uint32) []int32 {
	stack := append([]int32(nil), set...)
	for _, s := range set {
		mark[s] = gen
	}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, t := range a.eps[s] {
			if mark[t] != gen {
				mark[t] = gen
				set = append(set, t)
				stack = append(stack, t)
			}
		}
	}
	sort.Slice(set, func(i, j int) bool { return set[i] < set[j] })
	return set
}

func (a *nfa) determinize(start, final int32) (*dfa, error) {
	mark := make([]uint32, len(a.eps))
	gen := uint32(1)
	key := func(set []int32) string {
		b := make([]byte, 0, 4*len(set))
		for _, s := range set {
			b = append(b, byte(s), byte(s>>8), byte(s>>16), byte(s>>24))
		}
		return string(b)
	}
	d := &dfa{}
	ids := map[string]int32{}
	var sets [][]int32
	add := func(set []int32) (int32, error) {
		k := key(set)
		if id, ok := ids[k]; ok {
			return id, nil
		}
		if len(sets) >= maxDFAStates {
			return 0, fmt.Errorf("pattern: %w: more than %d automaton states", ErrSchemaTooComplex, maxDFAStates)
		}
		id := int32(len(sets))
		ids[k] = id
		sets = append(sets, set)
		acc := false
		for _, s := range set {
			acc = acc || s == final
		}
		d.accept = append(d.accept, acc)
		d.next = append(d.next, make([]int32, 256)...)
		return id, nil
	}
	if _, err := add(a.closure([]int32{start}, mark, gen)); err != nil {
		return nil, err
	}
	for i := 0; i < len(sets); i++ {
		for b := 0; b < 256; b++ {
			gen++
			var nx []int32
			for _, s := range sets[i] {
				for _, e := range a.edges[s] {
					if byte(b) >= e.lo && byte(b) <= e.hi && mark[e.to] != gen {
						mark[e.to] = gen
						nx = append(nx, e.to)
					}
				}
			}
			if len(nx) == 0 {
				d.next[i<<8|b] = -1
				continue
			}
			gen++
			id, err := add(a.closure(nx, mark, gen))
			if err != nil {
				return nil, err
			}
			d.next[i<<8|b] = id
		}
	}
	d.n = len(sets)
	d.prune()
	return d, nil
}

// prune removes the transitions into states from which no accepting state
// can be reached, and computes pending.
func (d *dfa) prune() {
	rev := make([][]int32, d.n)
	for s := 0; s < d.n; s++ {
		for b := 0; b < 256; b++ {
			if t := d.next[s<<8|b]; t >= 0 {
				rev[t] = append(rev[t], int32(s))
			}
		}
	}
	live := make([]bool, d.n)
	var stack []int32
	for s := 0; s < d.n; s++ {
		if d.accept[s] {
			live[s] = true
			stack = append(stack, int32(s))
		}
	}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, s := range rev[t] {
			if !live[s] {
				live[s] = true
				stack = append(stack, s)
			}
		}
	}
	for i, t := range d.next {
		if t >= 0 && !live[t] {
			d.next[i] = -1
		}
	}
	d.pending = make([]uint8, d.n)
	seen := make([]bool, d.n)
	seen[0] = true
	stack = append(stack[:0], 0)
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for b := 0; b < 256; b++ {
			t := d.step(s, byte(b))
			if t < 0 || seen[t] {
				continue
			}
			seen[t] = true
			switch p := d.pending[s]; {
			case p > 0:
				d.pending[t] = p - 1
			case b >= 0xF0:
				d.pending[t] = 3
			case b >= 0xE0:
				d.pending[t] = 2
			case b >= 0xC0:
				d.pending[t] = 1
			}
			stack = append(stack, t)
		}
	}
}

// charDist returns, for each state, the fewest characters that lead from
// it to an accepting state (a large number for none): a 0-1 breadth-first
// search backwards by rounds, where a byte read in a state with no continuation
// bytes pending begins a character and costs one. For a string with
// maxLength only, the length table says exactly c + dist(s) <= maxLength.
func (d *dfa) charDist() []int32 {
	const far = 1 << 30
	type edge struct {
		from int32
		w    int32
	}
	rev := make([][]edge, d.n)
	for s := 0; s < d.n; s++ {
		w := int32(0)
		if d.pending[s] == 0 {
			w = 1
		}
		for b := 0; b < 256; b++ {
			if t := d.next[s<<8|b]; t >= 0 {
				rev[t] = append(rev[t], edge{int32(s), w})
			}
		}
	}
	dist := make([]int32, d.n)
	var cur []int32
	for s := range dist {
		dist[s] = far
		if d.accept[s] {
			dist[s] = 0
			cur = append(cur, int32(s))
		}
	}
	// Round k: close the states at distance k under free edges, then step
	// once over a costing edge to distance k+1.
	for k := int32(0); len(cur) > 0; k++ {
		for i := 0; i < len(cur); i++ {
			for _, e := range rev[cur[i]] {
				if e.w == 0 && dist[e.from] > k {
					dist[e.from] = k
					cur = append(cur, e.from)
				}
			}
		}
		var nxt []int32
		for _, t := range cur {
			for _, e := range rev[t] {
				if e.w == 1 && dist[e.from] > k+1 {
					dist[e.from] = k + 1
					nxt = append(nxt, e.from)
				}
			}
		}
		cur = nxt
	}
	return dist
}

// matches runs the DFA over s.
func (d *dfa) matches(s string) bool {
	cur := int32(0)
	for i := 0; i < len(s); i++ {
		if cur = d.step(cur, s[i]); cur < 0 {
			return false
		}
	}
	return d.accept[cur]
}

// intersect is the product automaton: strings both accept.
func intersect(x, y *dfa) (*dfa, error) {
	type pair struct{ a, b int32 }
	ids := map[pair]int32{{0, 0}: 0}
	pairs := []pair{{0, 0}}
	d := &dfa{}
	for i := 0; i < len(pairs); i++ {
		p := pairs[i]
		d.accept = append(d.accept, x.accept[p.a] && y.accept[p.b])
		row := make([]int32, 256)
		for b := 0; b < 256; b++ {
			ta, tb := x.step(p.a, byte(b)), y.step(p.b, byte(b))
			if ta < 0 || tb < 0 {
				row[b] = -1
				continue
			}
			q := pair{ta, tb}
			id, ok := ids[q]
			if !ok {
				if len(pairs) >= maxDFAStates {
					return nil, fmt.Errorf("pattern: %w: more than %d automaton states", ErrSchemaTooComplex, maxDFAStates)
				}
				id = int32(len(pairs))
				ids[q] = id
				pairs = append(pairs, q)
			}
			row[b] = id
		}
		d.next = append(d.next, row...)
	}
	d.n = len(pairs)
	d.prune()
	return d, nil
}

// lenTable says, for a string of minLen..maxLen characters (maxLen -1:
// unbounded) matching the DFA, whether a state reached after c characters
// can still be completed: good(c, s). Characters are counted on their first
// byte, as the matcher does. For c beyond the table (only when maxLen is
// unbounded) every live state is good.
type lenTable struct {
	rows  int // c in [0, rows)
	n     int
	bits  []uint64
	unbnd bool
}

func (t *lenTable) good(c int, s int32) bool {
	if s < 0 {
		return false
	}
	if c >= t.rows {
		return t.unbnd
	}
	i := c*t.n + int(s)
	return t.bits[i>>6]&(1<<(uint(i)&63)) != 0
}

func (t *lenTable) set(c int, s int) {
	i := c*t.n + s
	t.bits[i>>6] |= 1 << (uint(i) & 63)
}

func newLenTable(d *dfa, minLen, maxLen int) (*lenTable, error) {
	c0 := minLen
	if maxLen >= 0 {
		c0 = maxLen
	}
	rows := c0 + 1
	if rows*d.n > maxLenTable {
		return nil, fmt.Errorf("pattern: %w: length limits too large for the pattern", ErrSchemaTooComplex)
	}
	t := &lenTable{rows: rows, n: d.n, bits: make([]uint64, (rows*d.n+63)/64), unbnd: maxLen < 0}
	// Distinct successors of each state, by pending count.
	succ := make([][]int32, d.n)
	for s := 0; s < d.n; s++ {
		var prev int32 = -1
		for b := 0; b < 256; b++ {
			if x := d.step(int32(s), byte(b)); x >= 0 && x != prev {
				dup := false
				for _, y := range succ[s] {
					dup = dup || y == x
				}
				if !dup {
					succ[s] = append(succ[s], x)
				}
				prev = x
			}
		}
	}
	for c := rows - 1; c >= 0; c-- {
		for p := uint8(0); p <= 3; p++ {
			for s := 0; s < d.n; s++ {
				if d.pending[s] != p {
					continue
				}
				ok := false
				if p == 0 {
					ok = d.accept[s] && c >= minLen && (maxLen < 0 || c <= maxLen)
					if !ok && (maxLen < 0 || c < maxLen) {
						for _, x := range succ[s] {
							if t.good(c+1, x) {
								ok = true
								break
							}
						}
					}
				} else {
					for _, x := range succ[s] {
						if t.good(c, x) {
							ok = true
							break
						}
					}
				}
				if ok {
					t.set(c, s)
				}
			}
		}
	}
	return t, nil
}

// strPattern is the pattern constraint of a string atom.
type strPattern struct {
	// src is the canonical form of what compiled to d (its patterns and
	// format): equal sources give equal DFAs, so it keys the plans shared
	// across requests.
	src  string
	d    *dfa
	t    *lenTable
	free *lenTable // the table without length limits, for Allow plans
	// limited: minLength or maxLength applies, so t depends on the count.
	limited bool
	// cls and rep are d's byte classes (see byteClasses), which key the
	// Index's class tries.
	cls [256]uint8
	rep []byte
}

// jsonEscapes are the characters the matcher may write as an escape inside
// a pattern-constrained string: the short escapes and, through \u00XX, the
// control characters. Other characters are written as UTF-8.
var jsonEscapes = [...]struct{ c, r byte }{{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'b', '\b'}, {'f', '\f'}, {'n', '\n'}, {'r', '\r'}, {'t', '\t'}}

func unescape(c byte) (byte, bool) {
	for _, e := range jsonEscapes {
		if e.c == c {
			return e.r, true
		}
	}
	return 0, false
}

func hexVal(b byte) byte {
	switch {
	case b >= 'a':
		return b - 'a' + 10
	case b >= 'A':
		return b - 'A' + 10
	}
	return b - '0'
}

// escapeOK reports whether some escape written at DFA state s, as
// character number c (counted from 1), keeps the string completable.
func (p *strPattern) escapeOK(s int32, c int) bool {
	for _, e := range jsonEscapes {
		if p.t.good(c, p.d.step(s, e.r)) {
			return true
		}
	}
	return p.ctrlOK(s, c, 0, 0x1F)
}

func (p *strPattern) ctrlOK(s int32, c int, lo, hi byte) bool {
	for r := lo; r <= hi; r++ {
		if p.t.good(c, p.d.step(s, r)) {
			return true
		}
	}
	return false
}

// patAdvance advances a pattern-constrained string over b. The DFA state is
// f.pos; escape states: 1 after '\\'; 2, 3, 4, 5 after \u, \u0, \u00,
// \u00X (X in f.hash). It works on the tiny state so that the Allow fast
// path can run it.
func patAdvance(a *atom, f *tiny, b byte) (ok, closed bool) {
	p := a.pat
	s := f.pos
	c := int(f.count)
	switch f.esc {
	case 0:
		switch {
		case b == '"':
			return p.d.pending[s] == 0 && p.d.accept[s] && c >= a.minLen, true
		case b == '\\':
			if !p.escapeOK(s, c+1) {
				return false, false
			}
			f.esc = 1
			f.count++
			return true, false
		case b < 0x20:
			return false, false
		}
		t := p.d.step(s, b)
		if p.d.pending[s] == 0 {
			c++
		}
		if !p.t.good(c, t) {
			return false, false
		}
		f.pos, f.count = t, int32(c)
		return true, false
	case 1:
		if b == 'u' {
			if !p.ctrlOK(s, c, 0, 0x1F) {
				return false, false
			}
			f.esc = 2
			return true, false
		}
		r, isEsc := unescape(b)
		if !isEsc {
			return false, false
		}
		t := p.d.step(s, r)
		if !p.t.good(c, t) {
			return false, false
		}
		f.pos, f.esc = t, 0
		return true, false
	case 2, 3:
		if b != '0' {
			return false, false
		}
		f.esc++
		return true, false
	case 4:
		if b != '0' && b != '1' {
			return false, false
		}
		hi := (b - '0') << 4
		if !p.ctrlOK(s, c, hi, hi+15) {
			return false, false
		}
		f.esc, f.hash = 5, uint64(hi)
		return true, false
	default: // 5
		if !isHex(b) {
			return false, false
		}
		t := p.d.step(s, byte(f.hash)+hexVal(b))
		if !p.t.good(c, t) {
			return false, false
		}
		f.pos, f.esc, f.hash = t, 0, 0
		return true, false
	}
}
