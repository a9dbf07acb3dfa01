package constrain

import (
	"encoding/json"
	"math/rand/v2"
	"net/mail"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPatternMatcher(t *testing.T) {
	ix := NewIndex(byteVocab{})
	type tc struct {
		in   string
		want verdict
	}
	cases := []struct {
		schema string
		cases  []tc
	}{
		{`{"type":"string","pattern":"^[a-z0-9_]+$"}`, []tc{
			{`"abc_9"`, complete}, {`""`, reject}, {`"aB"`, reject}, {`"a b"`, reject}, {"\"\xc3\xa9\"", reject}, {`"a\n"`, reject},
		}},
		{`{"type":"string","pattern":"^\\d{3}-\\d{2,4}$"}`, []tc{
			{`"123-45"`, complete}, {`"123-4567"`, complete}, {`"123-4"`, reject}, {`"123-45678"`, reject}, {`"12-45"`, reject},
		}},
		{`{"type":"string","pattern":"abc"}`, []tc{ // unanchored: anywhere
			{`"abc"`, complete}, {`"xxabcyy"`, complete}, {`"ab"`, reject}, {"\"\xc3\xa9abc\\n\"", complete}, {`"xxab`, prefix},
		}},
		{`{"type":"string","pattern":"^(cat|dog)s?$"}`, []tc{
			{`"cat"`, complete}, {`"dogs"`, complete}, {`"cow"`, reject}, {`"catss"`, reject},
		}},
		{`{"type":"string","pattern":"^[^a-z]*$"}`, []tc{
			{`"ABC 1é"`, complete}, {`"Ab"`, reject}, {`"\n\t\u0001"`, complete}, {`"\u0061"`, reject},
		}},
		{`{"type":"string","pattern":"^a.c$"}`, []tc{
			{`"abc"`, complete}, {"\"a\xe2\x82\xacc\"", complete}, {`"a\nc"`, reject}, {`"ac"`, reject},
		}},
		{`{"type":"string","pattern":"^\\w+@\\w+\\.com$|^none$"}`, []tc{
			{`"a@b.com"`, complete}, {`"none"`, complete}, {`"a@b.org"`, reject}, {`"nonea@b.com"`, complete},
		}},
		{`{"type":"string","pattern":"^x*$","minLength":2,"maxLength":3}`, []tc{
			{`"xx"`, complete}, {`"xxx"`, complete}, {`"x"`, reject}, {`"xxxx"`, reject},
		}},
		{`{"type":"string","pattern":"^[ab]{2}$","minLength":3}`, nil}, // unsatisfiable, checked below
		{`{"type":"string","pattern":"^\\u00e9\\.\\s?$"}`, []tc{
			{"\"\xc3\xa9.\"", complete}, {"\"\xc3\xa9. \"", complete}, {"\"\xc3\xa9x\"", reject}, {"\"\xc3\xa8", reject},
		}},
		{`{"pattern":"^[0-9]+$","maxLength":2}`, []tc{{`"12"`, complete}, {`"123"`, reject}, {`12`, reject}}},
		{`{"type":"string","format":"date"}`, []tc{
			{`"2024-02-29"`, complete}, {`"2023-02-29"`, reject}, {`"2000-02-29"`, complete}, {`"1900-02-29"`, reject},
			{`"2024-04-31"`, reject}, {`"2024-12-31"`, complete}, {`"2024-13-01"`, reject}, {`"24-01-01"`, reject},
		}},
		{`{"type":"string","format":"date-time"}`, []tc{
			{`"2024-01-02T03:04:05Z"`, complete}, {`"2024-01-02T03:04:05.123+05:30"`, complete},
			{`"2024-01-02 03:04:05Z"`, reject}, {`"2024-01-02T24:00:00Z"`, reject}, {`"2024-01-02T03:04:05"`, reject},
		}},
		{`{"type":"string","format":"time"}`, []tc{{`"23:59:59Z"`, complete}, {`"23:60:00Z"`, reject}}},
		{`{"type":"string","format":"uuid"}`, []tc{
			{`"123e4567-e89b-12d3-a456-426614174000"`, complete}, {`"123e4567e89b12d3a456426614174000"`, reject},
		}},
		{`{"type":"string","format":"email"}`, []tc{
			{`"a.b+c@example.co"`, complete}, {`"a@b"`, reject}, {`"@b.com"`, reject}, {`"a@-b.com"`, reject}, {`"a@b.c"`, reject},
		}},
		{`{"type":"string","format":"hostname-ish"}`, []tc{{`"anything at all"`, complete}}},
		{`{"type":"string","format":"date","pattern":"^2024"}`, []tc{{`"2024-05-06"`, complete}, {`"2023-05-06"`, reject}}},
	}
	for _, c := range cases {
		if c.cases == nil {
			if err := CompileSchema([]byte(c.schema)); err == nil || !strings.Contains(err.Error(), "no JSON value") {
				t.Errorf("%s: error %v, want unsatisfiable", c.schema, err)
			}
			continue
		}
		for _, k := range c.cases {
			con, err := ix.Schema([]byte(c.schema))
			if err != nil {
				t.Fatalf("%s: %v", c.schema, err)
			}
			got := run(t, con, k.in)
			if got != k.want {
				t.Errorf("%s: %s: got %v, want %v", c.schema, k.in, got, k.want)
			}
			verr := Validate([]byte(c.schema), []byte(k.in))
			if got == complete && verr != nil {
				t.Errorf("%s: %s: matcher accepts but Validate says %v", c.schema, k.in, verr)
			}
			if got == reject && json.Valid([]byte(k.in)) && verr == nil {
				t.Errorf("%s: %s: matcher rejects but Validate accepts", c.schema, k.in)
			}
		}
	}
}

func TestPatternErrors(t *testing.T) {
	for _, p := range []string{
		`(a)\\1`, `(?=a)`, `(?!a)`, `(?<=a)b`, `(?<!a)b`, `a\\b`, `[a`, `(a`, `a)`, `*a`, `a^b`, `a$b`, `\\k<x>`, `a{3,2}`, `\\p{L}`, `\\q`,
	} {
		err := CompileSchema([]byte(`{"type":"string","pattern":"` + p + `"}`))
		if err == nil || !strings.Contains(err.Error(), "pattern") {
			t.Errorf("pattern %s: error %v, want one naming pattern", p, err)
		}
	}
	if err := CompileSchema([]byte(`{"type":"string","pattern":"a{1001}"}`)); err == nil {
		t.Errorf("a{1001}: no error")
	}
}

// TestPatternAgainstRegexp checks the DFA against Go's regexp (whose syntax
// agrees with ECMA on this subset) on random strings over a small alphabet.
func TestPatternAgainstRegexp(t *testing.T) {
	pats := []string{
		`^[a-c]+$`, `b`, `^a|c$`, `^(ab|ba)*c?$`, `^a{2,3}b{1,}$`, `^[^ab]{0,2}$`, `a.c`, `^\d\w\s$`, `^(a|b)?(c|d)+$`,
		`^[a-c\-]*-$`, `^(?:ab){2}$`, `^(?<n>a)b$`, `^é+$`, `[^é]`, `^\.\*$`, `^a{0}b$`, `^\D\W\S$`, `x{`,
	}
	alphabet := []string{"a", "b", "c", "d", "-", " ", "1", "é", "\n", ".", "*", "{", "x"}
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range pats {
		d, err := compilePattern(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		re := regexp.MustCompile(p)
		for i := 0; i < 3000; i++ {
			var sb strings.Builder
			for n := r.IntN(7); n > 0; n-- {
				sb.WriteString(alphabet[r.IntN(len(alphabet))])
			}
			s := sb.String()
			// Go's . matches \r; ECMA's does not: skip that difference.
			if got, want := d.matches(s), re.MatchString(s); got != want && !strings.ContainsAny(s, "\r") {
				t.Fatalf("%s on %q: DFA %v, regexp %v", p, s, got, want)
			}
		}
	}
}

// TestFormatsParse samples random format strings on the byte vocabulary and
// checks them with the standard library's parsers.
func TestFormatsParse(t *testing.T) {
	ix := NewIndex(byteVocab{})
	check := map[string]func(string) error{
		"date":      func(s string) error { _, err := time.Parse("2006-01-02", s); return err },
		"date-time": func(s string) error { _, err := time.Parse(time.RFC3339Nano, s); return err },
		"time":      func(s string) error { _, err := time.Parse("15:04:05.999999999Z07:00", s); return err },
		"email":     func(s string) error { _, err := mail.ParseAddress(s); return err },
		"uuid": func(s string) error {
			if !regexp.MustCompile(`^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$`).MatchString(s) {
				return errBadUUID
			}
			return nil
		},
	}
	r := rand.New(rand.NewPCG(3, 4))
	n := 300
	if testing.Short() {
		n = 60
	}
	for name, fn := range check {
		schema := `{"type":"string","format":"` + name + `"}`
		for i := 0; i < n; i++ {
			con, err := ix.Schema([]byte(schema))
			if err != nil {
				t.Fatal(err)
			}
			text := sampleBytes(t, con, r, 40)
			var s string
			if err := json.Unmarshal([]byte(text), &s); err != nil {
				t.Fatalf("%s: %q does not parse: %v", name, text, err)
			}
			if err := fn(s); err != nil {
				t.Fatalf("%s: %q rejected by the standard library: %v", name, s, err)
			}
			if err := Validate([]byte(schema), []byte(text)); err != nil {
				t.Fatalf("%s: %q: %v", name, text, err)
			}
		}
	}
}

var errBadUUID = jsonError("not a uuid")

type jsonError string

func (e jsonError) Error() string { return string(e) }

// sampleBytes drives c on the byte vocabulary with uniform choices among
// allowed tokens, preferring to finish after soft steps.
func sampleBytes(t *testing.T, c *Constraint, r *rand.Rand, soft int) string {
	t.Helper()
	allowed := make([]bool, 257)
	for step := 0; step < 2000; step++ {
		for i := range allowed {
			allowed[i] = true
		}
		c.Allow(allowed)
		if allowed[eogByte] && (step > soft || r.IntN(8) == 0) {
			if err := c.Accept(eogByte); err != nil {
				t.Fatal(err)
			}
			return c.Text()
		}
		var cand []int
		for id := 0; id < 256; id++ {
			if allowed[id] {
				cand = append(cand, id)
			}
		}
		if len(cand) == 0 {
			if allowed[eogByte] {
				continue
			}
			t.Fatalf("dead end at %q", c.Text())
		}
		if step > soft && allowed['"'] {
			cand = []int{'"'}
		}
		if err := c.Accept(cand[r.IntN(len(cand))]); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("no end: %q", c.Text())
	return ""
}

// TestPatternAllowAgreesWithAccept checks the pattern fast path and plan
// cache of Allow against Accept, token by token, on real vocabularies in
// states inside pattern and format strings.
func TestPatternAllowAgreesWithAccept(t *testing.T) {
	states := []struct{ schema, text string }{
		{validityCorpus[2].schema, `{"word": "hello wor`},
		{validityCorpus[2].schema, `{"code": "x`},
		{validityCorpus[2].schema, `{"code": "xab`},
		{validityCorpus[2].schema, `{"hex": "0x`},
		{validityCorpus[0].schema, `{"email": "john.sm`},
		{validityCorpus[1].schema, `{"start": "2024-02-2`},
		{validityCorpus[11].schema, `["`},
	}
	for _, rel := range []string{"stories260K.gguf", "vocab/kiln-vocab-qwen3.gguf"} {
		ix, tok := loadIndex(t, rel)
		r := rand.New(rand.NewPCG(5, 6))
		allowed := make([]bool, tok.Len())
		single := map[byte]int{}
		for id := 0; id < tok.Len(); id++ {
			if b := tok.TokenBytes(id); len(b) == 1 && !tok.IsEOG(id) {
				if _, dup := single[b[0]]; !dup {
					single[b[0]] = id
				}
			}
		}
		for _, s := range states {
			c, err := ix.Schema([]byte(s.schema))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(s.text); i++ {
				if err := c.Accept(single[s.text[i]]); err != nil {
					t.Fatalf("%s: prefix %q: %v", rel, s.text[:i+1], err)
				}
			}
			// Twice: the second Allow comes from the plan cache.
			for round := 0; round < 2; round++ {
				for i := range allowed {
					allowed[i] = true
				}
				c.Allow(allowed)
			}
			n, checked := 0, 0
			for id := range allowed {
				if allowed[id] {
					n++
				}
				if tok.Len() > 5000 && r.IntN(30) != 0 && !allowed[id] {
					continue // sample the rejected tokens of a large vocabulary
				}
				cl := *c
				cl.state = append([]thread(nil), c.state...)
				cl.text = append([]byte(nil), c.text...)
				err := cl.Accept(id)
				checked++
				if (err == nil) != allowed[id] {
					t.Fatalf("%s %q: token %d %q: Allow %v, Accept %v", rel, s.text, id, tok.TokenBytes(id), allowed[id], err)
				}
			}
			if n == 0 {
				t.Fatalf("%s %q: nothing allowed", rel, s.text)
			}
			t.Logf("%s %q: %d allowed, %d checked", filepath.Base(rel), s.text, n, checked)
		}
	}
}
