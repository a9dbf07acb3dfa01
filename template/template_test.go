package template

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustParse(t *testing.T, src string) *Template {
	t.Helper()
	tpl, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return tpl
}

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := DecodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("DecodeJSON(%q): %v", s, err)
	}
	return v
}

type renderCase struct {
	name string
	src  string
	vars map[string]any
	want string
	// wantErr, when set, is a substring the error must contain ("" with
	// fail=true accepts any error).
	fail    bool
	wantErr string
}

func runCases(t *testing.T, cases []renderCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tpl := mustParse(t, c.src)
			got, err := tpl.Render(c.vars)
			if c.fail {
				if err == nil {
					t.Fatalf("Render = %q, want an error", got)
				}
				if !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %q does not contain %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != c.want {
				t.Fatalf("Render\n got: %q\nwant: %q", got, c.want)
			}
		})
	}
}

func TestToJSON(t *testing.T) {
	tool := mustDecode(t, `{"z": 1, "a": {"y": [1, 2.5, "x"], "b": null}, "t": true, "u": "é世\"\\\n\t<&>\u0001"}`)
	runCases(t, []renderCase{
		{name: "separators and key order", src: `{{ v | tojson }}`, vars: map[string]any{"v": tool},
			want: `{"z": 1, "a": {"y": [1, 2.5, "x"], "b": null}, "t": true, "u": "é世\"\\\n\t<&>\u0001"}`},
		{name: "indent", src: `{{ v | tojson(indent=2) }}`, vars: map[string]any{"v": tool},
			want: "{\n  \"z\": 1,\n  \"a\": {\n    \"y\": [\n      1,\n      2.5,\n      \"x\"\n    ],\n    \"b\": null\n  },\n  \"t\": true,\n  \"u\": \"é世\\\"\\\\\\n\\t<&>\\u0001\"\n}"},
		{name: "empty containers with indent", src: `{{ v | tojson(indent=4) }}`, vars: map[string]any{"v": mustDecode(t, `{"a": [], "b": {}}`)},
			want: "{\n    \"a\": [],\n    \"b\": {}\n}"},
		{name: "plain map sorted", src: `{{ v | tojson }}`, vars: map[string]any{"v": map[string]any{"b": 2, "a": []string{"x"}}},
			want: `{"a": ["x"], "b": 2}`},
		{name: "integral float prints as int", src: `{{ v | tojson }}`, vars: map[string]any{"v": []any{18.0, 0.1, -3}},
			want: `[18, 0.1, -3]`},
		{name: "string", src: `{{ "a'b" | tojson }}`, want: `"a'b"`},
		{name: "none", src: `{{ none | tojson }}`, want: `null`},
		{name: "namespace", src: `{% set ns = namespace(b=1, a='x') %}{{ ns | tojson }}`, want: `{"a": "x", "b": 1}`},
	})
}

func TestRaiseException(t *testing.T) {
	tpl := mustParse(t, `{% if messages[0].role != 'user' %}{{ raise_exception('First message must be from the user, got ' + messages[0].role) }}{% endif %}ok`)
	_, err := tpl.Render(map[string]any{"messages": []any{map[string]any{"role": "system"}}})
	var ex *ExceptionError
	if !errors.As(err, &ex) {
		t.Fatalf("error %v is not an *ExceptionError", err)
	}
	if want := "First message must be from the user, got system"; ex.Message != want {
		t.Fatalf("message %q, want %q", ex.Message, want)
	}
	if !strings.Contains(err.Error(), ex.Message) {
		t.Fatalf("error text %q lacks the message", err)
	}
	got, err := tpl.Render(map[string]any{"messages": []any{map[string]any{"role": "user"}}})
	if err != nil || got != "ok" {
		t.Fatalf("Render = %q, %v; want ok", got, err)
	}
}

