package tokenizer

import (
	"sort"
	"unicode"
)

// Pre-tokenization splits text into words before BPE merging. llama.cpp
// describes each pre-tokenizer as a list of regular expressions applied in
// turn: every regex splits each piece produced so far into its matches and
// the unmatched text between them. Here every regex is a hand-written
// matcher over code points (Go's regexp has no lookahead, and scanners are
// several times faster); the tests check them against the original regexes
// run by a backtracking engine.
//
// Matchers only see the current piece: a lookahead such as (?!\S) or an
// anchor such as $ stops at the piece's end, as in llama.cpp.

// cat holds the character classes the regexes use.
type cat uint8

const (
	catL  cat = 1 << iota // \p{L}
	catN                  // \p{N}
	catP                  // \p{P}
	catWS                 // \s (Unicode White_Space)
)

var asciiCat = func() (tab [128]cat) {
	for r := rune(0); r < 128; r++ {
		tab[r] = slowCat(r)
	}
	return tab
}()

func slowCat(r rune) cat {
	var c cat
	if unicode.IsLetter(r) {
		c |= catL
	}
	if unicode.IsNumber(r) {
		c |= catN
	}
	if unicode.IsPunct(r) {
		c |= catP
	}
	if unicode.IsSpace(r) {
		c |= catWS
	}
	return c
}

func catOf(r rune) cat {
	if r >= 0 && r < 128 {
		return asciiCat[r]
	}
	return slowCat(r)
}

// cpText is a piece of text as code points with their classes.
type cpText struct {
	cps  []rune
	cats []cat
}

func (t *cpText) isL(i int) bool  { return t.cats[i]&catL != 0 }
func (t *cpText) isN(i int) bool  { return t.cats[i]&catN != 0 }
func (t *cpText) isWS(i int) bool { return t.cats[i]&catWS != 0 }

// isOther is [^\s\p{L}\p{N}].
func (t *cpText) isOther(i int) bool { return t.cats[i]&(catL|catN|catWS) == 0 }

func (t *cpText) isCRLF(i int) bool { return t.cps[i] == '\r' || t.cps[i] == '\n' }

// matcher returns the length of the match of one regex starting exactly at
// i (0 when the regex does not match there), looking no further than end.
// None of the regexes can match the empty string.
type matcher func(t *cpText, i, end int) int

// preSpec is a pre-tokenizer: its regexes in order, plus the vocabulary
// flags llama.cpp sets together with the pre-tokenizer type.
type preSpec struct {
	stages       []matcher
	ignoreMerges bool // a word that is itself a token is emitted whole
	addBOS       bool // llama.cpp's add_bos default for this type
}

// lookupPre maps tokenizer.ggml.pre names to pre-tokenizers. Only the
// families whose regexes are implemented here are accepted, each with the
// aliases llama.cpp treats identically.
func lookupPre(name string) (preSpec, bool) {
	switch name {
	case "", "default":
		return preSpec{stages: []matcher{matchPunctRun, matchGPT2, matchNumberRun, matchThreeDigits}}, true
	case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "a.x-4.0", "mellum", "exaone4", "mpt", "olmo", "jais":
		return preSpec{stages: []matcher{matchGPT2}}, true
	case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2":
		return preSpec{stages: []matcher{matchLlama3}, ignoreMerges: true, addBOS: true}, true
	case "dbrx", "smaug-bpe":
		return preSpec{stages: []matcher{matchLlama3}}, true
	case "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan":
		return preSpec{stages: []matcher{matchQwen2}}, true
	case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b":
		return preSpec{stages: []matcher{matchOneNumber, matchGPT2}}, true
	case "deepseek-llm":
		return preSpec{stages: []matcher{matchOneCRLF, matchDeepseekLetters, matchDeepseekPunct,
			matchTrailingSpace, matchCJK, matchNumberRun}}, true
	case "deepseek-coder":
		return preSpec{stages: []matcher{matchOneCRLF, matchSpaceLetters, matchSpacePunct, matchCJK, matchOneNumber}}, true
	case "falcon":
		return preSpec{stages: []matcher{matchPunctRunFalcon, matchGPT2, matchThreeDigits}}, true
	}
	return preSpec{}, false
}

// split applies the stages to t and returns the word boundaries as piece
// lengths in code points.
func split(t *cpText, stages []matcher, buf []int) []int {
	offs := append(buf[:0], len(t.cps))
	var next []int
	for _, m := range stages {
		next = next[:0]
		start := 0
		for _, n := range offs {
			end := start + n
			gap := start
			for i := start; i < end; {
				k := m(t, i, end)
				if k == 0 {
					i++
					continue
				}
				if i > gap {
					next = append(next, i-gap)
				}
				next = append(next, k)
				i += k
				gap = i
			}
			if gap < end {
				next = append(next, end-gap)
			}
			start = end
		}
		offs, next = next, offs
	}
	return offs
}

