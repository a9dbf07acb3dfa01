package model

// qwen2: llama with mandatory q/k/v biases and split-half (NEOX) RoPE.
func init() {
	register("qwen2", &archSpec{act: actSiLU, ropeNeox: true, requireQKVBias: true})
}
