package synth

import (
	"fmt"
	"strings"
)

// words seed the built-in SentencePiece-style vocabulary, so that the demo
// model's prompts tokenize into word pieces rather than single bytes.
const words = `the a an and or but if then so of to in on at by for with from as is was are were be been
it he she they we you i my your his her their our this that these those there here what which who when where
why how not no yes all some any one two three many more most other such only own same than too very can will
just do did does done have has had say said go went make made take took see saw come came know knew get got
give gave find found think thought tell told become left feel felt put bring began keep held hold write wrote
stand heard let mean set meet run ran pay sit speak lie lead read grow lose fall send build stay understand
time year people way day man woman child world life hand part place case week company system program question
work government number night point home water room mother area money story fact month lot right study book eye
job word business issue side kind head house service friend father power hour game line end member law car city
community name president team minute idea kid body information back parent face others level office door health
person art war history party result change morning reason research girl guy moment air teacher force education
little big good new first last long great old small large next early young important few public bad able cat
dog sun tree ball park happy sad red blue green play look want like love help walk talk once upon lily tom ben
model server token kiln fire clay oven bake warm hot cold light dark fast slow`

// builtinFirstWord is the id of the built-in vocabulary's first word piece:
// below it are the three control tokens and the 256 byte-fallback tokens.
const builtinFirstWord = 3 + 256

type vocabulary struct {
	tokens []string
	scores []float32
	types  []int32
}

// builtinVocab returns a deterministic SentencePiece-style vocabulary: the
// control tokens, the 256 byte-fallback tokens, every prefix of the seed words
// (so that the score-driven merges can reach each word), and, up to size,
// unused filler tokens. size 0 means just what the words need.
func builtinVocab(size int) vocabulary {
	const (
		normal  = 1
		unknown = 2
		control = 3
		unused  = 5
		byteTok = 6
	)
	v := vocabulary{}
	add := func(tok string, score float32, typ int32) {
		v.tokens = append(v.tokens, tok)
		v.scores = append(v.scores, score)
		v.types = append(v.types, typ)
	}
	add("<unk>", 0, unknown)
	add("<s>", 0, control)
	add("</s>", 0, control)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), 0, byteTok)
	}
	seen := map[string]bool{}
	piece := func(p string) {
		if !seen[p] {
			seen[p] = true
			// Longer pieces score higher so the greedy merges prefer whole words.
			add(p, -float32(len(v.tokens))/1e4+float32(len([]rune(p))), normal)
		}
	}
	for _, c := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\"-:;()" {
		piece(string(c))
	}
	piece("▁")
	for _, w := range strings.Fields(words) {
		for _, form := range []string{w, strings.ToUpper(w[:1]) + w[1:]} {
			r := []rune("▁" + form)
			for i := 2; i <= len(r); i++ {
				piece(string(r[:i]))
			}
		}
	}
	for i := 0; len(v.tokens) < size; i++ {
		add(fmt.Sprintf("<unused%d>", i), 0, unused)
	}
	return v
}
