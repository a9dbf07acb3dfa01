package model

import (
	"fmt"
	"slices"

	"github.com/kiln-llm/kiln/gguf"
)

// activation selects the gating nonlinearity of the feed-forward block.
type activation int

const (
	actSiLU activation = iota
	actGELUTanh
)

// archSpec describes how one architecture departs from the plain llama
// decoder. All architectures run through the same layer code; the spec only
// switches features on, so adding an architecture means writing one file with
// one spec (and, if needed, an hparams hook) rather than another forward pass.
type archSpec struct {
	// ropeNeox selects split-half rotation (GPT-NeoX style) instead of
	// rotating interleaved pairs.
	ropeNeox bool
	act      activation
	// qkNorm: per-head RMSNorm of q and k (attn_q_norm, attn_k_norm) before RoPE.
	qkNorm bool
	// postNorms: extra RMSNorms on the attention and FFN outputs before the
	// residual add (post_attention_norm, post_ffw_norm).
	postNorms bool
	// fusedQKV: one attn_qkv matrix whose rows are q, then k, then v.
	fusedQKV bool
	// fusedGateUp: ffn_up holds the gate rows followed by the up rows.
	fusedGateUp bool
	// requireQKVBias makes attn_q/k/v biases mandatory; other architectures
	// still pick them up when a file has them.
	requireQKVBias bool
	// embedScaleSqrt multiplies token embeddings by sqrt(n_embd).
	embedScaleSqrt bool
	// hparams, if set, adjusts the configuration after the common keys are
	// read: sliding-window layout, per-layer RoPE, attention scale. It must
	// not change the layer count, head counts or sizes, embedding or
	// feed-forward width, which were range-checked as read.
	hparams func(f *gguf.File, c *Config) error
}

// registry maps general.architecture to its spec. It is filled only by the
// init functions of the architecture files and read-only afterwards.
var registry = map[string]*archSpec{}

// register is called from init; a duplicate name is a programming error in
// this package, never a property of an input file.
func register(name string, s *archSpec) {
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("model: architecture %q registered twice", name))
	}
	registry[name] = s
}

// Architectures returns the names of the supported architectures.
func Architectures() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
