// Package tokenizer turns text into token ids and back for the two GGUF
// vocabulary families Kiln serves: SentencePiece-style vocabularies
// (tokenizer.ggml.model = "llama") and byte-level BPE vocabularies
// (tokenizer.ggml.model = "gpt2").
//
// The behaviour deliberately follows llama.cpp's llama_tokenize and
// llama_token_to_piece rather than Hugging Face's tokenizers: the reference
// outputs Kiln is checked against come from llama.cpp, and a model served by
// Kiln must see exactly the ids it would see under llama.cpp (including
// llama.cpp's quirks, such as re-typing control-looking tokens by name).
//
// A Tokenizer is immutable after construction and safe for concurrent use.
package tokenizer

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Vocab is the GGUF-independent description of a vocabulary. FromGGUF fills
// it from tokenizer.ggml.* metadata with llama.cpp's defaults; tests and
// other callers may build it directly.
type Vocab struct {
	Model  string    // tokenizer.ggml.model: "llama" (SentencePiece-style) or "gpt2" (byte-level BPE)
	Pre    string    // tokenizer.ggml.pre; only used by "gpt2" vocabularies
	Tokens []string  // token texts in id order
	Scores []float32 // may be nil (all scores 0)
	Types  []int32   // token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte; nil = all normal
	Merges []string  // "a b", rank order (gpt2)

	// Special token ids, -1 when absent. Ids outside the vocabulary are
	// treated as absent, as llama.cpp does.
	BOS, EOS, UNK, PAD, EOT, EOM int

	AddBOS, AddEOS, AddSpacePrefix bool

	// Name is general.name. llama.cpp keys a few per-token attributes off the
	// model name (Phi-3 strips whitespace after its special tokens), so it
	// is needed to reproduce its token ids; "" disables those rules.
	Name string
}

// Token types as stored in tokenizer.ggml.token_type.
const (
	TypeUndefined   = 0
	TypeNormal      = 1
	TypeUnknown     = 2
	TypeControl     = 3
	TypeUserDefined = 4
	TypeUnused      = 5
	TypeByte        = 6
)

// attr mirrors llama.cpp's llama_token_attr bit set. Token types map onto
// single bits, but llama.cpp then ORs extra bits in (a user-defined token
// that looks like an end-of-turn marker becomes control as well), so the
// representation has to be a bit set, not a type enum.
type attr uint16

const (
	attrUnknown attr = 1 << iota
	attrUnused
	attrNormal
	attrControl
	attrUserDefined
	attrByte
	attrLStrip
	attrRStrip
)

type modelKind int

const (
	kindSPM modelKind = iota
	kindBPE
)

// Tokenizer encodes and decodes text for one vocabulary.
type Tokenizer struct {
	kind   modelKind
	pre    preSpec
	tokens []string
	scores []float32
	attrs  []attr
	ids    map[string]int32

	// mergeRank maps a BPE merge "a b" to its rank. Keying by the merge
	// string as stored (rather than by a pair of token ids) makes loading a
	// 280k-merge vocabulary a single map insert per merge. It is equivalent
	// to llama.cpp's (first, second) pairs because byte-level symbols never
	// contain a raw space.
	mergeRank map[string]int32

	// byteTok is, per byte value, the token the byte stands for: SPM's
	// <0xXX> fallback token, or the BPE token of the byte's GPT-2 unicode
	// character. -1 when the vocabulary lacks it.
	byteTok [256]int32

	specials  []int32 // control, user-defined and unknown tokens, longest text first
	specialID map[string]int32
	eog       map[int32]struct{}

	bos, eos, unk, pad, eot, eom int
	addBOS, addEOS, addSpacePref bool
}

// New builds a Tokenizer from v. It fails on what llama.cpp refuses to load:
// an unknown model or pre-tokenizer, duplicate tokens, short score or type
// arrays, and add_bos/add_eos without the corresponding token.
func New(v Vocab) (*Tokenizer, error) {
	n := len(v.Tokens)
	if n == 0 {
		return nil, errors.New("tokenizer: empty vocabulary")
	}
	if n > 1<<31-1 {
		return nil, fmt.Errorf("tokenizer: vocabulary too large (%d tokens)", n)
	}
	if v.Scores != nil && len(v.Scores) < n {
		return nil, fmt.Errorf("tokenizer: %d scores for %d tokens", len(v.Scores), n)
	}
	if v.Types != nil && len(v.Types) < n {
		return nil, fmt.Errorf("tokenizer: %d token types for %d tokens", len(v.Types), n)
	}
	t := &Tokenizer{
		tokens:       make([]string, n),
		attrs:        make([]attr, n),
		ids:          make(map[string]int32, n),
		addBOS:       v.AddBOS,
		addEOS:       v.AddEOS,
		addSpacePref: v.AddSpacePrefix,
	}
	switch v.Model {
	case "llama":
		t.kind = kindSPM
	case "gpt2":
		t.kind = kindBPE
		spec, ok := lookupPre(v.Pre)
		if !ok {
			return nil, fmt.Errorf("tokenizer: unknown pre-tokenizer type %q", v.Pre)
		}
		t.pre = spec
	default:
		return nil, fmt.Errorf("tokenizer: unknown tokenizer model %q", v.Model)
	}
	if v.Scores != nil {
		t.scores = v.Scores[:n:n]
	}
	// The merge table is independent of the token table, and the two maps
	// dominate load time for large vocabularies: build them concurrently.
	var wg sync.WaitGroup
	if t.kind == kindBPE {
		wg.Go(func() { t.mergeRank = buildMerges(v.Merges) })
	}
	err := t.buildTokens(v)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	return t.finish(v)
}

