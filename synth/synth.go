// Package synth writes deterministic random-weight GGUF models of real
// architectures and shapes. Tests use them as fixtures that exist on any
// machine, benchmarks as real-sized models, and the CLI's built-in demo model is
// one of them. The weights are random: the text such a model writes is
// meaningless.
package synth

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/tensor"
)

// Spec is the shape of a synthetic model.
type Spec struct {
	Arch     string // llama, qwen2, qwen3, gemma3, phi3
	Name     string
	Embd     int
	Layers   int
	Heads    int
	HeadsKV  int
	HeadDim  int // 0: Embd/Heads
	FF       int
	Vocab    int // 0 with no VocabFrom: the built-in synthetic vocabulary's size
	Ctx      int
	RopeBase float64
	RMSEps   float64
	Tied     bool // no output.weight: the output projection reuses token_embd
	// Llama3RopeFactor > 0 adds a rope_freqs.weight tensor computed with the
	// Llama 3.1 formula (low/high frequency factors 1 and 4, original context 8192).
	Llama3RopeFactor float64
	SlidingWindow    int // gemma3 only
	// WordsOnly zeroes the output rows of the built-in vocabulary's control
	// and byte-fallback tokens, so a random model writes whole (meaningless)
	// words instead of stray bytes. Only with the built-in vocabulary and an
	// untied output.
	WordsOnly bool
	Type      tensor.Type // type of the 2-D weights; norms and biases stay F32
	Seed      uint64
	// VocabFrom, when set, supplies the tokenizer: every tokenizer.* key is
	// copied from it, and Vocab becomes its token count.
	VocabFrom *gguf.File
}

// Presets are named shapes. The real ones match the published configurations
// of those models (weights random); "bench-110m" and "bench-400m" are the
// shapes of the peer measurements in shared/reference/peer-speed.md.
var presets = map[string]Spec{
	"tiny":         {Arch: "llama", Embd: 64, Layers: 2, Heads: 4, HeadsKV: 2, FF: 160, Ctx: 2048, RopeBase: 10000, RMSEps: 1e-5},
	"smollm2-135m": {Arch: "llama", Embd: 576, Layers: 30, Heads: 9, HeadsKV: 3, FF: 1536, Vocab: 49152, Ctx: 8192, RopeBase: 100000, RMSEps: 1e-5, Tied: true},
	"llama-3.2-1b": {Arch: "llama", Embd: 2048, Layers: 16, Heads: 32, HeadsKV: 8, FF: 8192, Vocab: 128256, Ctx: 131072, RopeBase: 500000, RMSEps: 1e-5, Tied: true, Llama3RopeFactor: 32},
	"qwen3-0.6b":   {Arch: "qwen3", Embd: 1024, Layers: 28, Heads: 16, HeadsKV: 8, HeadDim: 128, FF: 3072, Vocab: 151936, Ctx: 40960, RopeBase: 1e6, RMSEps: 1e-6, Tied: true},
	"qwen2.5-0.5b": {Arch: "qwen2", Embd: 896, Layers: 24, Heads: 14, HeadsKV: 2, FF: 4864, Vocab: 151936, Ctx: 32768, RopeBase: 1e6, RMSEps: 1e-6, Tied: true},
	"gemma3-270m":  {Arch: "gemma3", Embd: 640, Layers: 18, Heads: 4, HeadsKV: 1, HeadDim: 256, FF: 2048, Vocab: 262144, Ctx: 32768, RopeBase: 1e6, RMSEps: 1e-6, Tied: true, SlidingWindow: 512},
	"phi3-mini":    {Arch: "phi3", Embd: 3072, Layers: 32, Heads: 32, HeadsKV: 32, FF: 8192, Vocab: 32064, Ctx: 4096, RopeBase: 10000, RMSEps: 1e-5},
	"bench-110m":   {Arch: "llama", Embd: 768, Layers: 12, Heads: 12, HeadsKV: 12, FF: 2048, Vocab: 32000, Ctx: 2048, RopeBase: 10000, RMSEps: 1e-5},
	"bench-400m":   {Arch: "llama", Embd: 896, Layers: 24, Heads: 14, HeadsKV: 2, FF: 4864, Vocab: 32000, Ctx: 4096, RopeBase: 10000, RMSEps: 1e-6},
}

