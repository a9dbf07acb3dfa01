package model

// qwen3: llama with per-head RMSNorm of q and k before split-half RoPE; its
// head size (attention.key_length) may differ from embedding_length/head_count,
// which the common loader already honours.
func init() {
	register("qwen3", &archSpec{act: actSiLU, ropeNeox: true, qkNorm: true})
}
