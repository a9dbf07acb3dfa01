package constrain

// The matcher is a pushdown automaton over bytes. Its state is a set of
// threads; a thread is the frame of the value being written (a plain struct,
// copied freely) on top of a persistent linked stack of enclosing frames, so
// a step allocates only when it opens a value, and forks for anyOf share
// their parent. The state of an Allow walk is copied at every trie node, so
// this matters.

const (
	fRoot uint8 = iota
	fObject
	fArray
	fString
	fNumber
	fLiteral
)

// object phases
const (
	oOpen       uint8 = iota // after '{'
	oKey                     // inside a key
	oAfterKey                // after the key's closing quote
	oColon                   // after ':'
	oColonSp                 // after ': '
	oValue                   // value in progress (child frame on top)
	oAfterValue              // after a value
	oComma                   // after ','
	oCommaSp                 // after ', '
)

// array phases
const (
	rOpen uint8 = iota
	rValue
	rAfterValue
	rComma
	rCommaSp
)

// number phases
const (
	nMinus uint8 = iota + 1
	nZero
	nInt
	nDot
	nFrac
	nE
	nESign
	nExp
)

// maxThreads bounds the live anyOf alternatives. Every thread is a valid
// path, so dropping some only narrows the choice; it cannot produce invalid
// output nor a dead end.
const maxThreads = 64

type frame struct {
	a     *atom
	kind  uint8
	phase uint8
	u8    uint8 // UTF-8 continuation state (see utf8Next)
	esc   uint8 // escape state in strings; "additional key still possible" in keys
	count int32 // characters, items or properties so far
	pos   int32 // key or literal trie node (-1: off the trie)
	prop  int32 // property whose value comes next (-1: additional)
	hash  uint64
	seen  pset
	aseen *hashList // hashes of additional keys already written
	text  string    // digits of a bounded number
}

type hashList struct {
	h    uint64
	next *hashList
}

type link struct {
	f  frame
	up *link
}

