package constrain

import (
	"math/rand/v2"
	"testing"
)

// FuzzCompileSchema feeds arbitrary bytes to the compiler: it must never
// panic, and a schema it accepts must drive the matcher without dead ends,
// with every complete output passing Validate.
func FuzzCompileSchema(f *testing.F) {
	for _, s := range propertySchemas {
		if s.schema != "" {
			f.Add([]byte(s.schema), uint64(1))
		}
	}
	for _, s := range []string{
		`{}`, `true`, `false`, `{"type":"integer","minimum":-3,"maximum":3}`,
		`{"type":"number","exclusiveMinimum":0.25,"exclusiveMaximum":0.5}`,
		`{"enum":[1,"a",null,[],{}]}`, `{"type":"array","prefixItems":[{"const":1}],"minItems":2,"items":{"type":"boolean"}}`,
		`{"$ref":"#/$defs/a","$defs":{"a":{"anyOf":[{"type":"null"},{"type":"array","items":{"$ref":"#/$defs/a"},"maxItems":2}]}}}`,
		`{"type":"object","properties":{"a":{"type":"string","minLength":2,"maxLength":2}},"required":["a"],"minProperties":2,"maxProperties":3}`,
		`{"type":"string","pattern":"^(a|bc)+[^x-z]?\\d{1,3}$","maxLength":6}`, `{"type":"string","pattern":"é.","format":"date"}`,
		`{"type":"array","items":{"type":"string","format":"email"},"maxItems":2}`,
		`{"allOf":[{"properties":{"a":{"type":"integer"}},"required":["a"]},{"properties":{"a":{"maximum":3},"b":{"type":"string","pattern":"x"}}}]}`,
	} {
		f.Add([]byte(s), uint64(2))
	}
	ix := NewIndex(byteVocab{})
	f.Fuzz(func(t *testing.T, schema []byte, seed uint64) {
		c, err := ix.Schema(schema)
		if err != nil {
			return
		}
		r := rand.New(rand.NewPCG(seed, 1))
		allowed := make([]bool, 257)
		for step := 0; step < 200; step++ {
			for i := range allowed {
				allowed[i] = true
			}
			c.Allow(allowed)
			var cand []int
			for id, ok := range allowed {
				if ok {
					cand = append(cand, id)
				}
			}
			if len(cand) == 0 {
				t.Fatalf("dead end after %q", c.Text())
			}
			if c.Done() {
				if err := Validate(schema, []byte(c.Text())); err != nil {
					t.Fatalf("Done but invalid: %v: %q", err, c.Text())
				}
				if r.IntN(3) == 0 {
					return
				}
			}
			id := cand[r.IntN(len(cand))]
			if id == eogByte {
				return
			}
			if err := c.Accept(id); err != nil {
				t.Fatalf("Accept(%d) after Allow: %v", id, err)
			}
		}
	})
}
