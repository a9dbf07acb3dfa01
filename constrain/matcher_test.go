package constrain

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// byteVocab has one token per byte value plus an end-of-generation token
// (256), so every byte string is a token sequence.
type byteVocab struct{}

func (byteVocab) Len() int { return 257 }
func (byteVocab) TokenBytes(id int) []byte {
	if id < 256 {
		return []byte{byte(id)}
	}
	return []byte("</s>")
}
func (byteVocab) IsEOG(id int) bool { return id == 256 }

const eogByte = 256

type verdict int

const (
	complete verdict = iota // valid and Done
	prefix                  // valid prefix, not Done
	reject                  // some byte rejected
)

func (v verdict) String() string { return [...]string{"complete", "prefix", "reject"}[v] }

// stepper is what run drives: a Constraint or a Triggered.
type stepper interface {
	Allow([]bool)
	Accept(int) error
	Done() bool
}

// run feeds s byte by byte and checks, at every byte, that Allow agrees with
// Accept (and, for a stepper that can say it is Free, that a free step bars
// nothing); it returns the verdict.
func run(t *testing.T, c stepper, s string) verdict {
	t.Helper()
	allowed := make([]bool, 257)
	free, canFree := c.(interface{ Free() bool })
	for i := 0; i < len(s); i++ {
		for j := range allowed {
			allowed[j] = true
		}
		isFree := canFree && free.Free()
		c.Allow(allowed)
		if isFree && slices.Contains(allowed, false) {
			t.Fatalf("%q at %d: Free, but Allow bars tokens", s, i)
		}
		err := c.Accept(int(s[i]))
		if (err == nil) != allowed[s[i]] {
			t.Fatalf("%q at %d: Allow says %v, Accept says %v", s, i, allowed[s[i]], err)
		}
		if err != nil {
			return reject
		}
	}
	for j := range allowed {
		allowed[j] = true
	}
	c.Allow(allowed)
	if allowed[eogByte] != c.Done() {
		t.Fatalf("%q: EOG allowed %v but Done %v", s, allowed[eogByte], c.Done())
	}
	if !c.Done() {
		n := 0
		for _, a := range allowed {
			if a {
				n++
			}
		}
		if n == 0 {
			t.Fatalf("%q: dead end: nothing allowed before Done", s)
		}
		return prefix
	}
	return complete
}