type thread struct {
	f  frame
	up *link
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// matcher holds what the threads refer to.
type matcher struct {
	root *node
	// prog, when set, surrounds the value with the literals of a tool-call
	// region (see program); nil for a plain JSON value.
	prog *program
}

// program is the shape of a tool-call region around its values: up to
// maxRegionWS whitespace bytes before each value, close (after up to
// maxRegionWS whitespace bytes) after each, and, while fewer than max values
// were written, sep (after up to maxRegionWS whitespace bytes) to begin
// another. It lives in the root frame, so a token may span the end of a
// value and the literals around it, as models tokenize them ("}}\n").
// The root frame then uses phase (see the rp constants), pos (bytes of the
// current literal), u8 (whitespace bytes in the current slot) and count
// (values begun).
type program struct {
	close, sep string
	max        int
}

// maxRegionWS bounds each whitespace slot of a region, so a model cannot
// run away with newlines between calls.
const maxRegionWS = 2

// Root frame phases. Without a program: rpLead, then rpValue, then rpDone.
// With one, rpDone means "after a value": the close literal is being read
// (or, with no close literal, the value is closed), and rpClosed follows the
// close literal.
const (
	rpLead   uint8 = 0
	rpDone   uint8 = 1
	rpValue  uint8 = 2
	rpClosed uint8 = 3
)

// closed reports whether root frame f has closed its last value (so output
// may end there, or a separator may begin another).
func (p *program) closed(f *frame) bool {
	if p.close == "" {
		return f.phase == rpDone
	}
	return f.phase == rpClosed
}

func isRegionWS(b byte) bool { return b == ' ' || b == '\n' }

// literalStep advances root frame f over b while it reads lit (a separator
// or a close literal) after up to maxRegionWS whitespace bytes, moving to
// phase next once lit is complete.
func literalStep(f frame, up *link, b byte, lit string, next uint8, out []thread) []thread {
	if f.pos == 0 && isRegionWS(b) {
		if f.u8 >= maxRegionWS {
			return out
		}
		f.u8++
		return append(out, thread{f: f, up: up})
	}
	if lit[f.pos] != b {
		return out
	}
	f.pos++
	if int(f.pos) == len(lit) {
		f.phase, f.pos, f.u8 = next, 0, 0
	}
	return append(out, thread{f: f, up: up})
}

// rootStep advances a root frame with a program over b.
func (m *matcher) rootStep(t *thread, b byte, out []thread) []thread {
	p := m.prog
	f := t.f
	switch {
	case f.phase == rpLead:
		if f.pos == 0 && isRegionWS(b) {
			if f.u8 >= maxRegionWS {
				return out
			}
			f.u8++
			return append(out, thread{f: f, up: t.up})
		}
		f.phase, f.u8, f.pos = rpValue, 0, 0
		f.count++
		nt := thread{f: f, up: t.up}
		return m.startValue(&nt, m.root, b, out)
	case p.closed(&f):
		if p.sep == "" || (p.max > 0 && int(f.count) >= p.max) {
			return out
		}
		return literalStep(f, t.up, b, p.sep, rpLead, out)
	case f.phase == rpDone: // reading the close literal
		return literalStep(f, t.up, b, p.close, rpClosed, out)
	}
	return out
}

func (m *matcher) start() []thread {
	return []thread{{f: frame{kind: fRoot}}}
}

// feed advances every thread over b, appending the survivors to out.
func (m *matcher) feed(ts []thread, b byte, out []thread) []thread {
	base := len(out)
	for i := range ts {
		out = m.step(&ts[i], b, out)
	}
	if len(out)-base > 1 {
		out = dedup(out, base)
	}
	return out
}

func dedup(out []thread, base int) []thread {
	n := base
	for i := base; i < len(out); i++ {
		dup := false
		for j := base; j < n; j++ {
			if out[j] == out[i] {
				dup = true
				break
			}
		}
		if !dup && n-base < maxThreads {
			out[n] = out[i]
			n++
		}
	}
	return out[:n]
}

// done reports whether some thread holds a complete value (with a
// program: a closed region, with no separator begun).
func (m *matcher) done(ts []thread) bool {
	for i := range ts {
		t := &ts[i]
		if t.f.kind == fRoot {
			if m.prog == nil && t.f.phase == rpDone {
				return true
			}
			if m.prog != nil && m.prog.closed(&t.f) && t.f.pos == 0 {
				return true
			}
			continue
		}
		if t.up != nil && t.up.up == nil && t.up.f.kind == fRoot && canEnd(&t.f) && (m.prog == nil || m.prog.close == "") {
			return true
		}
	}
	return false
}

// canEnd reports whether a lazily ending value (a number, or an enum
// number) is complete, so that a delimiter may follow.
func canEnd(f *frame) bool {
	switch f.kind {
	case fNumber:
		switch f.phase {
		case nZero, nInt, nFrac, nExp:
			return f.esc == 1 || numComplete(f.a, f.text)
		}
	case fLiteral:
		return f.a.lit.nodes[f.pos].term >= 0
	}
	return false
}

// complete pops the finished value t and advances its parent.
func popValue(t *thread) thread {
	p := thread{f: t.up.f, up: t.up.up}
	switch p.f.kind {
	case fRoot:
		p.f.phase = rpDone
	case fObject:
		p.f.phase = oAfterValue
	case fArray:
		p.f.phase = rAfterValue
		p.f.count++
	}
	return p
}

func (m *matcher) step(t *thread, b byte, out []thread) []thread {
	f := t.f
	switch f.kind {
	case fRoot:
		if m.prog != nil {
			return m.rootStep(t, b, out)
		}
		if f.phase == rpLead {
			p := thread{f: f, up: t.up}
			p.f.phase = rpValue
			out = m.startValue(&p, m.root, b, out)
		}
		return out
	case fString:
		ok, closed := strStep(&f, b)
		if !ok {
			return out
		}
		if closed {
			return append(out, popValue(t))
		}
		return append(out, thread{f: f, up: t.up})
	case fNumber:
		if numStep(&f, b) {
			return append(out, thread{f: f, up: t.up})
		}
		if canEnd(&t.f) {
			p := popValue(t)
			return m.step(&p, b, out)
		}
		return out
	case fLiteral:
		lt := f.a.lit
		if nx := lt.child(int(f.pos), b); nx >= 0 {
			f.pos = int32(nx)
			n := &lt.nodes[nx]
			if n.term >= 0 && !isDigit(n.last) && len(n.edges) == 0 {
				nt := thread{f: f, up: t.up}
				return append(out, popValue(&nt))
			}
			return append(out, thread{f: f, up: t.up})
		}
		if canEnd(&t.f) {
			p := popValue(t)
			return m.step(&p, b, out)
		}
		return out
	case fObject:
		return m.objStep(t, f, b, out)
	case fArray:
		return m.arrStep(t, f, b, out)
	}
	return out
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// startValue opens a value of schema n with first byte b on top of parent t
// (whose frame already says a value is in progress): one thread per
// alternative that b can start.
func (m *matcher) startValue(t *thread, n *node, b byte, out []thread) []thread {
	var lk *link
	for _, a := range n.flat {
		f, ok := startFrame(a, b)
		if !ok {
			continue
		}
		if lk == nil {
			lk = &link{f: t.f, up: t.up}
		}
		out = append(out, thread{f: f, up: lk})
	}
	return out
}

func startFrame(a *atom, b byte) (frame, bool) {
	f := frame{a: a}
	switch a.kind {
	case aObject:
		f.kind = fObject
		return f, b == '{'
	case aArray:
		f.kind = fArray
		return f, b == '['
	case aString:
		f.kind = fString
		return f, b == '"'
	case aNumber, aInteger:
		f.kind = fNumber
		return f, numStep(&f, b)
	case aLiteral:
		f.kind = fLiteral
		nx := a.lit.child(0, b)
		f.pos = int32(nx)
		return f, nx >= 0
	}
	return f, false
}

// numStep advances a number frame over b, keeping the JSON number grammar,
// the integer restriction and, for bounded numbers, the bounds.
func numStep(f *frame, b byte) bool {
	a := f.a
	bounded := a.lo != nil || a.hi != nil
	var next uint8
	switch f.phase {
	case 0:
		switch {
		case b == '-':
			next = nMinus
		case b == '0':
			next = nZero
		case b >= '1' && b <= '9':
			next = nInt
		}
	case nMinus:
		switch {
		case b == '0':
			next = nZero
		case b >= '1' && b <= '9':
			next = nInt
		}
	case nZero, nInt:
		switch {
		case isDigit(b) && f.phase == nInt:
			next = nInt
		case b == '.' && a.kind == aNumber:
			next = nDot
		case (b == 'e' || b == 'E') && a.kind == aNumber && !bounded:
			next = nE
		}
	case nDot, nFrac:
		switch {
		case isDigit(b):
			next = nFrac
		case (b == 'e' || b == 'E') && f.phase == nFrac && !bounded:
			next = nE
		}
	case nE:
		switch {
		case b == '+' || b == '-':
			next = nESign
		case isDigit(b):
			next = nExp
		}
	case nESign, nExp:
		if isDigit(b) {
			next = nExp
		}
	}
	if next == 0 {
		return false
	}
	// esc == 1 marks a bounded number all of whose completions are within
	// the bounds: no more checks.
	if bounded && f.esc == 0 {
		text := f.text + string(b)
		if !numViable(a, text) {
			return false
		}
		f.text = text
		if numFree(a, text) {
			f.esc, f.text = 1, ""
		}
	}
	f.phase = next
	return true
}

// utf8Next advances the UTF-8 state over a continuation byte. States: 1 one
// byte left (80-BF); 2 two left (80-BF); 3 two left, next A0-BF (after E0);
// 4 two left, next 80-9F (after ED, no surrogates); 5 three left (80-BF);
// 6 three left, next 90-BF (after F0); 7 three left, next 80-8F (after F4).
func utf8Next(s uint8, b byte) (uint8, bool) {
	lo, hi := byte(0x80), byte(0xBF)
	var next uint8
	switch s {
	case 1:
		next = 0
	case 2:
		next = 1
	case 3:
		lo, next = 0xA0, 1
	case 4:
		hi, next = 0x9F, 1
	case 5:
		next = 2
	case 6:
		lo, next = 0x90, 2
	case 7:
		hi, next = 0x8F, 2
	}
	return next, b >= lo && b <= hi
}

// utf8Lead returns the state after a non-ASCII lead byte.
func utf8Lead(b byte) (uint8, bool) {
	switch {
	case b >= 0xC2 && b <= 0xDF:
		return 1, true
	case b == 0xE0:
		return 3, true
	case b == 0xED:
		return 4, true
	case b >= 0xE1 && b <= 0xEF:
		return 2, true
	case b == 0xF0:
		return 6, true
	case b >= 0xF1 && b <= 0xF3:
		return 5, true
	case b == 0xF4:
		return 7, true
	}
	return 0, false
}

func isHex(b byte) bool {
	return isDigit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

// tiny is the part of a string or key frame that changes inside it: what
// the Allow fast path carries from trie node to trie node.
type tiny struct {
	u8, esc uint8
	count   int32
	pos     int32 // DFA state of a pattern-constrained string
	hash    uint64
}

// strStep advances a string value over b.
func strStep(f *frame, b byte) (ok, closed bool) {
	if f.a.pat != nil {
		st := tiny{esc: f.esc, count: f.count, hash: f.hash, pos: f.pos}
		ok, closed = patAdvance(f.a, &st, b)
		f.esc, f.count, f.hash, f.pos = st.esc, st.count, st.hash, st.pos
		return ok, closed
	}
	st := tiny{u8: f.u8, esc: f.esc, count: f.count}
	ok, closed = strAdvance(f.a, &st, b)
	f.u8, f.esc, f.count = st.u8, st.esc, st.count
	return ok, closed
}

// strAdvance advances the string state st of atom a over b. Escape states:
// 1 after '\\'; 2..5 expecting the 1st..4th hex digit of \u; 6 expecting
// the 2nd hex digit after a leading D, which must be 0-7 (no surrogates).
func strAdvance(a *atom, f *tiny, b byte) (ok, closed bool) {
	switch f.esc {
	case 0:
	case 1:
		switch b {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			f.esc = 0
		case 'u':
			f.esc = 2
		default:
			return false, false
		}
		return true, false
	case 2:
		if !isHex(b) {
			return false, false
		}
		if b == 'd' || b == 'D' {
			f.esc = 6
		} else {
			f.esc = 3
		}
		return true, false
	case 6:
		if b < '0' || b > '7' {
			return false, false
		}
		f.esc = 4
		return true, false
	default: // 3, 4, 5
		if !isHex(b) {
			return false, false
		}
		f.esc++
		if f.esc == 6 {
			f.esc = 0
		}
		return true, false
	}
	if f.u8 != 0 {
		s, ok := utf8Next(f.u8, b)
		f.u8 = s
		return ok, false
	}
	if b == '"' {
		return int(f.count) >= a.minLen, true
	}
	if b < 0x20 || (a.maxLen >= 0 && int(f.count) >= a.maxLen) {
		return false, false
	}
	switch {
	case b == '\\':
		f.esc = 1
	case b >= 0x80:
		s, ok := utf8Lead(b)
		if !ok {
			return false, false
		}
		f.u8 = s
	}
	f.count++
	return true, false
}

// keyAdvance advances an additional (off-trie) key over b, which is not its
// closing quote: escape-free string content.
func keyAdvance(f *tiny, b byte) bool {
	var ok bool
	switch {
	case f.u8 != 0:
		f.u8, ok = utf8Next(f.u8, b)
	case b >= 0x80:
		f.u8, ok = utf8Lead(b)
	default:
		ok = b >= 0x20 && b != '\\' && b != '"'
	}
	f.hash = (f.hash ^ uint64(b)) * fnvPrime
	return ok
}

// Object keys.

func (a *atom) satMask() pset {
	var s pset
	for i, p := range a.props {
		if p.n.sat {
			s.add(i)
		}
	}
	return s
}

func remainingRequired(f *frame) int { return f.a.reqMask.andNot(f.seen).count() }

// viableProps are the declared properties that may still be written.
func viableProps(f *frame) pset {
	a := f.a
	v := a.satMaskCache.andNot(f.seen)
	if a.maxProps >= 0 && int(f.count)+remainingRequired(f) >= a.maxProps {
		v = v.and(a.reqMask)
	}
	return v
}

func addlViable(f *frame) bool {
	a := f.a
	return a.addl != nil && a.addl.sat && (a.maxProps < 0 || int(f.count)+remainingRequired(f) < a.maxProps)
}

func canContinue(f *frame) bool {
	a := f.a
	if a.maxProps >= 0 && int(f.count) >= a.maxProps {
		return false
	}
	return !viableProps(f).empty() || addlViable(f)
}

func canClose(f *frame) bool {
	return remainingRequired(f) == 0 && int(f.count) >= f.a.minProps
}

func beginKey(f *frame) {
	f.phase = oKey
	f.pos = 0
	if r := &f.a.keys.nodes[0]; len(r.edges) == 0 && r.term < 0 {
		f.pos = -1 // no declared names: off the trie from the start
	}
	f.u8 = 0
	f.esc = 0
	if addlViable(f) {
		f.esc = 1
	}
	f.hash = fnvOffset
}

func (m *matcher) objStep(t *thread, f frame, b byte, out []thread) []thread {
	a := f.a
	switch f.phase {
	case oOpen, oAfterValue:
		switch {
		case b == '}' && canClose(&f):
			return append(out, popValue(t))
		case b == '"' && f.phase == oOpen && canContinue(&f):
			beginKey(&f)
		case b == ',' && f.phase == oAfterValue && canContinue(&f):
			f.phase = oComma
		default:
			return out
		}
	case oComma, oCommaSp:
		switch {
		case b == ' ' && f.phase == oComma:
			f.phase = oCommaSp
		case b == '"':
			beginKey(&f)
		default:
			return out
		}
	case oKey:
		if !keyStep(&f, b) {
			return out
		}
	case oAfterKey:
		if b != ':' {
			return out
		}
		f.phase = oColon
	case oColon, oColonSp:
		if b == ' ' && f.phase == oColon {
			f.phase = oColonSp
			break
		}
		n := a.addl
		if f.prop >= 0 {
			n = a.props[f.prop].n
		}
		f.phase = oValue
		p := thread{f: f, up: t.up}
		return m.startValue(&p, n, b, out)
	default:
		return out
	}
	return append(out, thread{f: f, up: t.up})
}

// keyStep advances a key over b. A key follows the trie of declared names
// (only towards names still allowed) and, when additional properties are
// allowed, may also be any escape-free string not written before.
func keyStep(f *frame, b byte) bool {
	kt := f.a.keys
	inEsc := f.pos >= 0 && kt.nodes[f.pos].esc
	if b == '"' && f.u8 == 0 && !inEsc {
		if f.pos >= 0 && kt.nodes[f.pos].term >= 0 {
			p := kt.nodes[f.pos].term
			if !viableProps(f).has(p) {
				return false
			}
			f.seen.add(p)
			f.prop = int32(p)
		} else {
			if f.esc != 1 {
				return false
			}
			for h := f.aseen; h != nil; h = h.next {
				if h.h == f.hash {
					return false
				}
			}
			f.aseen = &hashList{f.hash, f.aseen}
			f.prop = -1
		}
		f.count++
		f.phase = oAfterKey
		return true
	}
	np := -1
	trieOK := false
	if f.pos >= 0 {
		np = kt.child(int(f.pos), b)
		trieOK = np >= 0 && !kt.nodes[np].mask.and(viableProps(f)).empty()
	}
	addlOK := false
	u8 := uint8(0)
	if f.esc == 1 {
		switch {
		case f.u8 != 0:
			u8, addlOK = utf8Next(f.u8, b)
		case b >= 0x80:
			u8, addlOK = utf8Lead(b)
		default:
			addlOK = b >= 0x20 && b != '\\' && b != '"'
		}
	}
	if !trieOK && !addlOK {
		return false
	}
	f.pos = int32(np)
	f.esc = 0
	if addlOK {
		f.esc = 1
	}
	f.u8 = u8
	f.hash = (f.hash ^ uint64(b)) * fnvPrime
	return true
}

func (m *matcher) arrStep(t *thread, f frame, b byte, out []thread) []thread {
	a := f.a
	canItem := func(i int) bool {
		if a.maxItems >= 0 && i >= a.maxItems {
			return false
		}
		n := a.itemNode(i)
		return n != nil && n.sat
	}
	switch f.phase {
	case rOpen, rAfterValue:
		switch {
		case b == ']' && int(f.count) >= a.minItems:
			return append(out, popValue(t))
		case b == ',' && f.phase == rAfterValue && canItem(int(f.count)):
			f.phase = rComma
			return append(out, thread{f: f, up: t.up})
		case f.phase == rOpen && canItem(0):
			f.phase = rValue
			p := thread{f: f, up: t.up}
			return m.startValue(&p, a.itemNode(0), b, out)
		}
	case rComma, rCommaSp:
		if b == ' ' && f.phase == rComma {
			f.phase = rCommaSp
			return append(out, thread{f: f, up: t.up})
		}
		f.phase = rValue
		p := thread{f: f, up: t.up}
		return m.startValue(&p, a.itemNode(int(f.count)), b, out)
	}
	return out
}
