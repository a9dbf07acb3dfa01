package sample

// Params are the sampling parameters of one sequence, with OpenAI semantics
// (and the common extensions top_k, min_p and repetition_penalty).
type Params struct {
	Temperature       float64 // 0: greedy
	TopK              int     // 0: off
	TopP              float64 // 1 (or 0): off
	MinP              float64 // 0: off
	PresencePenalty   float64
	FrequencyPenalty  float64
	RepetitionPenalty float64 // 1 (or 0): off
	LogitBias         map[int]float32
	Seed              uint64
}
