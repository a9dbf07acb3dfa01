package template

import (
	"testing"
	"time"
)

// FuzzParseRender checks that arbitrary template text never crashes the
// process and terminates quickly: loops, ranges, recursion and output are
// bounded by the render budget. Panics inside gonja (it has a few on
// malformed input, e.g. "{%raw %}{%endraw%%}") are recovered by Parse and
// Render and come back as "internal error" errors, which is accepted here.
func FuzzParseRender(f *testing.F) {
	seeds := []string{
		ChatML,
		`{{ bos_token }}{% for m in messages %}{{ m['role'] + (': ' if loop.first else ', ') + m.content | trim }}{% endfor %}`,
		`{% set ns = namespace(x=0) %}{% for t in tools %}{{ t | tojson(indent=2) }}{% set ns.x = ns.x + 1 %}{% endfor %}{{ ns.x }}`,
		`{%- if messages[0].role == 'system' -%}{{ messages[0].content.strip('\n').split(' ')[::-1] | join('-') }}{%- endif %}`,
		`{% macro m(a, b=2) %}{{ a ~ b }}{% endmacro %}{{ m(1) }}{{ raise_exception('x') if false else '' }}`,
		`{{ (x if y else z) }}{% if a is defined and a is not none %}{{ a.items() }}{% endif %}{{ strftime_now('%d') }}`,
		`{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}{{ 'a' in 'abc' }}{{ [1,2][5] }}{{ none.x }}`,
		`{% raw %}{{ x }}{% endraw %}{# c #}{{ '{%' }}`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	vars := map[string]any{
		"messages": []any{
			Object{{Key: "role", Value: "system"}, {Key: "content", Value: " sys \n"}},
			Object{{Key: "role", Value: "user"}, {Key: "content", Value: "hi"}},
			Object{{Key: "role", Value: "assistant"}, {Key: "content", Value: nil}},
		},
		"tools":                 []any{Object{{Key: "type", Value: "function"}}},
		"d":                     map[string]any{"a": 1},
		"bos_token":             "<s>",
		"add_generation_prompt": true,
	}
	f.Fuzz(func(t *testing.T, src string) {
		start := time.Now()
		tpl, err := Parse(src)
		if err == nil {
			tpl.maxSteps = 5000
			out, rerr := tpl.Render(vars)
			if rerr == nil && len(out) > maxOutput {
				t.Fatalf("output of %d bytes exceeds the limit", len(out))
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Parse+Render of %q took %v", src, d)
		}
	})
}
