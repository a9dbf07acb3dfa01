// Package model runs the forward pass of decoder-only transformer LLMs stored
// in GGUF files (llama, qwen2, qwen3, gemma3, phi3) over a batched step with a
// per-sequence KV cache.
//
// Weights stay in their GGUF encoding and are read in place from the file's
// memory map; every weight product goes through tensor.MatMul (or
// tensor.MatMulFloat, Options.FloatMatMul) so that faster kernels can
// replace it without touching this package. Activations and all arithmetic
// outside MatMul are float32 (with float64 where a reduction is cheap); the
// KV cache is paged and F16 by default (F32, Q8_0 selectable, see Cache).
// With F32 keys and values and the float route the results track a float64
// reference on the same dequantized weights closely.
package model

import (
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/parallel"
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
	// KV is the element type of the caches NewCache makes, and of those
	// NewCacheWith makes without a type (default F16).
	KV KVType
	// FloatMatMul multiplies quantized weights by the float32 activations
	// (tensor.MatMulFloat) instead of first rounding the activations to 8
	// bits per block the way llama.cpp does (tensor.MatMul's integer
	// route, the default): slower, but it tracks an exact float64
	// computation on the dequantized weights instead of llama.cpp.
	FloatMatMul bool
}

// Model is a loaded model. It holds no per-request state, so Forward may run
// concurrently on different caches.
type Model struct {
	Config Config

	spec   *archSpec
	pool   *parallel.Pool
	kv     KVType
	matMul func(dst []float32, w tensor.Matrix, x []float32, n int, p *parallel.Pool)
	// matMuls multiplies several matrices by the same inputs (tensor.MatMuls).
	matMuls func(x []float32, n int, p *parallel.Pool, ps ...tensor.Product)
	// seg is how many positions attention sums in one run (attnSegment;
	// tests take it shorter to cut short rows), and splitBelow how many
	// attention items a worker a step must have to keep its tiles' runs
	// together (attnSplitItems; tests take 0, never split, or a large
	// number, always).
	seg, splitBelow int
	// steps recycles the activation buffers of Forward calls: a long
	// prompt's take tens of megabytes, which as garbage every step would
	// double the heap the collector lets grow.
	steps sync.Pool

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
// for as long as the model is used. When f's bytes are writable (the
// process's own copy, gguf.HugePages) the projections are rewritten in
// place into the layouts of the fastest kernels (tensor.Repack) and f is
// sealed; such a file then serves this one model, and loading it again is
// refused.
func Load(f *gguf.File, opt Options) (*Model, error) {
	if f == nil {
		return nil, fmt.Errorf("model: load: nil file")
	}
	if f.Sealed() {
		return nil, fmt.Errorf("model: load %s: the file's weights were rewritten for the model loaded from it first; open it again", f.Path)
	}
	if opt.Workers < 0 {
		return nil, fmt.Errorf("model: load %s: Workers %d is negative", f.Path, opt.Workers)
	}
	if opt.KV > KVQ8_0 {
		return nil, fmt.Errorf("model: load %s: unknown KV type %d", f.Path, opt.KV)
	}
	arch, err := f.RequireString("general.architecture")
	if err != nil {
		return nil, fmt.Errorf("model: load: %w", err)
	}
	spec, ok := registry[arch]
	if !ok {
		return nil, fmt.Errorf("model: load: %w", f.Errorf("unsupported architecture %q (supported: %v)", arch, Architectures()))
	}
	m := &Model{spec: spec, pool: parallel.New(opt.Workers), kv: opt.KV, matMul: tensor.MatMul, matMuls: tensor.MatMuls,
		seg: attnSegment, splitBelow: attnSplitItems}
	if opt.FloatMatMul {
		m.matMul = tensor.MatMulFloat
		m.matMuls = func(x []float32, n int, p *parallel.Pool, ps ...tensor.Product) {
			for _, pr := range ps {
				tensor.MatMulFloat(pr.Dst, pr.W, x, n, p)
			}
		}
	}
	if err := m.readConfig(f, arch); err != nil {
		return nil, fmt.Errorf("model: load: %w", err)
	}
	if err := m.loadTensors(f); err != nil {
		return nil, fmt.Errorf("model: load: %w", err)
	}
	if f.Writable() {
		if !opt.FloatMatMul {
			m.repack()
		}
		if err := f.Seal(); err != nil {
			return nil, fmt.Errorf("model: load: %w", err)
		}
	}
	return m, nil
}

// Workers are the threads Forward computes on. Between Forward calls they
// are free: the engine samples a step's sequences on them.
func (m *Model) Workers() *parallel.Pool { return m.pool }

// repack rewrites the weights MatMul reads into packed layouts where their
// type has one. The token embedding is packed only when the output
// projection is tied to it (it is then the largest matrix of most small
// models); its rows are looked up through Matrix.DequantizeRow either way.
// The matrices are shared out over the workers, the output projection
// first: it is the largest, and taken last it would leave the others idle.
// (Llama-3.2-1B Q8_0: the repack's 0.5 s on one core was half the load.)
func (m *Model) repack() {
	ws := []*tensor.Matrix{&m.output}
	for i := range m.layers {
		ly := &m.layers[i]
		ws = append(ws, &ly.wq, &ly.wk, &ly.wv, &ly.wo, &ly.wGate, &ly.wUp, &ly.wDown)
	}
	m.pool.For(len(ws), 1, func(_, lo, hi int) {
		for _, w := range ws[lo:hi] {
			*w, _ = tensor.Repack(*w)
		}
	})
	if m.Config.TiedOutput {
		m.tokEmbd = m.output
	}
}

// Caps on hyper-parameters read from a file. They are far above any real
// model and exist so that hostile or corrupt metadata fails at load with an
// error naming the key, instead of overflowing a size computation or asking
// for an allocation that crashes the process. Factor caps keep every product
// of two of them far inside int64.
const (
	maxLayers  = 4096
	maxDim     = 1 << 20 // embedding, feed-forward, head counts, q/k/v widths
	maxHeadDim = 1 << 16
	maxVocab   = 1 << 22
	maxCtx     = 1 << 24 // context_length (only reported, never allocated)
)

// readConfig reads the hyper-parameters every architecture shares, then lets
// the architecture adjust them, then checks they are consistent.
func (m *Model) readConfig(f *gguf.File, arch string) error {
	p := arch + "."
	c := Config{Arch: arch, RopeNeox: m.spec.ropeNeox}
	var err error
	// geti reads key (required when def < 0) and checks it is in [1, hi].
	geti := func(key string, def, hi int64) int {
		if err != nil {
			return 0
		}
		var v int64
		if def < 0 {
			v, err = f.RequireInt(p + key)
		} else {
			v, err = f.IntOr(p+key, def)
		}
		if err == nil {
			err = checkRange(f, p+key, v, hi)
		}
		return int(v)
	}
	c.Layers = geti("block_count", -1, maxLayers)
	if err != nil {
		return err
	}
	// Everything sized by the layer count is allocated after this check,
	// so a block_count the tensors do not back cannot cost memory.
	if err := checkBlocks(f, p+"block_count", c.Layers); err != nil {
		return err
	}
	c.Embd = geti("embedding_length", -1, maxDim)
	c.FF = geti("feed_forward_length", -1, maxDim)
	c.CtxTrain = geti("context_length", -1, maxCtx)
	if err != nil {
		return err
	}
	heads, err := headCount(f, p+"attention.head_count", c.Layers, -1)
	if err != nil {
		return err
	}
	c.Heads = int(heads)
	kv, err := headCount(f, p+"attention.head_count_kv", c.Layers, heads)
	if err != nil {
		return err
	}
	c.HeadsKV = int(kv)
	// With more heads than embedding dimensions the default head size is 0,
	// which the range check reports under the key that was missing.
	c.HeadDim = geti("attention.key_length", int64(c.Embd/c.Heads), maxHeadDim)
	c.HeadDimV = geti("attention.value_length", int64(c.Embd/c.Heads), maxHeadDim)
	if err != nil {
		return err
	}
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
	// Every width derived from head counts and sizes (q, k, v, attention
	// output) is one of these products of capped factors, so none wraps;
	// bounding them means no size in load, cache or forward can overflow and
	// the tensor shape checks compare against true values.
	nq, nk := int64(c.Heads)*int64(c.HeadDim), int64(c.HeadsKV)*int64(c.HeadDim)
	nv, no := int64(c.HeadsKV)*int64(c.HeadDimV), int64(c.Heads)*int64(c.HeadDimV)
	switch {
	case c.HeadsKV <= 0 || c.Heads%c.HeadsKV != 0:
		return f.Errorf("key %q: %d key/value heads do not divide %d heads", p+"attention.head_count_kv", c.HeadsKV, c.Heads)
	case nq > maxDim || nk > maxDim || nv > maxDim || no > maxDim:
		return f.Errorf("attention widths out of range: %d heads x key_length %d = %d, %d key/value heads x value_length %d = %d (max %d)",
			c.Heads, c.HeadDim, nq, c.HeadsKV, c.HeadDimV, nv, maxDim)
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

// checkRange reports a value of key outside [1, hi].
func checkRange(f *gguf.File, key string, v, hi int64) error {
	if v <= 0 || v > hi {
		return f.Errorf("key %q: %d is out of range [1, %d]", key, v, hi)
	}
	return nil
}

// checkBlocks verifies that the file has tensors of the last of layers
// blocks. A too-large block count is then caught before anything is sized by
// it; a missing tensor of an earlier block is still reported by name at load.
func checkBlocks(f *gguf.File, key string, layers int) error {
	prefix := fmt.Sprintf("blk.%d.", layers-1)
	for i := range f.Tensors {
		if strings.HasPrefix(f.Tensors[i].Name, prefix) {
			return nil
		}
	}
	return f.Errorf("key %q: %d blocks, but the file has no %s* tensors", key, layers, prefix)
}

// headCount reads a head-count key. llama.cpp also accepts a per-layer array
// there; an array is taken when all layers agree, since the layer code has a
// single head layout. A required key has def < 0.
func headCount(f *gguf.File, key string, layers int, def int64) (int64, error) {
	v, ok := f.Get(key)
	if !ok {
		if def < 0 {
			return f.RequireInt(key) // the standard missing-key error
		}
		return def, nil
	}
	var n int64
	if v.Type == gguf.TypeArray {
		vals, isInts := v.Ints()
		if !isInts || len(vals) != layers {
			return 0, f.Errorf("key %q: want an integer or %d per-layer integers, have %s", key, layers, v)
		}
		for _, x := range vals {
			if x != vals[0] {
				return 0, f.Errorf("key %q: per-layer head counts are not supported (%s)", key, v)
			}
		}
		n = vals[0]
	} else {
		var isInt bool
		if n, isInt = v.Int(); !isInt {
			return 0, f.Errorf("key %q: want an integer, have %s", key, v)
		}
	}
	if err := checkRange(f, key, n, maxDim); err != nil {
		return 0, err
	}
	return n, nil
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
