package constrain

import (
	"strings"
	"testing"
)

func TestAllOf(t *testing.T) {
	ix := NewIndex(byteVocab{})
	type tc struct {
		in   string
		want verdict
	}
	cases := []struct {
		name   string
		schema string
		opts   []Option
		cases  []tc
	}{
		{"merge properties and required", `{"allOf":[
			{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
			{"type":"object","properties":{"b":{"type":"string"}},"required":["b"]}]}`, nil, []tc{
			{`{"a":1,"b":"x"}`, complete}, {`{"a":1}`, reject}, {`{"b":"x"}`, reject}, {`{"a":"x","b":"x"}`, reject},
			{`{"a":1,"b":"x","c":null}`, complete},
		}},
		{"same property intersects", `{"allOf":[
			{"properties":{"n":{"type":"integer","minimum":0}},"required":["n"]},
			{"properties":{"n":{"type":"number","maximum":9}}}]}`, nil, []tc{
			{`{"n":5}`, complete}, {`{"n":10}`, reject}, {`{"n":-1}`, reject}, {`{"n":1.5}`, reject}, {`{"n":3,"m":1}`, complete},
		}},
		{"sibling additionalProperties false sees no properties", `{"allOf":[{"properties":{"n":{"type":"integer"}}}],"additionalProperties":false}`, nil, []tc{
			{`{}`, complete}, {`{"n":1}`, reject},
		}},
		{"additionalProperties false in one member", `{"allOf":[
			{"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false},
			{"type":"object","properties":{"b":{"type":"integer"}}}]}`, nil, []tc{
			{`{"a":1}`, complete}, {`{"b":1}`, reject}, {`{}`, complete},
		}},
		{"ref members and siblings", `{"allOf":[{"$ref":"#/$defs/base"},{"properties":{"extra":{"type":"boolean"}},"required":["extra"]}],
			"$defs":{"base":{"type":"object","properties":{"id":{"type":"string","format":"uuid"}},"required":["id"]}},
			"description":"d"}`, nil, []tc{
			{`{"id":"123e4567-e89b-12d3-a456-426614174000","extra":true}`, complete}, {`{"id":"x","extra":true}`, reject},
			{`{"extra":true}`, reject},
		}},
		{"strings tighten", `{"allOf":[{"type":"string","pattern":"^a"},{"type":"string","pattern":"z$","maxLength":3}]}`, nil, []tc{
			{`"az"`, complete}, {`"abz"`, complete}, {`"abcz"`, reject}, {`"za"`, reject},
		}},
		{"enum intersection", `{"allOf":[{"enum":["a","b","c"]},{"enum":["b","c","d"]},{"not_a_keyword":1}]}`, nil, []tc{
			{`"b"`, complete}, {`"a"`, reject}, {`"d"`, reject},
		}},
		{"anyOf distributes", `{"allOf":[{"anyOf":[{"type":"integer"},{"type":"string"}]},{"maxLength":2,"maximum":5}]}`, nil, []tc{
			{`5`, complete}, {`6`, reject}, {`"ab"`, complete}, {`"abc"`, reject}, {`true`, reject},
		}},
		{"recursive refs", `{"allOf":[{"$ref":"#/$defs/a"},{"$ref":"#/$defs/b"}],"$defs":{
			"a":{"type":"object","properties":{"x":{"type":"integer"},"next":{"$ref":"#/$defs/a"}},"required":["x"]},
			"b":{"type":"object","properties":{"y":{"type":"integer"},"next":{"$ref":"#/$defs/b"}},"required":["y"]}}}`, nil, []tc{
			{`{"x":1,"y":2}`, complete}, {`{"x":1,"y":2,"next":{"x":3,"y":4}}`, complete}, {`{"x":1,"y":2,"next":{"x":3}}`, reject},
		}},
		{"prefixItems and items", `{"allOf":[{"type":"array","prefixItems":[{"type":"integer"}]},{"type":"array","items":{"type":"number","maximum":3},"maxItems":2}]}`, nil, []tc{
			{`[1,2.5]`, complete}, {`[1.5]`, reject}, {`[4]`, reject}, {`[1,2,3]`, reject},
		}},
		{"strict", `{"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false},
			{"type":"object","properties":{"a":{"type":"integer","minimum":2}},"required":["a"],"additionalProperties":false}]}`, []Option{Strict(true)}, []tc{
			{`{"a":2}`, complete}, {`{"a":1}`, reject},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range c.cases {
				con, err := ix.Schema([]byte(c.schema), c.opts...)
				if err != nil {
					t.Fatalf("Schema: %v", err)
				}
				got := run(t, con, k.in)
				if got != k.want {
					t.Errorf("%s: got %v, want %v", k.in, got, k.want)
				}
				verr := Validate([]byte(c.schema), []byte(k.in), c.opts...)
				if (got == complete) != (verr == nil) {
					t.Errorf("%s: matcher %v but Validate says %v", k.in, got, verr)
				}
			}
		})
	}
}

func TestAllOfErrors(t *testing.T) {
	for _, s := range []string{
		`{"allOf":[{"type":"string"},{"not":{}}]}`,
		`{"allOf":[{"minLength":1,"title":"x","foo":1},{"foo":2}]}`,
		`{"allOf":[{"type":"number","minimum":1,"exclusiveMinimum":true},{"maximum":3}]}`,
		`{"allOf":[{"type":"array","items":[{"type":"null"}]},{"maxItems":1}]}`,
		`{"allOf":[]}`,
		`{"allOf":[{"type":"string"},{"type":"integer"}]}`,
	} {
		err := CompileSchema([]byte(s))
		if err == nil {
			t.Errorf("%s: no error", s)
			continue
		}
		if !strings.Contains(err.Error(), "allOf") && !strings.Contains(err.Error(), "not") && !strings.Contains(err.Error(), "no JSON value") {
			t.Errorf("%s: error %v does not name allOf", s, err)
		}
	}
}
