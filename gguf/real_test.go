package gguf

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/internal/testmodels"
)

// TestRealFilesOpen opens every GGUF file of the test models directory and
// checks structural facts that hold for any well-formed file.
func TestRealFilesOpen(t *testing.T) {
	dir := testmodels.Dir(t)
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".gguf") {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// 2 stories models, 7 vocab files, 32 synthetic models (models/README.md).
	if len(paths) != 41 {
		t.Errorf("found %d .gguf files, want 41", len(paths))
	}
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		st, _ := os.Stat(p)
		if f.Version != 3 || f.Alignment != 32 || f.Size() != st.Size() {
			t.Errorf("%s: version %d alignment %d size %d", p, f.Version, f.Alignment, f.Size())
		}
		if _, err := f.RequireString("general.architecture"); err != nil {
			t.Error(err)
		}
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			if uint64(len(ti.Data)) != ti.Bytes() || ti.Bytes() == 0 || !ti.Type.Known() {
				t.Errorf("%s: tensor %s: %d data bytes, Bytes() %d, type %s", p, ti.Name, len(ti.Data), ti.Bytes(), ti.Type)
			}
		}
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}
}

// TestRealFileFacts checks values documented in models/README.md.
func TestRealFileFacts(t *testing.T) {
	dir := testmodels.Dir(t)
	type fact struct {
		key  string
		want any // int64, float64, string, bool, or int for an array length
	}
	cases := []struct {
		file     string
		kvs      int
		tensors  int
		elements uint64 // sum over tensors; 0 to skip
		facts    []fact
	}{
		{"stories260K.gguf", 19, 48, 292800, []fact{
			{"general.architecture", "llama"}, {"llama.block_count", int64(5)}, {"llama.context_length", int64(2048)},
			{"llama.embedding_length", int64(64)}, {"llama.feed_forward_length", int64(172)},
			{"llama.attention.head_count", int64(8)}, {"llama.attention.head_count_kv", int64(4)},
			{"llama.rope.dimension_count", int64(8)}, {"llama.attention.layer_norm_rms_epsilon", float64(float32(1e-5))},
			{"tokenizer.ggml.model", "llama"}, {"tokenizer.ggml.tokens", 512}, {"tokenizer.ggml.scores", 512},
			{"tokenizer.ggml.bos_token_id", int64(1)}, {"tokenizer.ggml.eos_token_id", int64(2)},
		}},
		{"stories260K-chatml.gguf", 20, 48, 292800, []fact{{"tokenizer.chat_template", 199}}},
		{"vocab/ggml-vocab-gpt-2.gguf", -1, 0, 0, []fact{
			{"tokenizer.ggml.model", "gpt2"}, {"tokenizer.ggml.pre", "gpt-2"}, {"tokenizer.ggml.tokens", 50257},
			{"tokenizer.ggml.merges", 50000}, {"tokenizer.ggml.bos_token_id", int64(50256)}, {"tokenizer.ggml.eos_token_id", int64(50256)},
		}},
		{"vocab/ggml-vocab-deepseek-llm.gguf", -1, 0, 0, []fact{
			{"tokenizer.ggml.pre", "deepseek-llm"}, {"tokenizer.ggml.tokens", 102400}, {"tokenizer.ggml.merges", 99757},
			{"tokenizer.ggml.add_bos_token", true}, {"tokenizer.ggml.bos_token_id", int64(100000)},
		}},
		{"vocab/kiln-vocab-llama3_1.gguf", -1, 0, 0, []fact{
			{"tokenizer.ggml.pre", "llama-bpe"}, {"tokenizer.ggml.tokens", 128256}, {"tokenizer.ggml.merges", 280147},
			{"tokenizer.ggml.token_type", 128256}, {"tokenizer.chat_template", 389}, {"tokenizer.ggml.eos_token_id", int64(128009)},
		}},
		{"vocab/kiln-vocab-qwen3.gguf", -1, 0, 0, []fact{
			{"general.architecture", "qwen3"}, {"tokenizer.ggml.pre", "qwen2"}, {"tokenizer.ggml.tokens", 151669},
			{"tokenizer.ggml.merges", 151387}, {"tokenizer.chat_template", 4116}, {"tokenizer.ggml.add_bos_token", false},
		}},
		{"vocab/ggml-vocab-phi-3.gguf", -1, 0, 0, []fact{{"general.architecture", "phi3"}, {"tokenizer.ggml.tokens", 32064}}},
		{"vocab/ggml-vocab-llama-spm.gguf", -1, 0, 0, []fact{{"tokenizer.ggml.tokens", 32000}, {"tokenizer.ggml.add_bos_token", true}}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			f, err := Open(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if (c.kvs >= 0 && len(f.KV) != c.kvs) || len(f.Tensors) != c.tensors {
				t.Errorf("%d KVs, %d tensors; want %d, %d", len(f.KV), len(f.Tensors), c.kvs, c.tensors)
			}
			if c.elements != 0 {
				var n uint64
				for i := range f.Tensors {
					n += f.Tensors[i].Elements()
				}
				if n != c.elements {
					t.Errorf("%d elements, want %d", n, c.elements)
				}
			}
			for _, fc := range c.facts {
				v, ok := f.Get(fc.key)
				if !ok {
					t.Errorf("%s missing", fc.key)
					continue
				}
				var got any
				switch fc.want.(type) {
				case int64:
					got, _ = v.Int()
				case float64:
					got, _ = v.Float()
				case string:
					got, _ = v.Str()
					if v.Type != TypeString {
						got = nil
					}
				case bool:
					got, _ = v.Bool()
					if v.Type != TypeBool {
						got = nil
					}
				case int:
					got = v.Len()
					if v.Type == TypeString {
						got = len(v.V.(string))
					}
				}
				if got != fc.want {
					t.Errorf("%s = %v (%s), want %v", fc.key, got, v.describe(), fc.want)
				}
			}
		})
	}

	// stories260K-chatml was made from stories260K by adding one key: the
	// tensors must be byte-identical.
	a, err := Open(filepath.Join(dir, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(filepath.Join(dir, "stories260K-chatml.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range a.Tensors {
		bt, ok := b.Tensor(a.Tensors[i].Name)
		if !ok || !bytes.Equal(a.Tensors[i].Data, bt.Data) {
			t.Errorf("tensor %s differs between stories260K and its chatml copy", a.Tensors[i].Name)
		}
	}
}

// synthRow matches a row of the synthetic-model table of models/README.md:
// | `synth/NAME.gguf` | SIZE | F32 x5, Q2_K x9 | `sha` |
var synthRow = regexp.MustCompile("^\\| `(synth/[^`]+\\.gguf)` \\| (\\d+) \\| ([^|]+) \\|")

// TestSynthTensorTypes checks every synthetic model's size and tensor type
// counts against the table in models/README.md.
func TestSynthTensorTypes(t *testing.T) {
	dir := testmodels.Dir(t)
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for line := range strings.SplitSeq(string(readme), "\n") {
		m := synthRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		rows++
		f, err := Open(filepath.Join(dir, m[1]))
		if err != nil {
			t.Error(err)
			continue
		}
		if size, _ := strconv.ParseInt(m[2], 10, 64); f.Size() != size {
			t.Errorf("%s: size %d, README says %d", m[1], f.Size(), size)
		}
		counts := map[string]int{}
		for i := range f.Tensors {
			counts[f.Tensors[i].Type.String()]++
		}
		var parts []string
		for typ, n := range counts {
			parts = append(parts, fmt.Sprintf("%s x%d", typ, n))
		}
		sort.Strings(parts)
		want := strings.Split(strings.TrimSpace(m[3]), ", ")
		sort.Strings(want)
		if strings.Join(parts, ", ") != strings.Join(want, ", ") {
			t.Errorf("%s: tensor types %v, README says %v", m[1], parts, want)
		}
		f.Close()
	}
	if rows != 32 {
		t.Errorf("found %d synthetic models in the README table, want 32", rows)
	}
}
