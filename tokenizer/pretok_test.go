package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// llama.cpp's pre-tokenizer regexes (llama-vocab.cpp), by pre-tokenizer
// name. They are the oracle for the hand-written matchers.
var oracleRegexes = map[string][]string{
	"default": {
		`[\p{P}\$\+<=>\^~\|]+`,
		`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`,
		`\p{N}+`,
		`[0-9][0-9][0-9]`,
	},
	"gpt-2": {
		`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`,
	},
	"llama-bpe": {
		`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
	},
	"qwen2": {
		`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
	},
	"starcoder": {
		`\p{N}`,
		`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`,
	},
	"deepseek-llm": {
		"[\r\n]",
		`\s?[` + deepseekLetterClass + `]+`,
		`\s?[` + deepseekPunctClass + `]+`,
		`\s+$`,
		`[` + deepseekCJKClass + `]+`,
		`\p{N}+`,
	},
	"deepseek-coder": {
		"[\r\n]",
		`\s?\p{L}+`,
		`\s?\p{P}+`,
		`[` + deepseekCJKClass + `]+`,
		`\p{N}`,
	},
	"falcon": {
		"[\\p{P}\\$\\+<=>\\^~\\|`]+",
		`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`,
		`[0-9][0-9][0-9]`,
	},
}

type oracle struct {
	res     []*regexp2.Regexp
	literal []bool // regex uses no \p{..} class: llama.cpp runs it on text with non-ASCII whitespace replaced by \v
}

func newOracle(t testing.TB, exprs []string) oracle {
	t.Helper()
	var o oracle
	for _, e := range exprs {
		// std::regex (ECMAScript) anchors $ at the end of the piece only;
		// .NET's $ also matches before a final newline, so spell it \z.
		if strings.HasSuffix(e, "+$") {
			e = strings.TrimSuffix(e, "$") + `\z`
		}
		re, err := regexp2.Compile(e, regexp2.None)
		if err != nil {
			t.Fatalf("compile %q: %v", e, err)
		}
		o.res = append(o.res, re)
		o.literal = append(o.literal, !strings.Contains(e, `\p{`))
	}
	return o
}

// split mirrors llama.cpp's unicode_regex_split with a backtracking regex
// engine; it returns piece lengths in code points.
func (o oracle) split(t testing.TB, text string) []int {
	t.Helper()
	cps := []rune(text)
	subst := make([]rune, len(cps))
	for i, r := range cps {
		subst[i] = r
		if r > 0x7F && unicode.IsSpace(r) {
			subst[i] = '\v'
		}
	}
	offs := []int{len(cps)}
	for k, re := range o.res {
		src := cps
		if o.literal[k] {
			src = subst
		}
		var next []int
		start := 0
		for _, n := range offs {
			piece := string(src[start : start+n])
			gap := 0
			m, err := re.FindStringMatch(piece)
			for ; m != nil && err == nil; m, err = re.FindNextMatch(m) {
				if m.Index > gap {
					next = append(next, m.Index-gap)
				}
				next = append(next, m.Length)
				gap = m.Index + m.Length
			}
			if err != nil {
				t.Fatal(err)
			}
			if gap < n {
				next = append(next, n-gap)
			}
			start += n
		}
		offs = next
	}
	return offs
}

func scannerSplit(spec preSpec, text string) []int {
	var ct cpText
	for _, r := range text {
		ct.cps = append(ct.cps, r)
		ct.cats = append(ct.cats, catOf(r))
	}
	return split(&ct, spec.stages, nil)
}

func pieces(text string, offs []int) []string {
	cps := []rune(text)
	var out []string
	start := 0
	for _, n := range offs {
		out = append(out, string(cps[start:start+n]))
		start += n
	}
	return out
}

