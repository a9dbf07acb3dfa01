package model

// phi3: fused attn_qkv (rows q, k, v) and fused ffn_up (rows gate, up), which
// the loader splits into separate zero-copy projections; split-half RoPE.
// llama.cpp ignores phi3's attention.sliding_window (it disabled Phi SWA),
// and so do we, to give the same results. LongRoPE files (rope_factors_long)
// are refused by the loader.
func init() {
	register("phi3", &archSpec{act: actSiLU, ropeNeox: true, fusedQKV: true, fusedGateUp: true})
}