// Preset returns the named shape with type F32 and seed 1.
func Preset(name string) (Spec, error) {
	s, ok := presets[name]
	if !ok {
		return Spec{}, fmt.Errorf("synth: unknown preset %q (have %v)", name, PresetNames())
	}
	s.Name = name
	s.Type = tensor.F32
	s.Seed = 1
	return s, nil
}

// PresetNames lists the preset names in order.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *Spec) headDim() int {
	if s.HeadDim > 0 {
		return s.HeadDim
	}
	return s.Embd / s.Heads
}

func (s *Spec) validate() error {
	switch s.Arch {
	case "llama", "qwen2", "qwen3", "gemma3", "phi3":
	default:
		return fmt.Errorf("synth: unsupported architecture %q", s.Arch)
	}
	if s.Embd <= 0 || s.Layers <= 0 || s.Heads <= 0 || s.HeadsKV <= 0 || s.FF <= 0 || s.Ctx <= 0 {
		return fmt.Errorf("synth: embd, layers, heads, heads-kv, ff and ctx must be positive")
	}
	if s.Heads%s.HeadsKV != 0 {
		return fmt.Errorf("synth: %d heads are not a multiple of %d kv heads", s.Heads, s.HeadsKV)
	}
	if s.HeadDim == 0 && s.Embd%s.Heads != 0 {
		return fmt.Errorf("synth: embd %d is not a multiple of %d heads", s.Embd, s.Heads)
	}
	if s.headDim()%2 != 0 {
		return fmt.Errorf("synth: head dim %d must be even for RoPE", s.headDim())
	}
	if !s.Type.Known() {
		return fmt.Errorf("synth: unknown tensor type %v", s.Type)
	}
	return nil
}

// tensorSpec is one tensor to write: its generator draws N(0, std^2) (plus
// mean) element by element from a stream seeded by the tensor's name, so a
// tensor's values do not depend on which others the file holds.
type tensorSpec struct {
	name       string
	rows, cols int // cols is ne0; 1-D tensors have rows == 1
	oneD       bool
	mean, std  float64
	typ        tensor.Type
	values     []float32 // fixed values instead of random ones
	zeroRows   int       // rows [0, zeroRows) are all zero
}