func (t *Tokenizer) buildTokens(v Vocab) error {
	for i, tok := range v.Tokens {
		if tok == "" {
			// llama.cpp renames empty tokens so that they stay unique and
			// can never match text.
			tok = fmt.Sprintf("[EMPTY_%d]", i)
		}
		if prev, dup := t.ids[tok]; dup {
			return fmt.Errorf("tokenizer: duplicate token %q has ids %d and %d", tok, prev, i)
		}
		t.ids[tok] = int32(i)
		t.tokens[i] = tok
		t.attrs[i] = attrNormal
		if v.Types != nil {
			t.attrs[i] = typeAttr(v.Types[i])
		}
	}
	return nil
}

// finish validates special ids and derives the special-token tables.
func (t *Tokenizer) finish(v Vocab) (*Tokenizer, error) {
	n := len(t.tokens)
	inRange := func(id int) int {
		if id < 0 || id >= n {
			return -1
		}
		return id
	}
	t.bos, t.eos, t.unk = inRange(v.BOS), inRange(v.EOS), inRange(v.UNK)
	t.pad, t.eot, t.eom = inRange(v.PAD), inRange(v.EOT), inRange(v.EOM)
	if t.addBOS && t.bos < 0 {
		return nil, errors.New("tokenizer: add_bos_token is true, but bos_token_id is not set")
	}
	if t.addEOS && t.eos < 0 {
		return nil, errors.New("tokenizer: add_eos_token is true, but eos_token_id is not set")
	}

	t.initByteTokens()
	t.detectSpecial()
	t.buildSpecialCache()
	t.applyNameRules(v.Name)
	return t, nil
}

func typeAttr(typ int32) attr {
	switch typ {
	case TypeNormal:
		return attrNormal
	case TypeUnknown:
		return attrUnknown
	case TypeControl:
		return attrControl
	case TypeUserDefined:
		return attrUserDefined
	case TypeUnused:
		return attrUnused
	case TypeByte:
		return attrByte
	}
	return 0 // undefined
}

func buildMerges(merges []string) map[string]int32 {
	m := make(map[string]int32, len(merges))
	// Backwards, so that the first of duplicate merges wins, as with
	// llama.cpp's emplace.
	for rank := len(merges) - 1; rank >= 0; rank-- {
		if s := merges[rank]; len(s) > 1 && strings.IndexByte(s[1:], ' ') >= 0 {
			m[s] = int32(min(rank, 1<<31-1))
		}
	}
	return m
}

func (t *Tokenizer) initByteTokens() {
	const hex = "0123456789ABCDEF"
	for b := 0; b < 256; b++ {
		t.byteTok[b] = -1
		if t.kind == kindSPM {
			name := []byte{'<', '0', 'x', hex[b>>4], hex[b&15], '>'}
			if id, ok := t.ids[string(name)]; ok {
				t.byteTok[b] = id
			} else if id, ok := t.ids[string([]byte{byte(b)})]; ok {
				t.byteTok[b] = id
			}
			continue
		}
		if id, ok := t.ids[byteUnicode[b]]; ok {
			t.byteTok[b] = id
		}
	}
}

