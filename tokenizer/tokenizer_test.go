package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// tinySPM is a SentencePiece-style vocabulary small enough to reason about
// by hand: <unk> <s> </s>, the 256 byte tokens, then a few pieces.
func tinySPM(t *testing.T, mod func(*Vocab)) *Tokenizer {
	t.Helper()
	v := Vocab{Model: "llama", BOS: 1, EOS: 2, UNK: 0, PAD: -1, EOT: -1, EOM: -1, AddBOS: true, AddSpacePrefix: true}
	add := func(tok string, score float32, typ int32) {
		v.Tokens = append(v.Tokens, tok)
		v.Scores = append(v.Scores, score)
		v.Types = append(v.Types, typ)
	}
	add("<unk>", 0, TypeUnknown)
	add("<s>", 0, TypeControl)
	add("</s>", 0, TypeControl)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), 0, TypeByte)
	}
	for _, p := range []struct {
		tok   string
		score float32
	}{{"▁", -4}, {"a", -5}, {"b", -5}, {"c", -5}, {"▁a", -1}, {"ab", -2}, {"▁ab", -3}, {"bc", -0.5}} {
		add(p.tok, p.score, TypeNormal)
	}
	add("<|u|>", 0, TypeUserDefined)
	add("<|c|>", 0, TypeControl)
	if mod != nil {
		mod(&v)
	}
	tk, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// ids maps token texts of tk to ids, failing on unknown texts.
func ids(t *testing.T, tk *Tokenizer, toks ...string) []int {
	t.Helper()
	out := []int{}
	for _, s := range toks {
		id, ok := tk.ids[s]
		if !ok {
			t.Fatalf("no token %q", s)
		}
		out = append(out, int(id))
	}
	return out
}

func TestSPMEncode(t *testing.T) {
	tk := tinySPM(t, nil)
	eosToo := tinySPM(t, func(v *Vocab) { v.AddEOS = true })
	noPrefix := tinySPM(t, func(v *Vocab) { v.AddSpacePrefix = false })
	tests := []struct {
		name          string
		tk            *Tokenizer
		text          string
		special, pars bool
		want          []string
	}{
		// ▁a (-1) beats ab (-2); then ▁ab (-3) is the only merge left.
		{"merge by score", tk, "ab", false, false, []string{"▁ab"}},
		{"stale bigram skipped", tk, "ab c", false, false, []string{"▁ab", "▁", "c"}},
		{"highest score first", tk, "abc", false, false, []string{"▁a", "bc"}},
		{"byte fallback", tk, "é", false, false, []string{"▁", "<0xC3>", "<0xA9>"}},
		{"leading space kept", tk, " a", false, false, []string{"▁", "▁a"}},
		{"empty", tk, "", false, false, nil},
		{"empty with BOS", tk, "", true, false, []string{"<s>"}},
		{"BOS", tk, "a", true, false, []string{"<s>", "▁a"}},
		{"BOS and EOS", eosToo, "a", true, false, []string{"<s>", "▁a", "</s>"}},
		{"no space prefix", noPrefix, "ab", false, false, []string{"ab"}},
		// After a special token llama.cpp prefixes the next text with a space again.
		{"control parsed", tk, "a<|c|>b", false, true, []string{"▁a", "<|c|>", "▁", "b"}},
		{"control as text", tk, "a<|c|>", false, false, []string{"▁a", "<0x3C>", "<0x7C>", "c", "<0x7C>", "<0x3E>"}},
		{"user-defined always", tk, "<|u|>a", false, false, []string{"<|u|>", "▁a"}},
		{"special at both ends", tk, "<|c|><|c|>", false, true, []string{"<|c|>", "<|c|>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.tk.Encode(tc.text, tc.special, tc.pars)
			want := ids(t, tc.tk, tc.want...)
			if !slices.Equal(got, want) {
				t.Errorf("Encode(%q) = %v, want %v (%q)", tc.text, got, want, tc.want)
			}
		})
	}
}