func TestStrftimeNow(t *testing.T) {
	at := time.Date(2024, time.July, 5, 14, 3, 9, 0, time.UTC)
	cases := []struct{ format, want string }{
		{"%d %b %Y", "05 Jul 2024"},
		{"%-d %B %Y", "5 July 2024"},
		{"%Y-%m-%d %H:%M:%S", "2024-07-05 14:03:09"},
		{"%A %a %j %I %p %y %%", "Friday Fri 187 02 PM 24 %"},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			tpl := mustParse(t, `{{ strftime_now(fmt) }}`)
			tpl.now = func() time.Time { return at }
			got, err := tpl.Render(map[string]any{"fmt": c.format})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
	if _, err := mustParse(t, `{{ strftime_now("%Q") }}`).Render(nil); err == nil {
		t.Fatal("unknown directive accepted")
	}
}

func TestWhitespaceControl(t *testing.T) {
	runCases(t, []renderCase{
		{name: "trim_blocks drops newline after tag", src: "{% if true %}\nA\n{% endif %}\nB", want: "A\nB"},
		{name: "lstrip_blocks drops indent before tag", src: "x\n    {% if true %}\n    y\n    {% endif %}\nz", want: "x\n    y\nz"},
		{name: "output tags keep their newline", src: "{{ 'a' }}\n{{ 'b' }}", want: "a\nb"},
		{name: "blanks between tags on one line kept", src: "{% if true %}a{% endif %}   {% if true %}b{% endif %}", want: "a   b"},
		{name: "blanks after text kept", src: "x  {% if true %}y{% endif %}", want: "x  y"},
		{name: "explicit trim markers", src: "a  {%- if true -%}  b  {%- endif -%}  c", want: "abc"},
		{name: "single trailing newline removed", src: "a\n", want: "a"},
		{name: "raw newline inside string literal", src: "{{ 'x' + '\n' + 'y' }}", want: "x\ny"},
	})
}

func TestNullSemantics(t *testing.T) {
	msgs := mustDecode(t, `[{"role": "assistant", "content": null}, {"role": "user"}]`)
	vars := map[string]any{"m": msgs, "x": nil}
	runCases(t, []renderCase{
		{name: "null plus string raises", src: `{{ x + 'a' }}`, vars: vars, fail: true, wantErr: "null"},
		{name: "string plus null content raises", src: `{{ 'a' + m[0].content }}`, vars: vars, fail: true, wantErr: "null"},
		{name: "undefined plus string raises", src: `{{ nope + 'a' }}`, vars: vars, fail: true, wantErr: "null"},
		{name: "tilde with null raises", src: `{{ 'a' ~ x }}`, vars: vars, fail: true},
		{name: "trim of null raises", src: `{{ x | trim }}`, vars: vars, fail: true},
		{name: "in null raises", src: `{{ 'a' in m[0].content }}`, vars: vars, fail: true},
		{name: "printing null prints nothing", src: `[{{ x }}][{{ m[0].content }}][{{ nope }}]`, vars: vars, want: "[][][]"},
		{name: "null is none and defined", src: `{{ m[0].content is none }} {{ m[0].content is defined }} {{ x is none }}`, vars: vars, want: "True True True"},
		{name: "missing key is undefined not none", src: `{{ m[1].content is none }} {{ m[1].content is defined }} {{ m[1]['content'] is undefined }}`, vars: vars, want: "False False True"},
		{name: "missing variable", src: `{{ nope is defined }} {{ nope is none }} {{ x is not none }}`, vars: vars, want: "False False False"},
		{name: "is false only for false", src: `{{ nope is false }} {{ 0 is false }} {{ false is false }}`, vars: vars, want: "False False True"},
		{name: "null is falsy", src: `{% if x %}y{% else %}n{% endif %}{% if not m[0].content %}!{% endif %}`, vars: vars, want: "n!"},
		{name: "arithmetic", src: `{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ 7 / 2 }} {{ 2 ** 3 }} {{ 1 + 2.5 }} {{ '-' * 3 }}`, want: "3 -4 1 3.5 8 3.5 ---"},
		{name: "comparisons", src: `{{ 1 < 2 }} {{ 'b' > 'a' }} {{ 2 >= 3 }}`, want: "True True False"},
		{name: "list concatenation", src: `{{ ([1] + [2, 3]) | length }}`, want: "3"},
	})
}

func TestPythonMethods(t *testing.T) {
	obj := mustDecode(t, `{"b": 1, "a": 2, "items": "x"}`)
	vars := map[string]any{"s": "\n  Hello, World \n", "o": obj}
	runCases(t, []renderCase{
		{name: "strip", src: `[{{ s.strip() }}][{{ s.strip('\n') }}][{{ s.lstrip() }}][{{ s.rstrip('\n ') }}]`, vars: vars,
			want: "[Hello, World][  Hello, World ][Hello, World \n][\n  Hello, World]"},
		{name: "split", src: `{{ s.split() | length }} {{ 'a,b,,c'.split(',') | tojson }} {{ 'a,b,c'.split(',', 1) | tojson }} {{ 'x</think>y'.split('</think>')[-1] }}`, vars: vars,
			want: `2 ["a", "b", "", "c"] ["a", "b,c"] y`},
		{name: "startswith endswith", src: `{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'bc')) }} {{ 'abc'.startswith('b') }}`, want: "True True False"},
		{name: "case", src: `{{ 'hello wORLD'.title() }} {{ 'hELLO'.capitalize() }} {{ 'a'.upper() }}{{ 'B'.lower() }} {{ 'x y' | title }}`, want: "Hello World Hello Ab X Y"},
		{name: "replace", src: `{{ 'aaa'.replace('a', 'b') }} {{ 'aaa'.replace('a', 'b', 2) }}`, want: "bbb bba"},
		{name: "dict items keep order", src: `{% for k, v in o.items() %}{{ k }}={{ v }};{% endfor %}`, vars: vars, want: "b=1;a=2;items=x;"},
		{name: "dict items filter", src: `{% for k, v in o | items %}{{ k }}{% endfor %}`, vars: vars, want: "baitems"},
		{name: "dict get and keys", src: `{{ o.get('a') }} {{ o.get('zz', 'd') }} {{ o.get('zz') is none }} {{ o.keys() | join(',') }}`, vars: vars, want: "2 d True b,a,items"},
		{name: "iterate dict keys", src: `{% for k in o %}{{ k }}{% endfor %}`, vars: vars, want: "baitems"},
		{name: "in operator", src: `{{ 'b' in o }} {{ 'ell' in 'hello' }} {{ 2 in [1, 2] }} {{ 'z' not in 'abc' }}`, vars: vars, want: "True True True True"},
		{name: "reverse slice and loop", src: `{% for x in [1, 2, 3][::-1] %}{{ loop.index0 }}{{ x }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %} {% endfor %}`, want: "03F 12 21L "},
		{name: "namespace", src: `{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}`, want: "6"},
		{name: "set in loop does not leak", src: `{% set a = 1 %}{% for i in [1] %}{% set a = 2 %}{% endfor %}{{ a }}`, want: "1"},
		{name: "length", src: `{{ 'héllo' | length }} {{ [1, 2] | length }} {{ o | length }}`, vars: vars, want: "5 2 3"},
	})
}

func TestNestedConditionalExpressions(t *testing.T) {
	runCases(t, []renderCase{
		{name: "in parentheses", src: `{{ 'a' + (x if c else 'y') }}`, vars: map[string]any{"x": "X", "c": true}, want: "aX"},
		{name: "false branch", src: `{{ 'a' + (x if c else 'y') }}`, vars: map[string]any{"x": "X", "c": false}, want: "ay"},
		{name: "lazy: untaken branch may be invalid", src: `{{ 'a' + (none + 'b' if c else 'y') }}`, vars: map[string]any{"c": false}, want: "ay"},
		{name: "chained", src: `{{ ('one' if n == 1 else 'two' if n == 2 else 'many') }}`, vars: map[string]any{"n": 2}, want: "two"},
		{name: "function argument", src: `{{ 'x,y'.split(',' if true else ';') | length }}`, want: "2"},
		{name: "falsy value in taken branch", src: `[{{ ('' if c else 'no') }}]`, vars: map[string]any{"c": true}, want: "[]"},
		{name: "top level stays native", src: `{{ 'yes' if c else 'no' }}`, vars: map[string]any{"c": true}, want: "yes"},
		{name: "string containing if else untouched", src: `{{ ('a if b else c') }}`, want: "a if b else c"},
	})
}

func TestLimits(t *testing.T) {
	cases := []renderCase{
		{name: "nested loops", src: `{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}`, fail: true, wantErr: "limit"},
		{name: "loop budget is per render", src: `{% for i in range(3000) %}{% endfor %}`, fail: true, wantErr: "limit"},
		{name: "huge range", src: `{% for i in range(1000000000) %}{% endfor %}`, fail: true, wantErr: "limit"},
		{name: "macro recursion", src: `{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}`, fail: true},
		{name: "output size", src: `{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}`, fail: true, wantErr: "limit"},
		{name: "include is refused", src: `{% include '/etc/passwd' %}`, fail: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			tpl, err := Parse(c.src)
			if err == nil {
				// A small budget keeps the test fast under -race; the
				// mechanism is the same as with the default.
				tpl.maxSteps = 2000
				_, err = tpl.Render(nil)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %q does not contain %q", err, c.wantErr)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{`{% if x %}`, `{{ x `, `{% for %}{% endfor %}`, `{% set %}`, `{% endif %}`} {
		if _, err := Parse(src); err == nil {
			t.Errorf("Parse(%q) succeeded, want a syntax error", src)
		}
	}
}

func TestConcurrentRender(t *testing.T) {
	tpl := mustParse(t, ChatML)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			role := []string{"user", "assistant"}[i%2]
			vars := map[string]any{
				"messages":              []any{map[string]any{"role": role, "content": "hi"}},
				"add_generation_prompt": true,
			}
			got, err := tpl.Render(vars)
			want := "<|im_start|>" + role + "\nhi<|im_end|>\n<|im_start|>assistant\n"
			if err != nil || got != want {
				errs <- errors.New("bad render: " + got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestDecodeJSON(t *testing.T) {
	v := mustDecode(t, `{"b": [1, 2.5, null, true, "s"], "a": {}}`)
	obj, ok := v.(Object)
	if !ok || len(obj) != 2 || obj[0].Key != "b" || obj[1].Key != "a" {
		t.Fatalf("got %#v, want an Object with keys b, a", v)
	}
	if _, ok := obj.Get("a"); !ok {
		t.Fatal("Get(a) not found")
	}
	for _, bad := range []string{`{"a": }`, `[1, 2`, `{} {}`, ``} {
		if _, err := DecodeJSON([]byte(bad)); err == nil {
			t.Errorf("DecodeJSON(%q) succeeded", bad)
		}
	}
}
