package constrain

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

const testCallSchema = `{"type":"object","properties":{"name":{"const":"f"},"arguments":{"type":"object","properties":{"x":{"type":"integer","minimum":0,"maximum":99}},"required":["x"],"additionalProperties":false}},"required":["name","arguments"],"additionalProperties":false}`

func mustCompile(t testing.TB, schema string) *Compiled {
	t.Helper()
	c, err := CompileSchemaContext(context.Background(), []byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testFormats are the trigger sets the server builds, on the test schema.
func testFormats(t testing.TB, parallel bool) map[string][]Trigger {
	call := mustCompile(t, testCallSchema)
	maxCalls := 1
	items := `,"maxItems":1`
	if parallel {
		maxCalls, items = 0, ""
	}
	arr := mustCompile(t, `{"type":"array","items":`+testCallSchema+`,"minItems":1`+items+`}`)
	hermes := Trigger{Marker: "<tool_call>", Value: call, Close: "</tool_call>", Sep: "<tool_call>", Max: maxCalls}
	return map[string][]Trigger{
		"hermes":  {hermes},
		"mistral": {{Marker: "[TOOL_CALLS]", Value: arr, Max: 1}},
		"llama3": {
			{Marker: "<|python_tag|>", AtStart: true, Value: call, Sep: ";", Max: maxCalls},
			{Marker: "{", AtStart: true, Keep: true, Value: call, Sep: ";", Max: maxCalls},
		},
		"generic": {hermes, {Marker: "{", AtStart: true, Keep: true, Value: call, Max: 1}},
	}
}

func TestTriggeredRegions(t *testing.T) {
	ix := NewIndex(byteVocab{})
	call := func(x int) string { return `{"name": "f", "arguments": {"x": ` + string(rune('0'+x)) + `}}` }
	tests := []struct {
		format   string
		parallel bool
		text     string
		want     verdict
	}{
		{"hermes", true, "", complete},
		{"hermes", true, "Sure, let me check.", complete},
		{"hermes", true, "a <tool_", complete}, // a marker prefix is still free text
		{"hermes", true, "a <tool_call>", prefix},
		{"hermes", true, "<tool_call>\n" + call(1) + "\n</tool_call>", complete},
		{"hermes", true, "x<tool_call>" + call(1) + "</tool_call>\n<tool_call>\n" + call(2) + "\n</tool_call>", complete},
		{"hermes", true, "<tool_call>" + call(1) + "</tool_call>\n\n<tool_call>", prefix},
		{"hermes", true, "<tool_call>" + call(1), prefix},
		{"hermes", true, "<tool_call>" + call(1) + "\n</tool", prefix},
		{"hermes", true, `<tool_call>{"name": "g"`, reject},
		{"hermes", true, `<tool_call>{"name": "f", "arguments": {"x": 100}}`, reject},
		{"hermes", true, "<tool_call>\n\n\n{", reject},
		{"hermes", true, "<tool_call> " + call(1) + " </tool_call> and", reject},
		{"hermes", true, "<tool_call>" + call(1) + "</tool_call><tool_call>" + call(2) + "</tool_call>", complete},
		{"hermes", false, "<tool_call>" + call(1) + "</tool_call>", complete},
		{"hermes", false, "<tool_call>" + call(1) + "</tool_call>\n<", reject},
		{"mistral", true, "ok [TOOL_CALLS] [" + call(1) + ", " + call(2) + "]", complete},
		{"mistral", true, "[TOOL_CALLS][" + call(1) + "]", complete},
		{"mistral", true, "[TOOL_CALLS][" + call(1) + "] x", reject},
		{"mistral", true, "[TOOL_CALLS][]", reject},
		{"mistral", false, "[TOOL_CALLS][" + call(1) + ", ", reject},
		{"llama3", true, call(1), complete},
		{"llama3", true, " \n" + call(1) + "; " + call(2), complete},
		{"llama3", true, "<|python_tag|>" + call(1) + ";" + call(2), complete},
		{"llama3", true, call(1) + ";", prefix},
		{"llama3", false, call(1) + ";", reject},
		{"llama3", true, "Sure {x", complete}, // "{" counts only at the start
		{"llama3", true, "<|pyth", complete},
		{"llama3", true, "{x", reject},
		{"llama3", true, "<|python_tag|>hello", reject},
		{"generic", true, call(3), complete},
		{"generic", true, call(3) + ";", reject},
		{"generic", true, "Here: <tool_call>" + call(3) + "</tool_call>", complete},
		{"generic", true, "Here: {", complete},
	}
	for _, tt := range tests {
		trig, err := ix.Triggers(testFormats(t, tt.parallel)[tt.format]...)
		if err != nil {
			t.Fatal(err)
		}
		if got := run(t, trig.New(), tt.text); got != tt.want {
			t.Errorf("%s parallel=%v %q: %v, want %v", tt.format, tt.parallel, tt.text, got, tt.want)
		}
	}
}

func TestTriggersErrors(t *testing.T) {
	ix := NewIndex(byteVocab{})
	call := mustCompile(t, testCallSchema)
	for _, ts := range [][]Trigger{
		nil,
		{{Marker: "", Value: call}},
		{{Marker: "x"}},
		{{Marker: "x", Value: call, Max: -1}},
		{{Marker: "x", Value: call, Close: "\n</x>"}},
		{{Marker: "a", Value: call}, {Marker: "b", Value: call}, {Marker: "c", Value: call}, {Marker: "d", Value: call}, {Marker: "e", Value: call}},
	} {
		if _, err := ix.Triggers(ts...); err == nil {
			t.Errorf("Triggers(%+v) accepted", ts)
		}
	}
}

// listVocab is a vocabulary of the given token strings plus an EOG token
// (the last id).
type listVocab []string

func (v listVocab) Len() int { return len(v) + 1 }
func (v listVocab) TokenBytes(id int) []byte {
	if id < len(v) {
		return []byte(v[id])
	}
	return []byte("</s>")
}
func (v listVocab) IsEOG(id int) bool { return id == len(v) }

// A token that completes a marker and runs on into the call is allowed in
// free text exactly when the call's grammar accepts its tail.
func TestTriggeredMarkerSpanningTokens(t *testing.T) {
	v := listVocab{"<tool_call>", "<tool_call>\n", "<tool_call>{x", "call>{\"", "call>}", "<tool_", "{\"", "{{", "{\n", " {\"", "a", "x<tool_call>{\"", "{"}
	ix := NewIndex(v)
	id := func(s string) int {
		for i, x := range v {
			if x == s {
				return i
			}
		}
		t.Fatalf("no token %q", s)
		return -1
	}
	allowedAfter := func(trig *Triggers, prefix ...string) map[string]bool {
		c := trig.New()
		for _, p := range prefix {
			if err := c.Accept(id(p)); err != nil {
				t.Fatalf("Accept %q: %v", p, err)
			}
		}
		allowed := make([]bool, v.Len())
		for i := range allowed {
			allowed[i] = true
		}
		c.Allow(allowed)
		out := map[string]bool{}
		for i, s := range v {
			out[s] = allowed[i]
			// Whatever Allow admits, Accept takes.
			if allowed[i] {
				d := trig.New()
				for _, p := range prefix {
					_ = d.Accept(id(p))
				}
				if err := d.Accept(i); err != nil {
					t.Errorf("after %q: %q allowed but refused: %v", prefix, s, err)
				}
			}
		}
		return out
	}
	gen, err := ix.Triggers(testFormats(t, true)["generic"]...)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		prefix []string
		want   map[string]bool
	}{
		{nil, map[string]bool{"<tool_call>": true, "<tool_call>\n": true, "<tool_call>{x": false, "{\"": true, "{{": false, "{\n": false, " {\"": true, "x<tool_call>{\"": true, "call>{\"": true, "{": true}},
		{[]string{"a"}, map[string]bool{"{{": true, "{\n": true, "<tool_call>{x": false, "call>}": true}},
		{[]string{"a", "<tool_"}, map[string]bool{"call>{\"": true, "call>}": false, "a": true}},
	}
	for _, tt := range tests {
		got := allowedAfter(gen, tt.prefix...)
		for s, want := range tt.want {
			if got[s] != want {
				t.Errorf("after %q: %q allowed %v, want %v", tt.prefix, s, got[s], want)
			}
		}
	}
}

// parseRegionCalls splits a hermes-format output into its call bodies.
func parseRegionCalls(text string) (free string, calls []string, ok bool) {
	i := strings.Index(text, "<tool_call>")
	if i < 0 {
		return text, nil, true
	}
	free, rest := text[:i], text[i:]
	for rest != "" {
		rest = strings.TrimLeft(rest, " \n")
		if !strings.HasPrefix(rest, "<tool_call>") {
			return "", nil, false
		}
		rest = rest[len("<tool_call>"):]
		j := strings.Index(rest, "</tool_call>")
		if j < 0 {
			return "", nil, false
		}
		calls = append(calls, strings.TrimSpace(rest[:j]))
		rest = strings.TrimLeft(rest[j+len("</tool_call>"):], " \n")
	}
	return free, calls, true
}

// Random walks over the Qwen3 vocabulary in Hermes format: free text at
// random, the <tool_call> token (or a spelled-out marker) now and then, then
// whatever the constraint allows. Every output that started a call must be
// complete calls that validate.
func TestTriggeredRandomWalksQwen3(t *testing.T) {
	ix, tok := loadIndex(t, "vocab/kiln-vocab-qwen3.gguf")
	call := mustCompile(t, testCallSchema)
	closer := closerTokens(tok)
	markerID, ok := tok.Special("<tool_call>")
	if !ok {
		t.Fatal("no <tool_call> token")
	}
	spelled := tok.Encode("<tool_call>", false, false)
	walks := 20
	if testing.Short() || raceEnabled {
		walks = 4
	}
	started, frees := 0, 0
	for _, parallel := range []bool{true, false} {
		maxCalls := 0
		if !parallel {
			maxCalls = 1
		}
		trig, err := ix.Triggers(Trigger{Marker: "<tool_call>", Value: call, Close: "</tool_call>", Sep: "<tool_call>", Max: maxCalls})
		if err != nil {
			t.Fatal(err)
		}
		allowed := make([]bool, tok.Len())
		var cand, pref []int
		for seed := range uint64(walks) {
			r := rand.New(rand.NewPCG(seed, 11))
			c := trig.New()
			var text []byte
			accept := func(id int) {
				if err := c.Accept(id); err != nil {
					t.Fatalf("seed %d: Accept(%d %q) after %q: %v", seed, id, tok.TokenBytes(id), text, err)
				}
				text = append(text, tok.TokenBytes(id)...)
			}
			for step := 0; ; step++ {
				if step > 3000 {
					t.Fatalf("seed %d: no end: %q", seed, text)
				}
				for i := range allowed {
					allowed[i] = true
				}
				free := c.Free()
				c.Allow(allowed)
				_, in := c.Started()
				if free {
					frees++
					for id, ok := range allowed {
						if !ok {
							t.Fatalf("seed %d: Free, but Allow bars token %d after %q", seed, id, text)
						}
					}
				}
				if !in && step < 40 && r.IntN(8) == 0 {
					if r.IntN(2) == 0 {
						accept(markerID)
					} else {
						for _, id := range spelled {
							accept(id)
						}
					}
					continue
				}
				cand, pref = cand[:0], pref[:0]
				for id, ok := range allowed {
					if ok && !tok.IsEOG(id) {
						cand = append(cand, id)
						if step > 60 && closer[id] {
							pref = append(pref, id)
						}
					}
				}
				done := c.Done()
				if done && (len(cand) == 0 || step > 60 || (!in && r.IntN(30) == 0)) {
					break
				}
				if len(cand) == 0 {
					t.Fatalf("seed %d: dead end at %q", seed, text)
				}
				pick := cand
				if in && len(pref) > 0 && r.IntN(10) < 9 {
					pick = pref
				}
				accept(pick[r.IntN(len(pick))])
			}
			free, calls, ok := parseRegionCalls(string(text))
			if !ok {
				t.Fatalf("seed %d: output does not parse into calls: %q", seed, text)
			}
			if strings.Contains(free, "<tool_call>") {
				t.Fatalf("seed %d: free text holds a marker: %q", seed, free)
			}
			if len(calls) > 0 {
				started++
			}
			if !parallel && len(calls) > 1 {
				t.Fatalf("seed %d: %d calls with parallel off: %q", seed, len(calls), text)
			}
			for _, body := range calls {
				if !json.Valid([]byte(body)) {
					t.Fatalf("seed %d: call %q does not parse", seed, body)
				}
				if err := Validate([]byte(testCallSchema), []byte(body)); err != nil {
					t.Fatalf("seed %d: call %q: %v", seed, body, err)
				}
			}
		}
	}
	if frees == 0 {
		t.Error("free text was never Free")
	}
	if started < walks/2 {
		t.Errorf("only %d of %d walks started a call", started, 2*walks)
	}
	t.Logf("%d of %d walks made calls, all valid", started, 2*walks)
}

// BenchmarkTriggeredQwen3 measures auto-mode steps on the Qwen3 vocabulary:
// free text (Free is true, so the engine builds no mask and Allow is not
// called: the cost is the Free check) and the first step inside a call.
func BenchmarkTriggeredQwen3(b *testing.B) {
	ix, tok := loadIndex(b, "vocab/kiln-vocab-qwen3.gguf")
	call := mustCompile(b, testCallSchema)
	trig, err := ix.Triggers(Trigger{Marker: "<tool_call>", Value: call, Close: "</tool_call>", Sep: "<tool_call>"})
	if err != nil {
		b.Fatal(err)
	}
	allowed := make([]bool, tok.Len())
	for _, tt := range []struct{ name, text string }{
		{"free", "Let me check the weather for you."},
		{"call start", "Sure.<tool_call>\n"},
		{"call arguments", "Sure.<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": "},
	} {
		c := trig.New()
		for _, id := range tok.Encode(tt.text, false, false) {
			if err := c.Accept(id); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				if c.Free() {
					continue
				}
				for i := range allowed {
					allowed[i] = true
				}
				c.Allow(allowed)
			}
		})
	}
}
