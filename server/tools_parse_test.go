package server

import (
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/internal/testmodels"
	"github.com/kiln-llm/kiln/template"
)

func TestParseToolCallsByFormat(t *testing.T) {
	known := map[string]bool{"get_time": true, "get_weather": true}
	time := parsedCall{"get_time", `{"tz":"UTC"}`}
	weather := parsedCall{"get_weather", `{"city":"Paris"}`}
	cases := []struct {
		name  string
		f     toolFormat
		text  string
		ok    bool
		calls []parsedCall
		rest  string
	}{
		{"hermes one", formatHermes, `<tool_call>{"name":"get_time","arguments":{"tz":"UTC"}}</tool_call>`, true, []parsedCall{time}, ""},
		{"hermes two with text", formatHermes, "Sure.\n<tool_call>\n{\"name\":\"get_time\",\"arguments\":{\"tz\":\"UTC\"}}\n</tool_call>\n<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}</tool_call>", true, []parsedCall{time, weather}, "Sure."},
		{"hermes unknown", formatHermes, `<tool_call>{"name":"rm","arguments":{}}</tool_call>`, false, nil, ""},
		{"hermes bad json", formatHermes, `<tool_call>{"name":"get_time",</tool_call>`, false, nil, ""},

		{"llama3 parameters", formatLlama3, `{"name": "get_time", "parameters": {"tz":"UTC"}}`, true, []parsedCall{time}, ""},
		{"llama3 python tag", formatLlama3, `<|python_tag|>{"name": "get_time", "arguments": {"tz":"UTC"}}`, true, []parsedCall{time}, ""},
		{"llama3 two", formatLlama3, ` {"name":"get_time","parameters":{"tz":"UTC"}}; {"name":"get_weather","parameters":{"city":"Paris"}} `, true, []parsedCall{time, weather}, ""},
		{"llama3 string args", formatLlama3, `{"name":"get_time","parameters":"{\"tz\":\"UTC\"}"}`, true, []parsedCall{time}, ""},
		{"llama3 prose", formatLlama3, `The time is {"name":"get_time"}`, false, nil, ""},
		{"llama3 trailing text", formatLlama3, `{"name":"get_time","parameters":{"tz":"UTC"}} and more`, false, nil, ""},
		{"llama3 truncated", formatLlama3, `{"name":"get_time","parameters":{"tz":"U`, false, nil, ""},
		{"llama3 unknown", formatLlama3, `{"name":"rm","parameters":{}}`, false, nil, ""},
		{"llama3 no name", formatLlama3, `{"parameters":{"tz":"UTC"}}`, false, nil, ""},
		{"llama3 dangling separator", formatLlama3, `{"name":"get_time","parameters":{"tz":"UTC"}};`, true, []parsedCall{time}, ""},

		{"mistral one", formatMistral, `[TOOL_CALLS][{"name":"get_time","arguments":{"tz":"UTC"}}]`, true, []parsedCall{time}, ""},
		{"mistral two with id", formatMistral, `[TOOL_CALLS] [{"name":"get_time","arguments":{"tz":"UTC"},"id":"abcdefghi"},{"name":"get_weather","arguments":{"city":"Paris"}}]`, true, []parsedCall{time, weather}, ""},
		{"mistral text before", formatMistral, `Let me check. [TOOL_CALLS][{"name":"get_time","arguments":{"tz":"UTC"}}]`, true, []parsedCall{time}, "Let me check."},
		{"mistral not array", formatMistral, `[TOOL_CALLS]{"name":"get_time","arguments":{"tz":"UTC"}}`, false, nil, ""},
		{"mistral empty array", formatMistral, `[TOOL_CALLS][]`, false, nil, ""},
		{"mistral truncated", formatMistral, `[TOOL_CALLS][{"name":"get_time","arguments":{"tz":`, false, nil, ""},
		{"mistral trailing", formatMistral, `[TOOL_CALLS][{"name":"get_time","arguments":{}}] ok`, false, nil, ""},
		{"mistral unknown", formatMistral, `[TOOL_CALLS][{"name":"get_time","arguments":{}},{"name":"rm","arguments":{}}]`, false, nil, ""},
		{"mistral no marker", formatMistral, `[{"name":"get_time","arguments":{"tz":"UTC"}}]`, false, nil, ""},

		{"generic whole", formatGeneric, ` {"name":"get_time","arguments":{"tz":"UTC"}} `, true, []parsedCall{time}, ""},
		{"generic hermes", formatGeneric, `<tool_call>{"name":"get_weather","arguments":{"city":"Paris"}}</tool_call>`, true, []parsedCall{weather}, ""},
		{"generic prose", formatGeneric, `Once upon a time`, false, nil, ""},
		{"generic object not a call", formatGeneric, `{"city":"Paris"}`, false, nil, ""},
		{"generic unknown", formatGeneric, `{"name":"rm","arguments":{}}`, false, nil, ""},
		{"generic empty", formatGeneric, ``, false, nil, ""},
		{"generic truncated", formatGeneric, `{"name":"get_time","arguments":{`, false, nil, ""},
	}
	for _, c := range cases {
		calls, rest, ok := parseToolCalls(c.f, c.text, known)
		if ok != c.ok || !slices.Equal(calls, c.calls) || (ok && rest != c.rest) || (!ok && rest != c.text) {
			t.Errorf("%s: got %v %q %v, want %v %q %v", c.name, calls, rest, ok, c.calls, c.rest, c.ok)
		}
	}
}

