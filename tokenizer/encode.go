package tokenizer

import (
	"strings"
)

// fragment is a piece of the input: either text still to be tokenized
// (tok < 0, bytes [start, end) of the input) or a special token.
type fragment struct {
	tok        int32
	start, end int
}

// Encode tokenizes text with llama.cpp's llama_tokenize semantics.
// addSpecial adds BOS (and EOS) when the vocabulary asks for them.
// parseSpecial lets control-token texts in the input (such as
// "<|im_start|>") become their ids; user-defined tokens are recognised
// either way.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int {
	var frags []fragment
	if text != "" {
		frags = t.partition(text, parseSpecial)
	}
	out := make([]int, 0, len(text)/3+2)
	if addSpecial && t.addBOS {
		out = append(out, t.bos)
	}
	switch t.kind {
	case kindSPM:
		s := spmSession{t: t, q: bigramQueue[spmBigram]{before: spmBefore}}
		// llama.cpp prefixes a space to the first text fragment and to every
		// text fragment that follows a special token.
		prevSpecial := true
		var buf strings.Builder
		for _, f := range frags {
			if f.tok >= 0 {
				out = append(out, int(f.tok))
				prevSpecial = true
				continue
			}
			buf.Reset()
			if t.addSpacePref && prevSpecial {
				buf.WriteString("▁")
			}
			for _, c := range []byte(text[f.start:f.end]) {
				if c == ' ' {
					buf.WriteString("▁")
				} else {
					buf.WriteByte(c)
				}
			}
			out = s.encode(buf.String(), out)
			prevSpecial = false
		}
	case kindBPE:
		s := bpeSession{t: t, q: bigramQueue[bpeBigram]{before: bpeBefore}}
		for _, f := range frags {
			if f.tok >= 0 {
				out = append(out, int(f.tok))
				continue
			}
			out = s.encode(text[f.start:f.end], out)
		}
	}
	if addSpecial && t.addEOS {
		out = append(out, t.eos)
	}
	return out
}

// partition splits text at occurrences of special tokens, longest token
// first, the way llama.cpp's tokenizer_st_partition does.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	frags := []fragment{{tok: -1, start: 0, end: len(text)}}
	var next []fragment
	for _, id := range t.specials {
		a := t.attrs[id]
		if !parseSpecial && a&(attrControl|attrUnknown) != 0 {
			continue
		}
		tok := t.tokens[id]
		if !strings.Contains(text, tok) {
			continue
		}
		next = next[:0]
		for _, f := range frags {
			if f.tok >= 0 {
				next = append(next, f)
				continue
			}
			start, end := f.start, f.end
			for start < end {
				k := strings.Index(text[start:end], tok)
				if k < 0 {
					break
				}
				m := start + k
				left := m
				if a&attrLStrip != 0 {
					for left > start && isCSpace(text[left-1]) {
						left--
					}
				}
				if left > start {
					next = append(next, fragment{tok: -1, start: start, end: left})
				}
				next = append(next, fragment{tok: id})
				start = m + len(tok)
				if a&attrRStrip != 0 {
					for start < end && isCSpace(text[start]) {
						start++
					}
				}
			}
			if start < end {
				next = append(next, fragment{tok: -1, start: start, end: end})
			}
		}
		frags, next = next, frags
	}
	return frags
}

// isCSpace is C's isspace in the "C" locale, which llama.cpp uses to strip
// whitespace around special tokens.
func isCSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// symbol is a run of bytes being merged; symbols form a linked list.
type symbol struct {
	start, end int32 // bytes of the session's text
	prev, next int32
}

// spmSession tokenizes one text fragment SentencePiece-style: start from
// UTF-8 characters and repeatedly merge the adjacent pair that forms the
// highest-scoring token (leftmost on ties).
type spmSession struct {
	t    *Tokenizer
	syms []symbol
	q    bigramQueue[spmBigram]
}

type spmBigram struct {
	score       float32
	left, right int32
	size        int32
}

func spmBefore(a, b spmBigram) bool {
	return a.score > b.score || (a.score == b.score && a.left < b.left)
}

func (s *spmSession) encode(text string, out []int) []int {
	if text == "" {
		return out
	}
	s.syms = s.syms[:0]
	s.q.reset()
	for off := 0; off < len(text); {
		n := min(utf8SeqLen(text[off]), len(text)-off)
		idx := int32(len(s.syms))
		next := idx + 1
		if off+n == len(text) {
			next = -1
		}
		s.syms = append(s.syms, symbol{start: int32(off), end: int32(off + n), prev: idx - 1, next: next})
		off += n
	}
	for i := 1; i < len(s.syms); i++ {
		s.tryAdd(text, int32(i-1), int32(i))
	}
	for s.q.len() > 0 {
		bg := s.q.pop()
		l, r := &s.syms[bg.left], &s.syms[bg.right]
		if l.end == l.start || r.end == r.start || (l.end-l.start)+(r.end-r.start) != bg.size {
			continue // stale: one side was merged since
		}
		l.end = r.end
		r.end = r.start
		l.next = r.next
		if r.next >= 0 {
			s.syms[r.next].prev = bg.left
		}
		s.tryAdd(text, l.prev, bg.left)
		s.tryAdd(text, bg.left, l.next)
	}
	for i := int32(0); i != -1; i = s.syms[i].next {
		sym := s.syms[i]
		if id, ok := s.t.ids[text[sym.start:sym.end]]; ok {
			out = append(out, int(id))
			continue
		}
		// No token for this character: fall back to byte tokens.
		for j := sym.start; j < sym.end; j++ {
			out = s.t.appendByte(out, text[j])
		}
	}
	return out
}

