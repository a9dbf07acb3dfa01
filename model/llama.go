package model

// llama: the baseline decoder (pre-RMSNorm, SiLU-gated FFN, interleaved-pair
// RoPE, optional rope_freqs Llama 3 scaling and optional projection biases).
func init() {
	register("llama", &archSpec{act: actSiLU})
}
