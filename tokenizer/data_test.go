package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/internal/testmodels"
)

// loaded caches tokenizers across tests: the large vocabularies take a
// noticeable fraction of a second to load, especially under -race.
var loaded sync.Map // path -> *Tokenizer

func loadTokenizer(t testing.TB, rel string) *Tokenizer {
	t.Helper()
	path := filepath.Join(testmodels.Dir(t), rel)
	if tk, ok := loaded.Load(path); ok {
		return tk.(*Tokenizer)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tk, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	loaded.Store(path, tk)
	return tk
}

// readVectors reads llama.cpp's test-tokenizer-0 files X.gguf.inp / X.gguf.out.
func readVectors(t *testing.T, base string) ([]string, [][]int) {
	t.Helper()
	inp, err := os.ReadFile(base + ".inp")
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(base + ".out")
	if err != nil {
		t.Fatal(err)
	}
	const sep = "\n__ggml_vocab_test__\n"
	var texts []string
	rest := string(inp)
	for {
		k := strings.Index(rest, sep)
		if k < 0 {
			break
		}
		texts = append(texts, rest[:k])
		rest = rest[k+len(sep):]
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s: %d inputs but %d expected outputs", base, len(texts), len(lines))
	}
	want := make([][]int, len(lines))
	for i, l := range lines {
		want[i] = []int{}
		for _, f := range strings.Fields(l) {
			id, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s.out line %d: %v", base, i+1, err)
			}
			want[i] = append(want[i], id)
		}
	}
	return texts, want
}

// TestVocabVectors runs llama.cpp's test-tokenizer-0 vectors: no BOS/EOS,
// special tokens parsed as plain text.
func TestVocabVectors(t *testing.T) {
	for _, name := range []string{"gpt-2", "starcoder", "deepseek-llm", "llama-spm", "phi-3"} {
		t.Run(name, func(t *testing.T) {
			rel := "vocab/ggml-vocab-" + name + ".gguf"
			tk := loadTokenizer(t, rel)
			texts, want := readVectors(t, filepath.Join(testmodels.Dir(t), rel))
			pass := 0
			for i, text := range texts {
				got := tk.Encode(text, false, false)
				if slices.Equal(got, want[i]) {
					pass++
					continue
				}
				t.Errorf("case %d %q:\n got  %v\n want %v", i, text, got, want[i])
			}
			t.Logf("%s: %d/%d passed", name, pass, len(texts))
		})
	}
}

type refCase struct {
	Index       int    `json:"index"`
	Category    string `json:"category"`
	Text        string `json:"text"`
	IDs         []int  `json:"ids"`
	IDsNoSpecia []int  `json:"ids_no_parse_special"`
}

type refDisagreement struct {
	Index        int    `json:"index"`
	Text         string `json:"text"`
	ParseSpecial bool   `json:"parse_special"`
	LlamaCpp     []int  `json:"llama_cpp"`
}

type refFile struct {
	Vocab         string            `json:"vocab"`
	Cases         []refCase         `json:"cases"`
	Disagreements []refDisagreement `json:"disagreements"`
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestReferenceBPE checks the Llama 3.1 and Qwen3 references: ids with and
// without special-token parsing, and llama.cpp's side of the disagreements.
func TestReferenceBPE(t *testing.T) {
	for _, name := range []string{"llama3_1", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			var ref refFile
			readJSON(t, testmodels.Reference(t, "tokenizer", name+".json"), &ref)
			tk := loadTokenizer(t, ref.Vocab)
			checks, pass := 0, 0
			check := func(what string, text string, parse bool, want []int) {
				checks++
				got := tk.Encode(text, false, parse)
				if slices.Equal(got, want) {
					pass++
					return
				}
				t.Errorf("%s %q parse_special=%v:\n got  %v\n want %v", what, text, parse, got, want)
			}
			for _, c := range ref.Cases {
				if c.IDs != nil {
					check(fmt.Sprintf("case %d (%s)", c.Index, c.Category), c.Text, true, c.IDs)
				}
				if c.IDsNoSpecia != nil {
					check(fmt.Sprintf("case %d (%s)", c.Index, c.Category), c.Text, false, c.IDsNoSpecia)
				}
			}
			for _, d := range ref.Disagreements {
				check(fmt.Sprintf("disagreement %d", d.Index), d.Text, d.ParseSpecial, d.LlamaCpp)
			}
			t.Logf("%s: %d/%d checks passed (%d cases, %d disagreements)", name, pass, checks, len(ref.Cases), len(ref.Disagreements))
		})
	}
}