func TestMatcher(t *testing.T) {
	ix := NewIndex(byteVocab{})
	type tc struct {
		in   string
		want verdict
	}
	cases := []struct {
		name   string
		schema string // "" = JSON mode
		opts   []Option
		cases  []tc
	}{
		{"json mode", "", nil, []tc{
			{`{}`, complete}, {`{"a":1}`, complete}, {`{"a": [1, 2.5e-3, "x", true, false, null, {}]}`, complete},
			{`[]`, reject}, {`1`, reject}, {`"s"`, reject}, {`{ }`, reject}, {`{"a" :1}`, reject},
			{`{"a":  1}`, reject}, {`{"a":1,  "b":2}`, reject}, {`{"a":1} `, reject}, {"{\n", reject},
			{`{"a":1,"a":2}`, reject}, {`{"a":01}`, reject}, {`{"a":-}`, reject}, {`{"a":1.}`, reject},
			{`{"a":1e}`, reject}, {`{"a":-0.0E+5}`, complete}, {`{"a":"\u00e9\n\"\\\/"}`, complete},
			{`{"a":"\ud83d"}`, reject}, {`{"a":"\x"}`, reject}, {"{\"a\":\"\x01\"}", reject},
			{"{\"a\":\"h\xc3\xa9llo \xf0\x9f\x98\x80\"}", complete}, {"{\"a\":\"\xc3\"}", reject},
			{"{\"a\":\"\xed\xa0\x80\"}", reject}, {"{\"a\":\"\xc0\xaf\"}", reject},
			{`{"a":tru`, prefix}, {`{"a":[1,2`, prefix}, {`{"a\nb":1}`, reject}, {`{"a\"":1}`, reject},
			{"{\"\xc3\xa9\":1}", complete}, {`{"":1}`, complete},
		}},
		{"object props", `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"nick":{"type":"string"}},"required":["name","age"],"additionalProperties":false}`, nil, []tc{
			{`{"name":"x","age":3}`, complete}, {`{"age":3,"name":"x"}`, complete}, {`{"age":3,"nick":"n","name":"x"}`, complete},
			{`{"name":"x"}`, reject}, {`{"name":"x","age":3.5}`, reject}, {`{"name":"x","age":3,"other":1}`, reject},
			{`{"name":"x","name":"y"}`, reject}, {`{"nam":1}`, reject}, {`{"name":"x","age":3,`, prefix},
			{`{"name":"x","age":3,"nick":"a",`, reject}, {`{}`, reject}, {`{"age":-0}`, reject},
		}},
		{"additional allowed", `{"type":"object","properties":{"a":{"type":"integer"}}}`, nil, []tc{
			{`{"a":1,"b":"x"}`, complete}, {`{"b":"x","a":1}`, complete}, {`{"a":"x"}`, reject},
			{`{"b":1,"b":2}`, reject}, {`{"ab":"x","a":2}`, complete}, {`{"a\u0062":1}`, reject},
		}},
		{"strict drops additional", `{"type":"object","properties":{"a":{"type":"integer"}}}`, []Option{Strict(true)}, []tc{
			{`{"a":1}`, complete}, {`{"b":1}`, reject}, {`{}`, complete},
		}},
		{"additional schema", `{"type":"object","additionalProperties":{"type":"boolean"},"minProperties":1,"maxProperties":2}`, nil, []tc{
			{`{"x":true}`, complete}, {`{}`, reject}, {`{"x":1}`, reject}, {`{"x":true,"y":false}`, complete},
			{`{"x":true,"y":false,`, reject},
		}},
		{"max props keeps room for required", `{"type":"object","properties":{"a":{"type":"null"},"b":{"type":"null"}},"required":["b"],"maxProperties":1}`, nil, []tc{
			{`{"b":null}`, complete}, {`{"a":null`, reject}, {`{"a`, reject},
		}},
		{"escaped property name", `{"type":"object","properties":{"a\"b":{"const":1},"a\\":{"const":2}},"additionalProperties":false}`, nil, []tc{
			{`{"a\"b":1}`, complete}, {`{"a\\":2}`, complete}, {`{"a\\":1}`, reject}, {`{"a":1}`, reject},
		}},
		{"array", `{"type":"array","items":{"type":"integer","minimum":1,"maximum":12},"minItems":2,"maxItems":3}`, nil, []tc{
			{`[1,12]`, complete}, {`[1, 2, 3]`, complete}, {`[1]`, reject}, {`[1,2,3,4]`, reject},
			{`[13,1]`, reject}, {`[0,1]`, reject}, {`[1,2 ,3]`, reject}, {`[1,10]`, complete}, {`[1,-1]`, reject},
			{`[1,2,`, prefix}, {`[1,2,1`, prefix},
		}},
		{"prefixItems", `{"type":"array","prefixItems":[{"type":"string"},{"type":"boolean"}],"items":false}`, nil, []tc{
			{`["a",true]`, complete}, {`["a"]`, complete}, {`[]`, complete}, {`["a",true,1]`, reject}, {`[true]`, reject},
		}},
		{"tuple items draft7", `{"type":"array","items":[{"type":"null"}],"additionalItems":{"type":"integer"}}`, nil, []tc{
			{`[null,1,2]`, complete}, {`[1]`, reject},
		}},
		{"string lengths", `{"type":"string","minLength":2,"maxLength":3}`, nil, []tc{
			{`"ab"`, complete}, {`"abc"`, complete}, {`"a"`, reject}, {`"abcd"`, reject},
			{`"\n\u00e9"`, complete}, {"\"\xc3\xa9\xc3\xa9\xc3\xa9\"", complete}, {"\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3", reject},
		}},
		{"string enum", `{"enum":["red","green","re"]}`, nil, []tc{
			{`"red"`, complete}, {`"re"`, complete}, {`"r"`, reject}, {`"blue"`, reject}, {`"gr`, prefix},
		}},
		{"mixed enum", `{"enum":[1,12,"x",null,{"b":1,"a":[true]},[1,2]]}`, nil, []tc{
			{`1`, complete}, {`12`, complete}, {`"x"`, complete}, {`null`, complete}, {`{"a":[true],"b":1}`, complete},
			{`[1,2]`, complete}, {`{"b":1,"a":[true]}`, reject}, {`2`, reject}, {`123`, reject},
		}},
		{"enum in object before brace", `{"type":"object","properties":{"n":{"enum":[1,10]}},"required":["n"],"additionalProperties":false}`, nil, []tc{
			{`{"n":1}`, complete}, {`{"n":10}`, complete}, {`{"n":100}`, reject},
		}},
		{"enum filtered by type", `{"type":"string","enum":["a",1,"b"]}`, nil, []tc{
			{`"a"`, complete}, {`1`, reject},
		}},
		{"const", `{"const":{"x":"y"}}`, nil, []tc{{`{"x":"y"}`, complete}, {`{"x":"z"}`, reject}}},
		{"boolean and null", `{"type":["boolean","null"]}`, nil, []tc{
			{`true`, complete}, {`false`, complete}, {`null`, complete}, {`nul`, prefix}, {`0`, reject},
		}},
		{"nullable string", `{"type":["string","null"]}`, nil, []tc{{`"x"`, complete}, {`null`, complete}, {`1`, reject}}},
		{"top-level number", `{"type":"number"}`, nil, []tc{
			{`1`, complete}, {`-1.5e+3`, complete}, {`-`, prefix}, {`1.`, prefix}, {`01`, reject}, {`1 `, reject},
		}},
		{"integer bounds", `{"type":"integer","minimum":-5,"exclusiveMaximum":100}`, nil, []tc{
			{`-5`, complete}, {`99`, complete}, {`100`, reject}, {`-6`, reject}, {`1.0`, reject}, {`1e2`, reject},
			{`-0`, complete}, {`9`, complete}, {`-50`, reject},
		}},
		{"number bounds", `{"type":"number","exclusiveMinimum":0,"maximum":1.5}`, nil, []tc{
			{`0.5`, complete}, {`1.5`, complete}, {`1.51`, reject}, {`0`, prefix}, {`0.0`, prefix}, {`0.01`, complete}, {`2`, reject},
			{`-0.1`, reject}, {`1e0`, reject},
		}},
		{"integer big minimum", `{"type":"integer","minimum":1000}`, nil, []tc{
			{`1000`, complete}, {`999`, prefix}, {`9999`, complete}, {`0`, reject}, {`1`, prefix},
		}},
		{"anyOf", `{"anyOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false},{"type":"object","properties":{"b":{"type":"string"}},"required":["b"],"additionalProperties":false},{"type":"integer"}]}`, nil, []tc{
			{`{"a":1}`, complete}, {`{"b":"x"}`, complete}, {`7`, complete}, {`{"a":"x"}`, reject}, {`{"a":1,"b":"x"}`, reject}, {`{}`, reject},
		}},
		{"oneOf as anyOf", `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, nil, []tc{{`"s"`, complete}, {`3`, complete}, {`true`, reject}}},
		{"ref recursion", `{"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"],"additionalProperties":false}}}`, nil, []tc{
			{`{"v":1}`, complete}, {`{"v":1,"kids":[{"v":2,"kids":[{"v":3}]},{"v":4}]}`, complete}, {`{"v":1,"kids":[{}]}`, reject},
		}},
		{"definitions and root ref", `{"type":"object","properties":{"self":{"$ref":"#"},"d":{"$ref":"#/definitions/d"}},"additionalProperties":false,"definitions":{"d":{"type":"boolean"}}}`, nil, []tc{
			{`{"self":{"self":{}},"d":true}`, complete}, {`{"d":1}`, reject},
		}},
		{"allOf single", `{"type":"object","properties":{"x":{"allOf":[{"$ref":"#/$defs/e"}],"description":"d"}},"required":["x"],"$defs":{"e":{"enum":["p","q"]}}}`, nil, []tc{
			{`{"x":"p"}`, complete}, {`{"x":"r"}`, reject},
		}},
		{"empty schema", `{}`, nil, []tc{{`1`, complete}, {`[1,{"a":null}]`, complete}, {`"x"`, complete}}},
		{"true schema", `true`, nil, []tc{{`[]`, complete}}},
		{"unsat optional property is never written", `{"type":"object","properties":{"a":false,"b":{"type":"integer"}},"additionalProperties":false}`, nil, []tc{
			{`{"b":1}`, complete}, {`{"a`, reject},
		}},
		{"annotations and unknown format ignored", `{"type":"string","format":"ipv6","title":"t","description":"d","examples":["x"],"default":"y","$schema":"https://json-schema.org/draft/2020-12/schema"}`, nil, []tc{
			{`"anything"`, complete},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range c.cases {
				var con *Constraint
				if c.schema == "" {
					con = ix.JSON()
				} else {
					var err error
					con, err = ix.Schema([]byte(c.schema), c.opts...)
					if err != nil {
						t.Fatalf("Schema: %v", err)
					}
				}
				got := run(t, con, k.in)
				if got != k.want {
					t.Errorf("%s: got %v, want %v", k.in, got, k.want)
				}
				if got == complete && c.schema != "" {
					if err := Validate([]byte(c.schema), []byte(k.in), c.opts...); err != nil {
						t.Errorf("%s: matcher accepts but Validate says %v", k.in, err)
					}
				}
				if got == complete && con.Text() != k.in {
					t.Errorf("Text() = %q, want %q", con.Text(), k.in)
				}
			}
		})
	}
}

