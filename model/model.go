// Package model runs the forward pass of decoder-only transformer LLMs stored
// in GGUF files (llama, qwen2, qwen3, gemma3, phi3) over a batched step with a
// per-sequence KV cache.
//
// Weights stay in their GGUF encoding and are read in place from the file's
// memory map; every weight product goes through tensor.MatMul so that faster
// kernels can replace it without touching this package. Activations, the KV
// cache and all arithmetic outside MatMul are float32 (with float64 where a
// reduction is cheap), which makes the results track a float64 reference on
// the same dequantized weights closely.
package model

import (
	"fmt"
	"math"
	"runtime"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/tensor"
)

// Config holds the hyper-parameters of a loaded model, as read from GGUF
// metadata (llama.cpp semantics) and completed by the architecture.
type Config struct {
	Arch     string
	Vocab    int // rows of token_embd
	Embd     int // residual stream width
	Layers   int
	Heads    int // query heads
	HeadsKV  int // key/value heads (grouped-query attention when < Heads)
	HeadDim  int // width of one query/key head
	HeadDimV int // width of one value head
	FF       int // feed-forward hidden width
	CtxTrain int // context length the model was trained for

	NormEps float32 // RMSNorm epsilon

	RopeDims  int     // leading dimensions of each head that are rotated
	RopeNeox  bool    // split-half rotation instead of interleaved pairs
	RopeBase  float64 // theta base of global (full-attention) layers
	RopeScale float64 // position multiplier of global layers (1/linear factor)
	// RopeBaseSWA and RopeScaleSWA apply to sliding-window layers.
	RopeBaseSWA  float64
	RopeScaleSWA float64

	// SlidingWindow is the number of positions (the query's own included)
	// a sliding-window layer attends to; SWA[l] says whether layer l is one.
	SlidingWindow int
	SWA           []bool

	AttnScale  float32 // multiplier of q.k scores
	EmbedScale float32 // multiplier of token embeddings
	TiedOutput bool    // output projection is token_embd
}

// Options tunes execution, not results.
type Options struct {
	// Workers is the number of goroutines for MatMul and attention;
	// 0 means runtime.NumCPU().
	Workers int
}

// Model is a loaded model. It holds no per-request state, so Forward may run
// concurrently on different caches.
type Model struct {
	Config Config

	spec    *archSpec
	workers int

	tokEmbd    tensor.Matrix
	outputNorm []float32
	output     tensor.Matrix
	layers     []layer
}

// layer holds one decoder block's weights. Matrices alias the GGUF mapping;
// the small vectors (norms, biases) are decoded to float32 at load.
type layer struct {
	attnNorm       []float32
	wq, wk, wv, wo tensor.Matrix
	bq, bk, bv, bo []float32 // nil when absent
	qNorm, kNorm   []float32 // nil unless spec.qkNorm
	postAttnNorm   []float32 // nil unless spec.postNorms
	ffnNorm        []float32
	wGate, wUp     tensor.Matrix
	wDown          tensor.Matrix
	postFFNNorm    []float32

	swa  bool
	rope []float64 // per rotated pair: angle per position step
}

// Load builds a Model over f. The weights are not copied: f must stay open
// for as long as the model is used.
func Load(f *gguf.File, opt Options) (*Model, error) {
	if f == nil {
		return nil, fmt.Errorf("model: load: nil file")
	}
	if opt.Workers < 0 {
		return nil, fmt.Errorf("model: load %s: Workers %d is negative", f.Path, opt.Workers)
	}
	workers := opt.Workers
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	arch, err := f.RequireString("general.architecture")
	if err != nil {
		return nil, fmt.Errorf("model: load: %w", err)
	}
	spec, ok := registry[arch]
	if !ok {
		return nil, fmt.Errorf("model: load: %w", f.Errorf("unsupported architecture %q (supported: %v)", arch, Architectures()))
	}
	m := &Model{spec: spec, workers: workers}
	if err := m.readConfig(f, arch); err != nil {
		return nil, fmt.Errorf("model: load: %w", err)
	}
	if err := m.loadTensors(f); err != nil {
		return nil, fmt.Errorf("model: load: %w", err)
	}
	return m, nil
}