// tinyBPE is a byte-level BPE vocabulary: the 256 byte characters, then
// the merge results.
func tinyBPE(t *testing.T, pre string, extra ...string) *Tokenizer {
	t.Helper()
	v := Vocab{Model: "gpt2", Pre: pre, BOS: -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1, EOM: -1}
	for b := 0; b < 256; b++ {
		v.Tokens = append(v.Tokens, byteUnicode[b])
	}
	v.Merges = []string{"h e", "l l", "he ll", "hell o", "Ġ he", "Ġ Ġ"}
	v.Tokens = append(v.Tokens, "he", "ll", "hell", "hello", "Ġhe", "ĠĠ")
	v.Tokens = append(v.Tokens, extra...)
	tk, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestBPEEncode(t *testing.T) {
	gpt2 := tinyBPE(t, "gpt-2", "xyz")
	llama3 := tinyBPE(t, "llama-bpe", "xyz")
	tests := []struct {
		name string
		tk   *Tokenizer
		text string
		want []string
	}{
		{"merges by rank", gpt2, "hello", []string{"hello"}},
		// "Ġ he" becomes stale once "he" grows into "hello".
		{"stale merge", gpt2, "hello hello", []string{"hello", "Ġ", "hello"}},
		{"lower rank first", gpt2, " he", []string{"Ġhe"}},
		{"no merges", gpt2, "xyz", []string{"x", "y", "z"}},
		// Llama 3 emits a word that is itself a token without merging.
		{"ignore merges", llama3, "xyz", []string{"xyz"}},
		{"whitespace run", gpt2, "a   b", []string{"a", "ĠĠ", "Ġ", "b"}},
		{"bytes", gpt2, "é\n", []string{"Ã", "©", "Ċ"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.tk.Encode(tc.text, false, false)
			want := ids(t, tc.tk, tc.want...)
			if !slices.Equal(got, want) {
				t.Errorf("Encode(%q) = %v, want %v (%q)", tc.text, got, want, tc.want)
			}
			if dec := tc.tk.Decode(got, true); dec != tc.text {
				t.Errorf("Decode = %q, want %q", dec, tc.text)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	base := func() Vocab {
		return Vocab{Model: "llama", Tokens: []string{"<unk>", "<s>", "</s>", "a"}, BOS: 1, EOS: 2, UNK: 0, PAD: -1, EOT: -1, EOM: -1}
	}
	tests := []struct {
		name string
		mod  func(*Vocab)
		want string
	}{
		{"empty", func(v *Vocab) { v.Tokens = nil }, "empty vocabulary"},
		{"unknown model", func(v *Vocab) { v.Model = "bert" }, `unknown tokenizer model "bert"`},
		{"unknown pre", func(v *Vocab) { v.Model, v.Pre = "gpt2", "mystery" }, `unknown pre-tokenizer type "mystery"`},
		{"duplicate", func(v *Vocab) { v.Tokens[3] = "<s>" }, `duplicate token "<s>" has ids 1 and 3`},
		{"short scores", func(v *Vocab) { v.Scores = []float32{0} }, "1 scores for 4 tokens"},
		{"short types", func(v *Vocab) { v.Types = []int32{1, 1} }, "2 token types for 4 tokens"},
		{"add_bos without bos", func(v *Vocab) { v.AddBOS, v.BOS = true, -1 }, "bos_token_id is not set"},
		{"add_eos with bos out of range", func(v *Vocab) { v.AddEOS, v.EOS = true, 99 }, "eos_token_id is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := base()
			tc.mod(&v)
			_, err := New(v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSpecialAndEOG(t *testing.T) {
	v := Vocab{Model: "llama", BOS: 1, EOS: 2, UNK: 0, PAD: -1, EOT: -1, EOM: -1, Name: "Phi3 mini",
		Tokens: []string{"<unk>", "<s>", "</s>", "<|end|>", "<|user|>", "<|fim_pad|>", "x", "<|unused_1|>"},
		Types:  []int32{TypeUnknown, TypeControl, TypeUserDefined, TypeNormal, TypeControl, TypeNormal, TypeNormal, TypeControl}}
	tk, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	// </s> and <|end|> are end-of-generation by name and become control;
	// <|fim_pad|> is a fill-in-the-middle pad, also end-of-generation.
	if got, want := tk.EOG(), []int{2, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("EOG = %v, want %v", got, want)
	}
	for id, want := range []bool{false, true, true, true, true, true, false, true} {
		if got := tk.IsControl(id); got != want {
			t.Errorf("IsControl(%d) = %v, want %v", id, got, want)
		}
	}
	for _, tc := range []struct {
		text string
		id   int
		ok   bool
	}{{"<|user|>", 4, true}, {"<unk>", 0, true}, {"x", 0, false}, {"", 0, false}} {
		id, ok := tk.Special(tc.text)
		if ok != tc.ok || (ok && id != tc.id) {
			t.Errorf("Special(%q) = %d, %v; want %d, %v", tc.text, id, ok, tc.id, tc.ok)
		}
	}
	// Phi-3 special tokens swallow the whitespace after them (but not <s>).
	// Without byte tokens, "▁" falls back to <unk> three times.
	got := tk.Encode("<|user|>\n x<s> x", false, true)
	if want := []int{4, 6, 1, 0, 0, 0, 6}; !slices.Equal(got, want) {
		t.Errorf("Phi-3 rstrip: got %v, want %v", got, want)
	}
	for _, id := range []int{-1, 8, 1 << 40} {
		if tk.IsEOG(id) || tk.IsControl(id) || tk.Piece(id) != "" || len(tk.TokenBytes(id)) != 0 {
			t.Errorf("out-of-range id %d is not inert", id)
		}
	}
}

func TestTokenBytes(t *testing.T) {
	spm := tinySPM(t, nil)
	bpe := tinyBPE(t, "gpt-2")
	tests := []struct {
		tk   *Tokenizer
		tok  string
		want string
	}{
		{spm, "▁ab", " ab"},
		{spm, "<0x0A>", "\n"},
		{spm, "<0xF0>", "\xf0"},
		{spm, "<s>", "<s>"},
		{spm, "<|u|>", "<|u|>"},
		{bpe, "Ġhe", " he"},
		{bpe, "Ċ", "\n"},
		{bpe, "Ã", "\xc3"},
	}
	for _, tc := range tests {
		id := ids(t, tc.tk, tc.tok)[0]
		if got := string(tc.tk.TokenBytes(id)); got != tc.want {
			t.Errorf("TokenBytes(%q) = %q, want %q", tc.tok, got, tc.want)
		}
		if got := tc.tk.Piece(id); got != tc.tok {
			t.Errorf("Piece(%d) = %q, want %q", id, got, tc.tok)
		}
	}
}

func TestDecode(t *testing.T) {
	tk := tinySPM(t, nil)
	b := func(x byte) string { return fmt.Sprintf("<0x%02X>", x) }
	tests := []struct {
		name    string
		toks    []string
		special bool
		want    string
	}{
		{"control skipped", []string{"<s>", "▁ab", "<|c|>", "</s>"}, false, " ab"},
		{"control kept", []string{"<s>", "▁ab", "<|c|>"}, true, "<s> ab<|c|>"},
		{"unknown skipped", []string{"<unk>", "a"}, false, "a"},
		{"user-defined kept", []string{"<|u|>"}, false, "<|u|>"},
		{"emoji from bytes", []string{b(0xF0), b(0x9F), b(0xA6), b(0x99)}, false, "🦙"},
		{"truncated char", []string{"a", b(0xF0), b(0x9F)}, false, "a\uFFFD"},
		{"invalid byte", []string{b(0xFF), "a"}, false, "\uFFFDa"},
		{"interrupted char", []string{b(0xE2), b(0x82), "a"}, false, "\uFFFD\uFFFDa"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := ids(t, tk, tc.toks...)
			if got := tk.Decode(in, tc.special); got != tc.want {
				t.Errorf("Decode = %q, want %q", got, tc.want)
			}
			d := tk.NewDecoder(tc.special)
			var sb strings.Builder
			for _, id := range in {
				s := d.Add(id)
				if !utf8.ValidString(s) {
					t.Errorf("Add(%d) returned invalid UTF-8 %q", id, s)
				}
				sb.WriteString(s)
			}
			sb.WriteString(d.Flush())
			if sb.String() != tc.want {
				t.Errorf("Decoder = %q, want %q", sb.String(), tc.want)
			}
		})
	}
	// The emoji is held until its last byte arrives.
	d := tk.NewDecoder(false)
	var outs []string
	for _, id := range ids(t, tk, b(0xF0), b(0x9F), b(0xA6), b(0x99)) {
		outs = append(outs, d.Add(id))
	}
	if want := []string{"", "", "", "🦙"}; !slices.Equal(outs, want) {
		t.Errorf("Decoder outputs %q, want %q", outs, want)
	}
	if got := tk.Decode([]int{-1, 1 << 40, tk.Len()}, true); got != "" {
		t.Errorf("Decode of out-of-range ids = %q", got)
	}
}