// extraCorpus exercises corners the test files do not: contractions in odd
// case, whitespace runs before newlines, non-ASCII whitespace and digits,
// literal-class borders of the DeepSeek regexes.
var extraCorpus = []string{
	"", " ", "a", "'", "''s", "'S 'T 'Re 'VE 'm 'LL 'D", "don't I'm we'll they'RE",
	"  \n\n  x", " \t \r\n \u00a0\u3000y", "x  ", "a\u3000\u3000b", "\u2028\u2029\u0085",
	"١٢٣٤ ٥", "Ⅻ½¼ 12345678", "1,234,567.89", "ǅ Ⅻ µ ÿ Ā ſ", "，。！？「」", "\u3001\u3002\u3000",
	"한국어 텍스트", "日本語のテキスト", "ℂℕ K Ω", "e\u0301\u0302 a\u0308", "\U0001F999\U0001F3FD\u200d",
	"tab\there", "x\r\n\r\ny", "    indented\n\tcode();", "!!!???...", "$+<=>^~|`", "\x00\x01\x1f\x7f",
}

func testCorpus(t testing.TB) []string {
	t.Helper()
	corpus := slices.Clone(extraCorpus)
	dir := os.Getenv("KILN_TEST_MODELS")
	if dir == "" {
		return corpus
	}
	if b, err := os.ReadFile(filepath.Join(dir, "vocab", "ggml-vocab-gpt-2.gguf.inp")); err == nil {
		corpus = append(corpus, strings.Split(string(b), "\n__ggml_vocab_test__\n")...)
	}
	for _, name := range []string{"llama3_1", "qwen3"} {
		b, err := os.ReadFile(filepath.Join(dir, "..", "reference", "tokenizer", name+".json"))
		if err != nil {
			continue
		}
		var ref refFile
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatal(err)
		}
		for _, c := range ref.Cases {
			corpus = append(corpus, c.Text)
		}
	}
	return corpus
}

func TestPreTokenizersMatchRegexes(t *testing.T) {
	corpus := testCorpus(t)
	for name, exprs := range oracleRegexes {
		t.Run(name, func(t *testing.T) {
			spec, ok := lookupPre(name)
			if !ok {
				t.Fatalf("pre-tokenizer %q not found", name)
			}
			o := newOracle(t, exprs)
			for _, text := range corpus {
				if !utf8.ValidString(text) {
					continue
				}
				got, want := scannerSplit(spec, text), o.split(t, text)
				if !slices.Equal(got, want) {
					t.Errorf("%q:\n got  %q\n want %q", text, pieces(text, got), pieces(text, want))
				}
			}
		})
	}
}

// palette maps fuzz bytes to characters from every class the regexes
// distinguish, so that random inputs reach the Unicode paths.
var palette = []rune("aZ'sStTrReEvVmMlLdD 0123\t\n\r\v\f\u00a0\u3000\u2003\u0085.,!?-_$+<=>^~|`\"" +
	"éÅßµǅſΩЖжא٣٤١߀०ⅫⅯ½²中文日本カナ한글ก\u0301\u0308\u200d\u200b🦙👍🏽,。！（）「」‘’“”€£©®" +
	"ℂK\u2028\u2029\x00\x1f\u00ad\ufeff")

func paletteString(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(palette[int(c)%len(palette)])
	}
	return sb.String()
}

// FuzzPreTokenizers compares every scanner with its regexes, on the raw
// input (when valid UTF-8) and on the input mapped through palette.
func FuzzPreTokenizers(f *testing.F) {
	for _, s := range testCorpus(f) {
		f.Add([]byte(s))
	}
	type entry struct {
		name string
		spec preSpec
		o    oracle
	}
	var entries []entry
	for name, exprs := range oracleRegexes {
		spec, _ := lookupPre(name)
		entries = append(entries, entry{name, spec, newOracle(f, exprs)})
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		texts := []string{paletteString(b)}
		if utf8.Valid(b) {
			texts = append(texts, string(b))
		}
		for _, e := range entries {
			for _, text := range texts {
				got, want := scannerSplit(e.spec, text), e.o.split(t, text)
				if !slices.Equal(got, want) {
					t.Fatalf("%s %q:\n got  %q\n want %q", e.name, text, pieces(text, got), pieces(text, want))
				}
			}
		}
	})
}

func TestUnknownPreTokenizer(t *testing.T) {
	_, err := New(Vocab{Model: "gpt2", Pre: "no-such-pre", Tokens: []string{"a"}, BOS: -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1, EOM: -1})
	if err == nil || !strings.Contains(err.Error(), `"no-such-pre"`) {
		t.Fatalf("error %v does not name the unknown pre-tokenizer", err)
	}
}