// readConfig reads the hyper-parameters every architecture shares, then lets
// the architecture adjust them, then checks they are consistent.
func (m *Model) readConfig(f *gguf.File, arch string) error {
	p := arch + "."
	c := Config{Arch: arch, RopeNeox: m.spec.ropeNeox}
	var err error
	geti := func(key string) int {
		if err != nil {
			return 0
		}
		var v int64
		v, err = f.RequireInt(p + key)
		return int(v)
	}
	c.Embd = geti("embedding_length")
	c.Layers = geti("block_count")
	c.FF = geti("feed_forward_length")
	c.Heads = geti("attention.head_count")
	c.CtxTrain = geti("context_length")
	if err != nil {
		return err
	}
	if c.Embd <= 0 || c.Layers <= 0 || c.FF <= 0 || c.Heads <= 0 || c.CtxTrain <= 0 {
		return f.Errorf("non-positive hyper-parameter: embedding_length %d, block_count %d, feed_forward_length %d, head_count %d, context_length %d",
			c.Embd, c.Layers, c.FF, c.Heads, c.CtxTrain)
	}
	kv, err := f.IntOr(p+"attention.head_count_kv", int64(c.Heads))
	if err != nil {
		return err
	}
	c.HeadsKV = int(kv)
	hd, err := f.IntOr(p+"attention.key_length", int64(c.Embd/c.Heads))
	if err != nil {
		return err
	}
	c.HeadDim = int(hd)
	hdv, err := f.IntOr(p+"attention.value_length", int64(c.Embd/c.Heads))
	if err != nil {
		return err
	}
	c.HeadDimV = int(hdv)
	eps, err := f.RequireFloat(p + "attention.layer_norm_rms_epsilon")
	if err != nil {
		return err
	}
	c.NormEps = float32(eps)
	rd, err := f.IntOr(p+"rope.dimension_count", int64(c.HeadDim))
	if err != nil {
		return err
	}
	c.RopeDims = int(rd)
	if c.RopeBase, err = f.FloatOr(p+"rope.freq_base", 10000); err != nil {
		return err
	}
	if c.RopeScale, err = ropeScale(f, p); err != nil {
		return err
	}
	c.RopeBaseSWA, c.RopeScaleSWA = c.RopeBase, c.RopeScale
	c.SWA = make([]bool, c.Layers)
	c.AttnScale = float32(1 / math.Sqrt(float64(c.HeadDim)))
	c.EmbedScale = 1
	if m.spec.embedScaleSqrt {
		c.EmbedScale = float32(math.Sqrt(float64(c.Embd)))
	}
	if m.spec.hparams != nil {
		if err := m.spec.hparams(f, &c); err != nil {
			return err
		}
	}
	switch {
	case c.HeadsKV <= 0 || c.Heads%c.HeadsKV != 0:
		return f.Errorf("key %q: %d key/value heads do not divide %d heads", p+"attention.head_count_kv", c.HeadsKV, c.Heads)
	case c.HeadDim <= 0 || c.HeadDimV <= 0:
		return f.Errorf("non-positive head size (key_length %d, value_length %d)", c.HeadDim, c.HeadDimV)
	case c.RopeDims < 0 || c.RopeDims > c.HeadDim || c.RopeDims%2 != 0:
		return f.Errorf("key %q: %d is not an even number <= head size %d", p+"rope.dimension_count", c.RopeDims, c.HeadDim)
	case !(c.RopeBase > 0) || !(c.RopeBaseSWA > 0) || !(c.RopeScale > 0) || !(c.RopeScaleSWA > 0):
		return f.Errorf("invalid rope parameters: base %g (sliding-window layers %g), scale %g (%g)", c.RopeBase, c.RopeBaseSWA, c.RopeScale, c.RopeScaleSWA)
	case len(c.SWA) != c.Layers:
		return f.Errorf("sliding-window layout has %d layers, want %d", len(c.SWA), c.Layers)
	case !(c.NormEps >= 0):
		return f.Errorf("key %q: invalid epsilon %g", p+"attention.layer_norm_rms_epsilon", c.NormEps)
	}
	for _, s := range c.SWA {
		if s && c.SlidingWindow <= 0 {
			return f.Errorf("sliding-window layers without a positive %q", p+"attention.sliding_window")
		}
	}
	m.Config = c
	return nil
}

// ropeScale returns the position multiplier of linear RoPE scaling. Only the
// linear kind is implemented; YaRN and LongRoPE change more than the
// multiplier, so such files are refused instead of silently diverging.
func ropeScale(f *gguf.File, p string) (float64, error) {
	typ, err := f.StringOr(p+"rope.scaling.type", "")
	if err != nil {
		return 0, err
	}
	factor, err := f.FloatOr(p+"rope.scaling.factor", 0)
	if err != nil {
		return 0, err
	}
	if factor == 0 {
		// Older converters wrote the linear factor under this key.
		if factor, err = f.FloatOr(p+"rope.scale_linear", 0); err != nil {
			return 0, err
		}
	}
	switch typ {
	case "none":
		return 1, nil
	case "", "linear":
		if factor == 0 || factor == 1 {
			return 1, nil
		}
		if !(factor > 0) {
			return 0, f.Errorf("key %q: invalid factor %g", p+"rope.scaling.factor", factor)
		}
		return 1 / factor, nil
	default:
		return 0, f.Errorf("key %q: rope scaling %q is not supported", p+"rope.scaling.type", typ)
	}
}
