package constrain

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/tokenizer"
)

// validityCorpus covers the schema features an application uses, pattern,
// format and allOf included.
var validityCorpus = []struct{ name, schema string }{
	{"person", `{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":20},"age":{"type":"integer","minimum":0,"maximum":130},
		"email":{"type":"string","format":"email"},"tags":{"type":"array","items":{"type":"string","maxLength":6},"maxItems":3}},
		"required":["name","age","email"],"additionalProperties":false}`},
	{"event", `{"type":"object","properties":{"title":{"type":"string","maxLength":16},"day":{"type":"string","format":"date"},
		"start":{"type":"string","format":"date-time"},"at":{"type":"string","format":"time"},"id":{"type":"string","format":"uuid"}},
		"required":["day","start","at","id"],"additionalProperties":false}`},
	{"patterns", `{"type":"object","properties":{"sku":{"type":"string","pattern":"^[A-Z]{3}-\\d{4}$"},"code":{"type":"string","pattern":"ab|cd","maxLength":8},
		"hex":{"type":"string","pattern":"^(0x)?[0-9a-f]+$","minLength":2,"maxLength":10},"word":{"type":"string","pattern":"^\\w+( \\w+)*$","maxLength":24}},
		"required":["sku","code","hex","word"],"additionalProperties":false}`},
	{"enums", `{"type":"object","properties":{"color":{"enum":["red","green","blue"]},"size":{"enum":[1,2,3,null]},"ok":{"type":"boolean"}},
		"required":["color","size","ok"],"additionalProperties":false}`},
	{"numbers", `{"type":"array","items":{"anyOf":[{"type":"integer","minimum":-50,"maximum":50},{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1}]},"minItems":1,"maxItems":5}`},
	{"nested", `{"type":"object","properties":{"order":{"type":"object","properties":{"lines":{"type":"array","items":{"type":"object",
		"properties":{"qty":{"type":"integer","minimum":1,"maximum":99},"item":{"type":"string","maxLength":10}},"required":["qty","item"],"additionalProperties":false},
		"minItems":1,"maxItems":3},"note":{"type":["string","null"],"maxLength":12}},"required":["lines","note"],"additionalProperties":false}},
		"required":["order"],"additionalProperties":false}`},
	{"anyOf shapes", `{"anyOf":[{"type":"object","properties":{"circle":{"type":"number","minimum":0,"maximum":10}},"required":["circle"],"additionalProperties":false},
		{"type":"object","properties":{"rect":{"type":"array","prefixItems":[{"type":"integer"},{"type":"integer"}],"items":false,"minItems":2}},"required":["rect"],"additionalProperties":false},
		{"type":"string","pattern":"^shape-[a-z]{1,5}$"}]}`},
	{"recursive tree", `{"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{"v":{"type":"integer","minimum":0,"maximum":9},
		"kids":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["v"],"additionalProperties":false}}}`},
	{"allOf", `{"allOf":[{"$ref":"#/$defs/base"},{"type":"object","properties":{"id":true,"created":true,"kind":{"const":"user"},"handle":{"type":"string","pattern":"^@[a-z]+$","maxLength":9}},"required":["kind","handle"],"additionalProperties":false}],
		"$defs":{"base":{"type":"object","properties":{"id":{"type":"integer","minimum":1},"created":{"type":"string","format":"date"}},"required":["id","created"]}}}`},
	{"tool call", `{"type":"object","properties":{"name":{"const":"get_weather"},"arguments":{"type":"object","properties":{
		"location":{"type":"string","maxLength":20},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer","minimum":1,"maximum":14}},
		"required":["location","unit"],"additionalProperties":false}},"required":["name","arguments"],"additionalProperties":false}`},
	{"open object", `{"type":"object","properties":{"id":{"type":"string","format":"uuid"}},"required":["id"],"additionalProperties":{"type":"integer"},"maxProperties":3}`},
	{"unicode pattern", `{"type":"array","items":{"type":"string","pattern":"^[^a-z\\s]{1,4}$"},"minItems":1,"maxItems":3}`},
}