// detectSpecial reproduces llama.cpp's name-based fix-ups: tokens whose
// text looks like an end-of-turn, end-of-generation or fill-in-the-middle
// marker are forced to control type, and the end-of-generation set is built
// from their names plus eos/eot/eom. Iteration is in id order, which makes
// the (rare) choice between several end-of-turn candidates deterministic
// where llama.cpp's depends on hash order.
func (t *Tokenizer) detectSpecial() {
	makeControl := func(id int32) { t.attrs[id] |= attrControl }
	firstOf := func(cur int, names ...string) int {
		if cur >= 0 {
			return cur
		}
		for _, name := range names {
			if id, ok := t.ids[name]; ok && (cur < 0 || int(id) < cur) {
				cur = int(id)
			}
		}
		if cur >= 0 {
			makeControl(int32(cur))
		}
		return cur
	}
	t.eot = firstOf(t.eot, "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
		"<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>")
	t.eom = firstOf(t.eom, "<|eom_id|>")
	firstOf(-1, "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
		"<|code_prefix|>", "<|prefix|>")
	firstOf(-1, "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
		"<|code_suffix|>", "<|suffix|>")
	firstOf(-1, "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
		"<|code_middle|>", "<|middle|>")
	fimPad := firstOf(-1, "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]")
	fimRep := firstOf(-1, "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>")
	fimSep := firstOf(-1, "<|file_sep|>")

	t.eog = make(map[int32]struct{})
	for _, id := range []int{fimPad, fimRep, fimSep} {
		if id >= 0 {
			t.eog[int32(id)] = struct{}{}
		}
	}
	for _, name := range []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
		"<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
		"_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>",
		"<|tool_response>", "<｜end▁of▁sentence｜>", "[e~["} {
		if id, ok := t.ids[name]; ok {
			t.eog[id] = struct{}{}
			makeControl(id)
		}
	}
	// gpt-oss renders these structural tokens as text.
	for _, name := range []string{"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"} {
		if id, ok := t.ids[name]; ok {
			t.attrs[id] = attrUserDefined
		}
	}
	for _, id := range []int{t.eos, t.eot, t.eom} {
		if id >= 0 {
			t.eog[int32(id)] = struct{}{}
		}
	}
	// In harmony-style vocabularies <|end|> ends a message, not generation.
	has := func(name string) (int32, bool) {
		id, ok := t.ids[name]
		if !ok {
			return -1, false
		}
		_, in := t.eog[id]
		return id, in
	}
	_, ret := has("<|return|>")
	_, call := has("<|call|>")
	_, calls := has("<|calls|>")
	_, flush := has("<|flush|>")
	if endID, end := has("<|end|>"); end && ((ret && (call || calls)) || ((call || calls) && flush)) {
		delete(t.eog, endID)
		t.attrs[endID] = attrUserDefined
	}
	// Gemma 4 uses </s> as ordinary text.
	if _, tr := has("<|tool_response>"); tr {
		if sID, s := has("</s>"); s {
			delete(t.eog, sID)
			t.attrs[sID] = attrNormal
		}
	}
}

func (t *Tokenizer) buildSpecialCache() {
	for id, a := range t.attrs {
		if a&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.specials = append(t.specials, int32(id))
		}
	}
	// Longest first, as llama.cpp's partitioning expects; ties by id so the
	// order is deterministic.
	sort.SliceStable(t.specials, func(i, j int) bool {
		return len(t.tokens[t.specials[i]]) > len(t.tokens[t.specials[j]])
	})
	t.specialID = make(map[string]int32, len(t.specials))
	for _, id := range t.specials {
		t.specialID[t.tokens[id]] = id
	}
}

// applyNameRules sets the per-model strip attributes llama.cpp hard-codes:
// Phi-3's chat tokens swallow the whitespace that follows them.
func (t *Tokenizer) applyNameRules(name string) {
	name = strings.ToLower(name)
	if !strings.Contains(name, "phi-3") && !strings.Contains(name, "phi3") {
		return
	}
	for _, id := range t.specials {
		t.attrs[id] |= attrRStrip
	}
	if id, ok := t.ids["</s>"]; ok {
		t.attrs[id] |= attrRStrip
	}
	for _, tok := range []string{"<unk>", "<s>", "<|endoftext|>"} {
		if id, ok := t.ids[tok]; ok {
			t.attrs[id] &^= attrRStrip
		}
	}
}

// Len returns the number of tokens in the vocabulary.
func (t *Tokenizer) Len() int { return len(t.tokens) }

// BOS returns the beginning-of-sequence token id, or -1.
func (t *Tokenizer) BOS() int { return t.bos }

// EOS returns the end-of-sequence token id, or -1.
func (t *Tokenizer) EOS() int { return t.eos }

// AddBOS reports whether Encode with addSpecial prepends BOS.
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// Piece returns the raw vocabulary string of id ("" when out of range).
func (t *Tokenizer) Piece(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// IsEOG reports whether id ends generation.
func (t *Tokenizer) IsEOG(id int) bool {
	if id < 0 || id >= len(t.tokens) {
		return false
	}
	_, ok := t.eog[int32(id)]
	return ok
}

// EOG returns the end-of-generation ids in increasing order.
func (t *Tokenizer) EOG() []int {
	out := make([]int, 0, len(t.eog))
	for id := range t.eog {
		out = append(out, int(id))
	}
	sort.Ints(out)
	return out
}

// IsControl reports whether id is a control token (after llama.cpp's
// name-based re-typing).
func (t *Tokenizer) IsControl(id int) bool {
	return id >= 0 && id < len(t.tokens) && t.attrs[id]&attrControl != 0
}

// Special returns the id of the control, user-defined or unknown token whose
// text is exactly text.
func (t *Tokenizer) Special(text string) (int, bool) {
	id, ok := t.specialID[text]
	return int(id), ok
}