// mistralTemplate is the tool-call part of Mistral v0.3's chat template, as
// its tokenizer_config writes it (abridged to what the probe exercises).
const mistralTemplate = `{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{% if tools is not none and loop.last %}[AVAILABLE_TOOLS] {{ tools|tojson }}[/AVAILABLE_TOOLS]{% endif %}[INST] {{ message['content'] }}[/INST]{% elif message['role'] == 'assistant' and message['tool_calls'] is defined %}[TOOL_CALLS] [{% for tc in message['tool_calls'] %}{"name": "{{ tc['function']['name'] }}", "arguments": {{ tc['function']['arguments']|tojson }}, "id": "{{ tc['id'] }}"}{% if not loop.last %}, {% endif %}{% endfor %}]{{ eos_token }}{% elif message['role'] == 'assistant' %}{{ message['content'] }}{{ eos_token }}{% endif %}{% endfor %}`

// hermesTemplate writes calls the way Hermes 2 Pro / Qwen 2.5 templates do.
const hermesTemplate = `{% for message in messages %}<|im_start|>{{ message.role }}
{% if message.tool_calls %}{% for tc in message.tool_calls %}<tool_call>
{"name": "{{ tc.function.name }}", "arguments": {{ tc.function.arguments | tojson }}}
</tool_call>{% endfor %}{% else %}{{ message.content }}{% endif %}<|im_end|>
{% endfor %}`

func TestToolFormatFromTemplate(t *testing.T) {
	parse := func(src string) *template.Template {
		tpl, err := template.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		return tpl
	}
	cases := []struct {
		name string
		src  string
		want toolFormat
	}{
		{"chatml", template.ChatML, formatGeneric},
		{"hermes", hermesTemplate, formatHermes},
		{"mistral", mistralTemplate, formatMistral},
		{"raises", `{{ raise_exception("no tools") }}`, formatGeneric},
	}
	// The real Llama 3.1 and Qwen3 templates of the shared vocab files.
	if dir := testmodels.Dir(t); dir != "" {
		for _, f := range []struct {
			file string
			want toolFormat
		}{{"vocab/kiln-vocab-llama3_1.gguf", formatLlama3}, {"vocab/kiln-vocab-qwen3.gguf", formatHermes}} {
			g, err := gguf.Open(dir + "/" + f.file)
			if err != nil {
				t.Fatal(err)
			}
			src, err := g.StringOr("tokenizer.chat_template", "")
			g.Close()
			if err != nil || src == "" {
				t.Fatalf("%s: no chat template: %v", f.file, err)
			}
			cases = append(cases, struct {
				name string
				src  string
				want toolFormat
			}{f.file, src, f.want})
			if got := detectToolFormat(src); got != f.want {
				t.Errorf("%s: detectToolFormat(source) = %v, want %v", f.file, got, f.want)
			}
		}
	}
	for _, c := range cases {
		if got := probeToolFormat(parse(c.src)); got != c.want {
			t.Errorf("%s: probeToolFormat = %v, want %v", c.name, got, c.want)
		}
	}
	if got := detectToolFormat(mistralTemplate); got != formatMistral {
		t.Errorf("mistral source: %v", got)
	}
}