// Build returns a writer holding the model described by s. Tensor data is
// produced while the writer writes, so multi-gigabyte models need no memory.
func Build(s Spec) (*gguf.Writer, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	w := gguf.NewWriter()
	name := s.Name
	if name == "" {
		name = "kiln-synth-" + s.Arch
	}
	a := s.Arch
	hd := s.headDim()
	set := func(k string, v any) {
		if err := w.Set(k, v); err != nil {
			panic(fmt.Sprintf("synth: metadata %s: %v", k, err)) // our own keys and Go types: a bug, not input
		}
	}
	set("general.architecture", a)
	set("general.name", name)
	set("general.description", "Kiln synthetic model (random weights, not trained): its text is meaningless")
	set(a+".context_length", uint32(s.Ctx))
	set(a+".embedding_length", uint32(s.Embd))
	set(a+".block_count", uint32(s.Layers))
	set(a+".feed_forward_length", uint32(s.FF))
	set(a+".attention.head_count", uint32(s.Heads))
	set(a+".attention.head_count_kv", uint32(s.HeadsKV))
	set(a+".attention.layer_norm_rms_epsilon", float32(s.RMSEps))
	set(a+".rope.freq_base", float32(s.RopeBase))
	set(a+".rope.dimension_count", uint32(hd))
	if s.HeadDim > 0 {
		set(a+".attention.key_length", uint32(hd))
		set(a+".attention.value_length", uint32(hd))
	}
	if s.Arch == "gemma3" && s.SlidingWindow > 0 {
		set(a+".attention.sliding_window", uint32(s.SlidingWindow))
	}

	vocab := s.Vocab
	if s.VocabFrom != nil {
		n, err := copyTokenizer(w, s.VocabFrom)
		if err != nil {
			return nil, err
		}
		vocab = n
	} else {
		v := builtinVocab(vocab)
		vocab = len(v.tokens)
		set("tokenizer.ggml.model", "llama")
		set("tokenizer.ggml.pre", "default")
		set("tokenizer.ggml.tokens", v.tokens)
		set("tokenizer.ggml.scores", v.scores)
		set("tokenizer.ggml.token_type", v.types)
		set("tokenizer.ggml.bos_token_id", uint32(1))
		set("tokenizer.ggml.eos_token_id", uint32(2))
		set("tokenizer.ggml.unknown_token_id", uint32(0))
		set("tokenizer.ggml.add_bos_token", true)
	}
	set(a+".vocab_size", uint32(vocab))

	var ts []tensorSpec
	mat := func(name string, in, out int, gain float64) {
		ts = append(ts, tensorSpec{name: name, rows: out, cols: in, std: gain / math.Sqrt(float64(in)), typ: s.Type})
	}
	norm := func(name string, n int) {
		ts = append(ts, tensorSpec{name: name, rows: 1, cols: n, oneD: true, mean: 1, std: 0.1, typ: tensor.F32})
	}
	bias := func(name string, n int) {
		ts = append(ts, tensorSpec{name: name, rows: 1, cols: n, oneD: true, std: 0.3, typ: tensor.F32})
	}
	ts = append(ts, tensorSpec{name: "token_embd.weight", rows: vocab, cols: s.Embd, std: 2.5 / math.Sqrt(float64(s.Embd)), typ: s.Type})
	if s.Llama3RopeFactor > 0 {
		ts = append(ts, tensorSpec{name: "rope_freqs.weight", rows: 1, cols: hd / 2, oneD: true, typ: tensor.F32,
			values: llama3RopeFactors(hd, s.RopeBase, s.Llama3RopeFactor)})
	}
	qDim, kvDim := s.Heads*hd, s.HeadsKV*hd
	for l := 0; l < s.Layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		norm(p+"attn_norm.weight", s.Embd)
		if s.Arch == "phi3" {
			mat(p+"attn_qkv.weight", s.Embd, qDim+2*kvDim, 1.5)
		} else {
			mat(p+"attn_q.weight", s.Embd, qDim, 1.5)
			mat(p+"attn_k.weight", s.Embd, kvDim, 1.5)
			mat(p+"attn_v.weight", s.Embd, kvDim, 1)
		}
		if s.Arch == "qwen2" {
			bias(p+"attn_q.bias", qDim)
			bias(p+"attn_k.bias", kvDim)
			bias(p+"attn_v.bias", kvDim)
		}
		if s.Arch == "qwen3" || s.Arch == "gemma3" {
			norm(p+"attn_q_norm.weight", hd)
			norm(p+"attn_k_norm.weight", hd)
		}
		mat(p+"attn_output.weight", qDim, s.Embd, 1)
		if s.Arch == "gemma3" {
			norm(p+"post_attention_norm.weight", s.Embd)
		}
		norm(p+"ffn_norm.weight", s.Embd)
		if s.Arch == "phi3" {
			mat(p+"ffn_up.weight", s.Embd, 2*s.FF, 1)
		} else {
			mat(p+"ffn_gate.weight", s.Embd, s.FF, 1)
			mat(p+"ffn_up.weight", s.Embd, s.FF, 1)
		}
		mat(p+"ffn_down.weight", s.FF, s.Embd, 1)
		if s.Arch == "gemma3" {
			norm(p+"post_ffw_norm.weight", s.Embd)
		}
	}
	norm("output_norm.weight", s.Embd)
	if !s.Tied {
		mat("output.weight", s.Embd, vocab, 2.5)
		if s.WordsOnly && s.VocabFrom == nil {
			ts[len(ts)-1].zeroRows = builtinFirstWord
		}
	}

	for _, t := range ts {
		t.typ = fitType(t.typ, t.cols)
		dims := []uint64{uint64(t.cols)}
		if !t.oneD {
			dims = append(dims, uint64(t.rows))
		}
		t, seed := t, s.Seed
		if err := w.AddTensorFunc(t.name, t.typ, dims, func(out io.Writer) error { return t.write(out, seed) }); err != nil {
			return nil, fmt.Errorf("synth: tensor %s: %w", t.name, err)
		}
	}
	return w, nil
}