func (s *spmSession) tryAdd(text string, left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	str := text[s.syms[left].start:s.syms[right].end]
	id, ok := s.t.ids[str]
	if !ok {
		return
	}
	var score float32
	if s.t.scores != nil {
		score = s.t.scores[id]
	}
	s.q.push(spmBigram{score: score, left: left, right: right, size: int32(len(str))})
}

// appendByte appends the byte-fallback token of b. llama.cpp aborts when a
// vocabulary lacks one; Kiln emits the unknown token instead (or nothing).
func (t *Tokenizer) appendByte(out []int, b byte) []int {
	if id := t.byteTok[b]; id >= 0 {
		return append(out, int(id))
	}
	if t.unk >= 0 {
		return append(out, t.unk)
	}
	return out
}

// bpeSession tokenizes text fragments with byte-level BPE: pre-tokenize
// into words, spell each word's bytes with GPT-2's byte characters, then
// repeatedly merge the adjacent pair with the lowest merge rank.
type bpeSession struct {
	t     *Tokenizer
	text  cpText
	offs  []int
	word  []byte
	syms  []symbol
	q     bigramQueue[bpeBigram]
	bytes []byte
	key   []byte
}

type bpeBigram struct {
	rank        int32
	left, right int32
	size        int32
}

func bpeBefore(a, b bpeBigram) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
}

func (s *bpeSession) encode(text string, out []int) []int {
	s.text.cps = s.text.cps[:0]
	s.text.cats = s.text.cats[:0]
	for i := 0; i < len(text); {
		r, n := decodeRune(text, i)
		s.text.cps = append(s.text.cps, r)
		s.text.cats = append(s.text.cats, catOf(r))
		i += n
	}
	s.offs = split(&s.text, s.t.pre.stages, s.offs)
	start := 0
	for _, n := range s.offs {
		s.bytes = s.bytes[:0]
		for _, r := range s.text.cps[start : start+n] {
			s.bytes = appendCodePoint(s.bytes, r)
		}
		start += n
		out = s.encodeWord(s.bytes, out)
	}
	return out
}

func (s *bpeSession) encodeWord(raw []byte, out []int) []int {
	t := s.t
	s.word = s.word[:0]
	s.syms = s.syms[:0]
	for i, b := range raw {
		st := int32(len(s.word))
		s.word = append(s.word, byteUnicode[b]...)
		next := int32(i + 1)
		if i == len(raw)-1 {
			next = -1
		}
		s.syms = append(s.syms, symbol{start: st, end: int32(len(s.word)), prev: int32(i - 1), next: next})
	}
	word := string(s.word)
	if t.pre.ignoreMerges {
		if id, ok := t.ids[word]; ok {
			return append(out, int(id))
		}
	}
	s.q.reset()
	for i := 1; i < len(s.syms); i++ {
		s.tryAdd(word, int32(i-1), int32(i))
	}
	for s.q.len() > 0 {
		bg := s.q.pop()
		l, r := &s.syms[bg.left], &s.syms[bg.right]
		if l.end == l.start || r.end == r.start || (l.end-l.start)+(r.end-r.start) != bg.size {
			continue
		}
		l.end = r.end
		r.end = r.start
		l.next = r.next
		if r.next >= 0 {
			s.syms[r.next].prev = bg.left
		}
		s.tryAdd(word, l.prev, bg.left)
		s.tryAdd(word, bg.left, l.next)
	}
	for i := int32(0); i != -1; i = s.syms[i].next {
		sym := s.syms[i]
		if id, ok := t.ids[word[sym.start:sym.end]]; ok {
			out = append(out, int(id))
			continue
		}
		// Like llama.cpp: try every byte of the spelled-out text as a
		// one-byte token (only printable ASCII can match).
		for j := sym.start; j < sym.end; j++ {
			if id, ok := t.ids[word[j:j+1]]; ok {
				out = append(out, int(id))
			}
		}
	}
	return out
}

func (s *bpeSession) tryAdd(word string, left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	l, r := s.syms[left], s.syms[right]
	s.key = append(s.key[:0], word[l.start:l.end]...)
	s.key = append(s.key, ' ')
	s.key = append(s.key, word[r.start:r.end]...)
	rank, ok := s.t.mergeRank[string(s.key)]
	if !ok {
		return
	}
	s.q.push(bpeBigram{rank: rank, left: left, right: right, size: (l.end - l.start) + (r.end - r.start)})
}

// bigramQueue is a binary heap ordered by before (a strict "pops first").
type bigramQueue[T any] struct {
	items  []T
	before func(a, b T) bool
}

func (q *bigramQueue[T]) reset() { q.items = q.items[:0] }

func (q *bigramQueue[T]) len() int { return len(q.items) }

func (q *bigramQueue[T]) push(x T) {
	h := append(q.items, x)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.before(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	q.items = h
}

func (q *bigramQueue[T]) pop() T {
	h := q.items
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && q.before(h[l], h[m]) {
			m = l
		}
		if r < len(h) && q.before(h[r], h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	q.items = h
	return top
}