// contraction matches 's 't 're 've 'm 'll 'd at i, ignoring ASCII case if
// fold is set.
func contraction(t *cpText, i, end int, fold bool) int {
	if t.cps[i] != '\'' || i+1 >= end {
		return 0
	}
	low := func(r rune) rune {
		if fold && r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	switch low(t.cps[i+1]) {
	case 's', 't', 'm', 'd':
		return 2
	}
	if i+2 < end {
		a, b := low(t.cps[i+1]), low(t.cps[i+2])
		if (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') {
			return 3
		}
	}
	return 0
}

// run returns the end of the run of code points from j satisfying ok.
func run(t *cpText, j, end int, ok func(*cpText, int) bool) int {
	for j < end && ok(t, j) {
		j++
	}
	return j
}

// matchGPT2 is 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
func matchGPT2(t *cpText, i, end int) int {
	if k := contraction(t, i, end, false); k > 0 {
		return k
	}
	j := i
	if t.cps[i] == ' ' && i+1 < end && !t.isWS(i+1) {
		j = i + 1
	}
	switch {
	case t.isL(j):
		return run(t, j, end, (*cpText).isL) - i
	case t.isN(j):
		return run(t, j, end, (*cpText).isN) - i
	case t.isOther(j):
		return run(t, j, end, (*cpText).isOther) - i
	}
	// \s+(?!\S): a whitespace run up to the end of the piece, or all of it
	// but the last character when a non-space follows.
	e := run(t, i, end, (*cpText).isWS)
	switch {
	case e == end:
		return e - i
	case e-i > 1:
		return e - i - 1
	}
	return 0
}

// matchLlama3 is
// (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func matchLlama3(t *cpText, i, end int) int { return matchLlamaLike(t, i, end, 3) }

// matchQwen2 is the Llama 3 regex with \p{N} instead of \p{N}{1,3}.
func matchQwen2(t *cpText, i, end int) int { return matchLlamaLike(t, i, end, 1) }

func matchLlamaLike(t *cpText, i, end, maxDigits int) int {
	if k := contraction(t, i, end, true); k > 0 {
		return k
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	j := i
	if !t.isL(i) && !t.isN(i) && !t.isCRLF(i) && i+1 < end && t.isL(i+1) {
		j = i + 1
	}
	if t.isL(j) {
		return run(t, j, end, (*cpText).isL) - i
	}
	// \p{N}{1,maxDigits}
	if t.isN(i) {
		j = i + 1
		for j < end && j-i < maxDigits && t.isN(j) {
			j++
		}
		return j - i
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	j = i
	if t.cps[i] == ' ' && i+1 < end && t.isOther(i+1) {
		j = i + 1
	}
	if t.isOther(j) {
		j = run(t, j, end, (*cpText).isOther)
		return run(t, j, end, (*cpText).isCRLF) - i
	}
	// \s*[\r\n]+ : through the last line break of the whitespace run.
	e, lastNL := i, -1
	for e < end && t.isWS(e) {
		if t.isCRLF(e) {
			lastNL = e
		}
		e++
	}
	switch {
	case lastNL >= 0:
		return lastNL + 1 - i
	case e == end || e-i == 1: // \s+(?!\S) at the end of the piece, or \s+
		return e - i
	}
	return e - i - 1 // \s+(?!\S) before a non-space
}

// matchOneNumber is \p{N}.
func matchOneNumber(t *cpText, i, end int) int {
	if t.isN(i) {
		return 1
	}
	return 0
}

// matchNumberRun is \p{N}+.
func matchNumberRun(t *cpText, i, end int) int {
	return run(t, i, end, (*cpText).isN) - i
}

// matchThreeDigits is [0-9][0-9][0-9].
func matchThreeDigits(t *cpText, i, end int) int {
	if i+2 < end && isDigit(t.cps[i]) && isDigit(t.cps[i+1]) && isDigit(t.cps[i+2]) {
		return 3
	}
	return 0
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// matchPunctRun is [\p{P}\$\+<=>\^~\|]+.
func matchPunctRun(t *cpText, i, end int) int {
	return run(t, i, end, func(t *cpText, j int) bool {
		return t.cats[j]&catP != 0 || isDefaultSym(t.cps[j])
	}) - i
}

// matchPunctRunFalcon is [\p{P}\$\+<=>\^~\|`]+.
func matchPunctRunFalcon(t *cpText, i, end int) int {
	return run(t, i, end, func(t *cpText, j int) bool {
		return t.cats[j]&catP != 0 || isDefaultSym(t.cps[j]) || t.cps[j] == '`'
	}) - i
}

func isDefaultSym(r rune) bool {
	switch r {
	case '$', '+', '<', '=', '>', '^', '~', '|':
		return true
	}
	return false
}

// matchOneCRLF is [\r\n].
func matchOneCRLF(t *cpText, i, end int) int {
	if t.isCRLF(i) {
		return 1
	}
	return 0
}

// matchSpaceLetters is \s?\p{L}+.
func matchSpaceLetters(t *cpText, i, end int) int {
	return optSpaceRun(t, i, end, (*cpText).isL)
}

// matchSpacePunct is \s?\p{P}+.
func matchSpacePunct(t *cpText, i, end int) int {
	return optSpaceRun(t, i, end, func(t *cpText, j int) bool { return t.cats[j]&catP != 0 })
}

// optSpaceRun is \s?X+ for a class X that contains no whitespace.
func optSpaceRun(t *cpText, i, end int, ok func(*cpText, int) bool) int {
	j := i
	if t.isWS(i) && i+1 < end && ok(t, i+1) {
		j = i + 1
	}
	if !ok(t, j) {
		return 0
	}
	return run(t, j, end, ok) - i
}

// The DeepSeek LLM regexes use literal character ranges instead of Unicode
// classes. llama.cpp runs them on text whose non-ASCII whitespace was
// replaced by \v, so a whitespace character never matches a literal range
// (U+3000 is inside one of them) and always matches \s.

type runeRange struct{ lo, hi rune }

// parseRanges turns a regex character-class body made of single characters
// and a-b ranges into sorted ranges.
func parseRanges(class string) []runeRange {
	rs := []rune(class)
	var out []runeRange
	for i := 0; i < len(rs); i++ {
		if i+2 < len(rs) && rs[i+1] == '-' {
			out = append(out, runeRange{rs[i], rs[i+2]})
			i += 2
			continue
		}
		out = append(out, runeRange{rs[i], rs[i]})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].lo < out[b].lo })
	return out
}

func inRanges(rs []runeRange, r rune) bool {
	k := sort.Search(len(rs), func(i int) bool { return rs[i].hi >= r })
	return k < len(rs) && rs[k].lo <= r
}

// Character-class bodies of llama.cpp's deepseek-llm regexes. The escaped
// code points have canonical singleton decompositions: written literally,
// any NFC-normalising editor would silently turn them into different
// characters (and ranges such as U+1F5F-U+1F7D into reversed ones).
const (
	deepseekLetterClass = "A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1F7Dᾀ-ᾴᾶ-ᾼ\u1FBEῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212A-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃"
	deepseekPunctClass  = "!-/:-~！-／：-～‘-‟　-。"
	deepseekCJKClass    = "一-龥ࠀ-一가-퟿"
)

var (
	deepseekLetters = parseRanges(deepseekLetterClass)
	deepseekPunct   = parseRanges(deepseekPunctClass)
	deepseekCJK     = parseRanges(deepseekCJKClass)
)

func literalClass(rs []runeRange) func(*cpText, int) bool {
	return func(t *cpText, j int) bool { return !t.isWS(j) && inRanges(rs, t.cps[j]) }
}

var (
	inDeepseekLetters = literalClass(deepseekLetters)
	inDeepseekPunct   = literalClass(deepseekPunct)
	inDeepseekCJK     = literalClass(deepseekCJK)
)

// matchDeepseekLetters is \s?[A-Za-zµÀ-Ö...]+.
func matchDeepseekLetters(t *cpText, i, end int) int {
	return optSpaceRun(t, i, end, inDeepseekLetters)
}

// matchDeepseekPunct is \s?[!-/:-~！-／：-～‘-‟　-。]+.
func matchDeepseekPunct(t *cpText, i, end int) int {
	return optSpaceRun(t, i, end, inDeepseekPunct)
}

// matchTrailingSpace is \s+$.
func matchTrailingSpace(t *cpText, i, end int) int {
	if e := run(t, i, end, (*cpText).isWS); e == end {
		return e - i
	}
	return 0
}

// matchCJK is [一-龥ࠀ-一가-퟿]+.
func matchCJK(t *cpText, i, end int) int {
	return run(t, i, end, inDeepseekCJK) - i
}