// modelFileFor maps a logits reference name to its model file.
func modelFileFor(name string) string {
	if strings.HasPrefix(name, "synth-") {
		return "synth/" + name + ".gguf"
	}
	return name + ".gguf"
}

// TestLogitsPrompts checks prompt_text -> prompt_tokens (BOS added, special
// tokens not parsed, truncated to 99 tokens after BOS) for every logits
// reference that has text prompts.
func TestLogitsPrompts(t *testing.T) {
	files, err := filepath.Glob(testmodels.Reference(t, "logits", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no logits references found")
	}
	total := 0
	for _, path := range files {
		var ref struct {
			Model string `json:"model"`
			EOG   []int  `json:"eog_token_ids"`
			Cases []struct {
				Name         string  `json:"name"`
				PromptTokens []int   `json:"prompt_tokens"`
				PromptText   *string `json:"prompt_text"`
			} `json:"cases"`
		}
		readJSON(t, path, &ref)
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			tk := loadTokenizer(t, modelFileFor(name))
			if got := tk.EOG(); !slices.Equal(got, ref.EOG) {
				t.Errorf("EOG ids %v, want %v", got, ref.EOG)
			}
			for _, c := range ref.Cases {
				if c.PromptText == nil {
					continue
				}
				total++
				got := tk.Encode(*c.PromptText, true, false)
				if len(got) > 100 {
					got = got[:100]
				}
				if !slices.Equal(got, c.PromptTokens) {
					t.Errorf("case %s %q:\n got  %v\n want %v", c.Name, *c.PromptText, got, c.PromptTokens)
				}
			}
		})
	}
	t.Logf("%d text prompts checked", total)
}

// TestVocabMetadata checks the special ids, add_bos and end-of-generation
// sets llama.cpp derives for each vocabulary (models README).
func TestVocabMetadata(t *testing.T) {
	tests := []struct {
		rel      string
		n        int
		bos, eos int
		addBOS   bool
		eog      []int
	}{
		{"vocab/ggml-vocab-gpt-2.gguf", 50257, 50256, 50256, false, []int{50256}},
		{"vocab/ggml-vocab-starcoder.gguf", 49152, 0, 0, false, nil},
		{"vocab/ggml-vocab-deepseek-llm.gguf", 102400, 100000, 100001, true, nil},
		{"vocab/ggml-vocab-llama-spm.gguf", 32000, 1, 2, true, []int{2}},
		{"vocab/ggml-vocab-phi-3.gguf", 32064, 1, 32000, true, []int{2, 32000, 32007}},
		{"vocab/kiln-vocab-llama3_1.gguf", 128256, 128000, 128009, true, []int{128001, 128009}},
		{"vocab/kiln-vocab-qwen3.gguf", 151669, 151643, 151645, false, []int{128247, 151643, 151645, 151662, 151663, 151664}},
		{"stories260K.gguf", 512, 1, 2, true, []int{2}},
	}
	for _, tc := range tests {
		t.Run(tc.rel, func(t *testing.T) {
			tk := loadTokenizer(t, tc.rel)
			if tk.Len() != tc.n || tk.BOS() != tc.bos || tk.EOS() != tc.eos || tk.AddBOS() != tc.addBOS {
				t.Errorf("Len %d BOS %d EOS %d AddBOS %v; want %d %d %d %v",
					tk.Len(), tk.BOS(), tk.EOS(), tk.AddBOS(), tc.n, tc.bos, tc.eos, tc.addBOS)
			}
			if tc.eog != nil && !slices.Equal(tk.EOG(), tc.eog) {
				t.Errorf("EOG %v, want %v", tk.EOG(), tc.eog)
			}
			for _, id := range tc.eog {
				if !tk.IsEOG(id) || !tk.IsControl(id) {
					t.Errorf("id %d (%q): IsEOG %v IsControl %v", id, tk.Piece(id), tk.IsEOG(id), tk.IsControl(id))
				}
			}
		})
	}
}

// TestConcurrentEncode runs one Tokenizer from several goroutines (for the
// race detector) and checks they agree.
func TestConcurrentEncode(t *testing.T) {
	tk := loadTokenizer(t, "vocab/kiln-vocab-qwen3.gguf")
	const text = "<|im_start|>user\nHow many r's are in \"strawberry\"? 🍓<|im_end|>\n"
	want := tk.Encode(text, true, true)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if got := tk.Encode(text, true, true); !slices.Equal(got, want) {
					errs <- fmt.Sprint(got)
					return
				}
				if got := tk.Decode(want, true); got != text {
					errs <- got
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent result differs: %s", e)
	}
}