func TestStreamHold(t *testing.T) {
	cases := []struct {
		f             toolFormat
		sent, pending string
		hold          int
		call          bool
	}{
		{formatHermes, "", "Hello", 0, false},
		{formatHermes, "", "Hello <tool_", 6, false},
		{formatHermes, "Hi", " ok <tool_call>{", 12, true},
		{formatMistral, "", "x [TOOL_", 6, false},
		{formatMistral, "", "[TOOL_CALLS][", 13, true},
		{formatMistral, "", "{not a call", 0, false},
		{formatLlama3, "", "  ", 2, false},
		{formatLlama3, "", ` {"name"`, 8, true},
		{formatLlama3, "", "<|python", 8, false},
		{formatLlama3, "", "Sure {", 0, false},
		{formatLlama3, "Sure", " {", 0, false},
		{formatGeneric, "", `{"na`, 4, true},
		{formatGeneric, "", "Once", 0, false},
		{formatGeneric, "Once", " <tool", 5, false},
	}
	for _, c := range cases {
		hold, call := streamHold(c.f, c.sent, c.pending)
		if hold != c.hold || call != c.call {
			t.Errorf("%v %q+%q: hold %d call %v, want %d %v", c.f, c.sent, c.pending, hold, call, c.hold, c.call)
		}
	}
}

// TestCallScannerSplits feeds call objects split at every byte boundary:
// the name is found and the streamed arguments are the non-streamed ones
// byte for byte.
func TestCallScannerSplits(t *testing.T) {
	cases := []struct {
		text, name, args string
		streamed         bool
	}{
		{`{"name":"get_time","arguments":{"tz":"U}T\"C"}}`, "get_time", `{"tz":"U}T\"C"}`, true},
		{`{ "name" : "f" , "arguments" : { "a" : [1, {"b": null}], "c": -1.5e3 } }`, "f", `{ "a" : [1, {"b": null}], "c": -1.5e3 }`, true},
		{`{"arguments":{"x":true},"name":"g"}`, "g", `{"x":true}`, true},
		{`{"name":"h","arguments":"{\"x\":1}"}`, "h", `{"x":1}`, false},
		{"{\n\"name\": \"a\\u00e9\",\n\"arguments\": []\n}", "aé", `[]`, true},
	}
	for _, c := range cases {
		whole, ok := parseCallObject([]byte(c.text))
		if !ok || whole.Name != c.name || whole.Arguments != c.args {
			t.Fatalf("%s: parseCallObject = %+v %v", c.text, whole, ok)
		}
		for split := 0; split <= len(c.text); split++ {
			for _, step := range []int{1, 3, len(c.text)} {
				s := newCallScanner()
				s.feed(c.text[:split])
				for i := split; i < len(c.text); i += step {
					s.feed(c.text[i:min(i+step, len(c.text))])
				}
				if !s.nameDone || s.name != c.name || s.state != scanDone {
					t.Fatalf("%s split %d step %d: name %q done %v state %d", c.text, split, step, s.name, s.nameDone, s.state)
				}
				if got := s.argsSoFar(); (got == c.args) != c.streamed || (!c.streamed && got != "") {
					t.Fatalf("%s split %d step %d: streamed args %q", c.text, split, step, got)
				}
			}
		}
	}
	// A prefix never streams bytes past the arguments, and never a name
	// still being written.
	s := newCallScanner()
	s.feed(`{"name":"get_ti`)
	if s.nameDone {
		t.Error("name done before its closing quote")
	}
	s.feed(`me","arguments":{"tz":"`)
	if !s.nameDone || s.argsSoFar() != `{"tz":"` {
		t.Errorf("partial: %q %v", s.argsSoFar(), s.nameDone)
	}
	for _, bad := range []string{`[1]`, `{"name" 1}`, `{"name":"f" "x"}`, `{1:2}`} {
		s := newCallScanner()
		s.feed(bad)
		if s.state != scanBad || s.nameDone && bad != `{"name":"f" "x"}` {
			t.Errorf("%s: state %d", bad, s.state)
		}
	}
}