func TestSchemaErrors(t *testing.T) {
	cases := []struct {
		schema string
		want   string // substring of the error
	}{
		{`{"type":"string","pattern":"^a(?=b)"}`, "pattern"},
		{`{"not":{"type":"string"}}`, "not"},
		{`{"if":{},"then":{},"else":{}}`, "if"},
		{`{"type":"object","patternProperties":{"^x":{}}}`, "patternProperties"},
		{`{"type":"object","dependentRequired":{"a":["b"]}}`, "dependentRequired"},
		{`{"type":"array","uniqueItems":true}`, "uniqueItems"},
		{`{"type":"integer","multipleOf":2}`, "multipleOf"},
		{`{"allOf":[{"type":"string"},{"foo":1},{"foo":2}]}`, "allOf"},
		{`{"$ref":"http://example.com/s.json"}`, "local"},
		{`{"$ref":"#/$defs/missing"}`, "not found"},
		{`{"type":"strin"}`, "unknown type"},
		{`{"type":"string","minLength":3,"maxLength":2}`, "no JSON value"},
		{`false`, "no JSON value"},
		{`{"type":"object","required":["a"],"additionalProperties":false}`, "no JSON value"},
		{`{"$ref":"#/$defs/a","$defs":{"a":{"type":"object","properties":{"x":{"$ref":"#/$defs/a"}},"required":["x"]}}}`, "no JSON value"},
		{`{"type":"integer","minimum":1.5,"maximum":1.9}`, "no JSON value"},
		{`{"enum":[]}`, "no JSON value"},
		{`{"anyOf":[{"type":"string"}],"minLength":1}`, "anyOf"},
		{`{"type":"string"`, "invalid JSON"},
		{`[]`, "must be an object or a boolean"},
		{`{"type":"number","minimum":1e99999}`, "minimum"},
	}
	for _, c := range cases {
		err := CompileSchema([]byte(c.schema))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.schema, err, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	schema := `{"type":"object","properties":{"a":{"type":"integer","maximum":3},"b":{"type":"array","items":{"type":"string","maxLength":1}}},"required":["a"],"additionalProperties":false}`
	cases := []struct {
		doc string
		ok  bool
	}{
		{`{"a":3}`, true}, {`{"a": 3.0, "b": ["x", "\u00e9"]}`, true}, {`{"a":4}`, false}, {`{"b":[]}`, false},
		{`{"a":1,"c":1}`, false}, {`{"a":1,"b":["xy"]}`, false}, {`{"a":1,"a":2}`, false}, {`{"a":1} x`, false},
		{`{"a":1.5}`, false}, {"{\"a\":1,\"b\":[\"\xff\"]}", false},
	}
	for _, c := range cases {
		err := Validate([]byte(schema), []byte(c.doc))
		if (err == nil) != c.ok {
			t.Errorf("%s: Validate = %v, want ok %v", c.doc, err, c.ok)
		}
	}
}

// engineConstraint mirrors engine.Constraint (which this package must not
// import) so that a signature drift fails to compile here.
type engineConstraint interface {
	Allow(allowed []bool)
	Accept(tok int) error
	Done() bool
}

var _ engineConstraint = (*Constraint)(nil)

// TestConcurrentConstraints runs constraints of one shared Index in
// parallel (meaningful under -race): the Index and compiled JSON-mode graph
// are shared, the lazily built plans included.
func TestConcurrentConstraints(t *testing.T) {
	ix := NewIndex(byteVocab{})
	docs := []string{`{"a": "x\u00e9y", "b": [1, 2.5]}`, `{"k":{"n":null}}`, `{"s": "long string value"}`, `{}`}
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := docs[g%len(docs)]
			c := ix.JSON()
			allowed := make([]bool, 257)
			for i := 0; i < len(doc); i++ {
				for j := range allowed {
					allowed[j] = true
				}
				c.Allow(allowed)
				if !allowed[doc[i]] {
					errs <- fmt.Sprintf("%q: byte %d not allowed", doc, i)
					return
				}
				if err := c.Accept(int(doc[i])); err != nil {
					errs <- err.Error()
					return
				}
			}
			if !c.Done() || c.Accept(eogByte) != nil {
				errs <- fmt.Sprintf("%q: not complete", doc)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