// sampleWalk samples one output. With logits, at temperature 1 from random
// logits (normal, standard deviation 3) restricted to the allowed tokens;
// otherwise uniformly among the allowed tokens, which costs far less on a
// large vocabulary. After soft steps the tokens that close a value (and end
// of generation) are strongly favoured, as a model that wants to stop would
// favour them. It returns the output text.
func sampleWalk(t *testing.T, ix *Index, tok *tokenizer.Tokenizer, comp *Compiled, r *rand.Rand, allowed []bool, probs []float64, logits bool) string {
	t.Helper()
	c := ix.New(comp)
	closer := closerTokens(tok)
	const soft, hard = 40, 3000
	for step := 0; step < hard; step++ {
		for i := range allowed {
			allowed[i] = true
		}
		c.Allow(allowed)
		if !logits {
			pick := uniformPick(tok, allowed, closer, step > soft, r)
			if pick < 0 {
				t.Fatalf("dead end at %q", c.Text())
			}
			if err := c.Accept(pick); err != nil {
				t.Fatalf("Accept(%d) of an allowed token: %v", pick, err)
			}
			if tok.IsEOG(pick) {
				return c.Text()
			}
			continue
		}
		sum := 0.0
		for id, ok := range allowed {
			p := 0.0
			if ok {
				l := 3 * r.NormFloat64()
				if tok.IsEOG(id) || (step > soft && closer[id]) {
					l += 8
				}
				p = math.Exp(l)
			}
			probs[id] = p
			sum += p
		}
		if sum == 0 {
			t.Fatalf("dead end at %q", c.Text())
		}
		x := r.Float64() * sum
		pick := -1
		for id, p := range probs {
			if p == 0 {
				continue
			}
			pick = id
			if x -= p; x < 0 {
				break
			}
		}
		if err := c.Accept(pick); err != nil {
			t.Fatalf("Accept(%d) of an allowed token: %v", pick, err)
		}
		if tok.IsEOG(pick) {
			return c.Text()
		}
	}
	t.Fatalf("no end after %d steps: %q", hard, c.Text())
	return ""
}

// uniformPick picks an allowed token uniformly; when closing, end of
// generation if allowed, else a closer nine times in ten.
func uniformPick(tok *tokenizer.Tokenizer, allowed, closer []bool, closing bool, r *rand.Rand) int {
	var cand, pref []int
	eog := -1
	for id, ok := range allowed {
		if !ok {
			continue
		}
		if tok.IsEOG(id) {
			if closing || r.IntN(4) == 0 {
				return id
			}
			eog = id
			continue
		}
		cand = append(cand, id)
		if closing && closer[id] {
			pref = append(pref, id)
		}
	}
	if len(pref) > 0 && r.IntN(10) < 9 {
		cand = pref
	}
	if len(cand) == 0 {
		return eog
	}
	return cand[r.IntN(len(cand))]
}

// TestValidityRate samples outputs for every schema of the corpus on two
// real vocabularies: all of them must parse and validate.
func TestValidityRate(t *testing.T) {
	vocabs := []struct {
		rel    string
		n      int // outputs per schema
		logits bool
	}{
		{"stories260K.gguf", 85, true},
		{"vocab/kiln-vocab-qwen3.gguf", 3, false},
	}
	total, valid := 0, 0
	for _, v := range vocabs {
		start := time.Now()
		vt := total
		ix, tok := loadIndex(t, v.rel)
		n := v.n
		if testing.Short() || raceEnabled {
			n = max(1, n/8)
		}
		allowed := make([]bool, tok.Len())
		probs := make([]float64, tok.Len())
		for si, s := range validityCorpus {
			if n < v.n && !v.logits && si%3 != 0 {
				continue // short and race runs: a third of the schemas on the large vocabulary
			}
			comp, err := CompileSchemaContext(t.Context(), []byte(s.schema))
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			r := rand.New(rand.NewPCG(uint64(si), 11))
			for i := 0; i < n; i++ {
				text := sampleWalk(t, ix, tok, comp, r, allowed, probs, v.logits)
				total++
				if !json.Valid([]byte(text)) {
					t.Errorf("%s/%s: output does not parse: %q", filepath.Base(v.rel), s.name, text)
					continue
				}
				if err := Validate([]byte(s.schema), []byte(text)); err != nil {
					t.Errorf("%s/%s: output does not validate: %v: %q", filepath.Base(v.rel), s.name, err, text)
					continue
				}
				valid++
				if i == 0 {
					t.Logf("%s/%s: %s", filepath.Base(v.rel), s.name, text)
				}
			}
		}
		t.Logf("%s: %d outputs in %.1fs", filepath.Base(v.rel), total-vt, time.Since(start).Seconds())
	}
	t.Logf("validity: %d of %d outputs parse and validate (%d schemas)", valid, total, len(validityCorpus))
	if valid != total {
		t.Fatalf("validity rate %d/%d, want 100%%", valid, total)
	}
}