// fitType falls back, as llama-quantize does, to a 32-element type where a
// K-quant's 256-element blocks do not divide the row (SmolLM2's 576 and
// Qwen2.5-0.5B's 896 columns): Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0, so
// that a synthesized Q4_K model of those shapes is what their Q4_K
// downloads are, mostly Q5_0. For Q2_K and Q3_K llama-quantize picks
// IQ4_NL, which Kiln does not read; Q4_0 has its size. F16 where even 32
// does not divide the row.
func fitType(t tensor.Type, cols int) tensor.Type {
	if cols%t.BlockSize() == 0 {
		return t
	}
	fallback := map[tensor.Type]tensor.Type{
		tensor.Q2_K: tensor.Q4_0,
		tensor.Q3_K: tensor.Q4_0,
		tensor.Q4_K: tensor.Q5_0,
		tensor.Q5_K: tensor.Q5_1,
		tensor.Q6_K: tensor.Q8_0,
	}
	if f, ok := fallback[t]; ok && cols%f.BlockSize() == 0 {
		return f
	}
	return tensor.F16
}

func (t tensorSpec) write(out io.Writer, seed uint64) error {
	h := fnv.New64a()
	h.Write([]byte(t.name))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	row := make([]float32, t.cols)
	rb, err := t.typ.RowBytes(t.cols)
	if err != nil {
		return err
	}
	buf := make([]byte, rb)
	for r := 0; r < t.rows; r++ {
		if r < t.zeroRows {
			clear(row)
		} else if t.values != nil {
			copy(row, t.values)
		} else {
			for i := range row {
				row[i] = float32(t.mean + t.std*rng.NormFloat64())
			}
		}
		if t.typ == tensor.F32 {
			for i, v := range row {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
		} else if err := tensor.QuantizeRow(t.typ, row, buf); err != nil {
			return err
		}
		if _, err := out.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// llama3RopeFactors computes the per-frequency divisors of Llama 3.1's RoPE
// scaling (low_freq_factor 1, high_freq_factor 4, original context 8192).
func llama3RopeFactors(headDim int, base, factor float64) []float32 {
	const lowFreqFactor, highFreqFactor, origCtx = 1.0, 4.0, 8192.0
	lowWavelen, highWavelen := origCtx/lowFreqFactor, origCtx/highFreqFactor
	out := make([]float32, headDim/2)
	for i := range out {
		freq := 1 / math.Pow(base, float64(2*i)/float64(headDim))
		wavelen := 2 * math.Pi / freq
		switch {
		case wavelen < highWavelen:
			out[i] = 1
		case wavelen > lowWavelen:
			out[i] = float32(factor)
		default:
			smooth := (origCtx/wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
			out[i] = float32(1 / ((1-smooth)/factor + smooth))
		}
	}
	return out
}

// copyTokenizer copies every tokenizer.* key of src into w and returns the
// vocabulary size.
func copyTokenizer(w *gguf.Writer, src *gguf.File) (int, error) {
	n := 0
	for _, kv := range src.KV {
		if len(kv.Key) < 10 || kv.Key[:10] != "tokenizer." {
			continue
		}
		if err := w.Set(kv.Key, kv.Value); err != nil {
			return 0, fmt.Errorf("synth: copy %s from %s: %w", kv.Key, src.Path, err)
		}
		if kv.Key == "tokenizer.ggml.tokens" {
			n = kv.Value.Len()
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("synth: %s has no tokenizer.ggml.tokens", src.Path)
	}
	return n, nil
}
