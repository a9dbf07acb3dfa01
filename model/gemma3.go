package model

import (
	"math"

	"github.com/kiln-llm/kiln/gguf"
)

// gemma3: embeddings scaled by sqrt(n_embd), pre- and post-norms around both
// blocks, q/k norms, GELU(tanh)-gated FFN, and interleaved sliding-window
// layers. GGUF stores the norm weights as the effective multiplier (HF's
// 1+w), so they are used as is.
func init() {
	register("gemma3", &archSpec{
		act:            actGELUTanh,
		ropeNeox:       true,
		qkNorm:         true,
		postNorms:      true,
		embedScaleSqrt: true,
		hparams:        gemma3HParams,
	})
}

// gemma3DefaultPeriod is llama.cpp's layout when the file names none: five
// sliding-window layers, then one global layer.
const gemma3DefaultPeriod = 6

// gemma3Layers27B is the block count by which llama.cpp recognises Gemma 3
// 27B, the one size whose query scaling is not 1/sqrt(head size).
const gemma3Layers27B = 62

// gemma3HParams sets the sliding-window layout and the RoPE of local layers:
// base rope.freq_base_swa (default 10000) without the linear scaling that the
// global layers use. It also sets the attention scale of the 27B model, which
// was trained with query_pre_attn_scalar = n_embd/n_head (168) rather than
// its head size (128); llama.cpp keys this on the layer count, as the file
// has no key for it, and so does this loader to match its outputs.
func gemma3HParams(f *gguf.File, c *Config) error {
	p := c.Arch + "."
	if c.Layers == gemma3Layers27B {
		// Integer division, as llama.cpp does.
		d := c.Embd / c.Heads
		if d <= 0 {
			return f.Errorf("gemma3: %d heads exceed embedding length %d", c.Heads, c.Embd)
		}
		c.AttnScale = float32(1 / math.Sqrt(float64(d)))
	}
	w, err := f.RequireInt(p + "attention.sliding_window")
	if err != nil {
		return err
	}
	if w <= 0 {
		return f.Errorf("key %q: window %d is not positive", p+"attention.sliding_window", w)
	}
	c.SlidingWindow = int(w)
	if c.RopeBaseSWA, err = f.FloatOr(p+"rope.freq_base_swa", 10000); err != nil {
		return err
	}
	c.RopeScaleSWA = 1

	key := p + "attention.sliding_window_pattern"
	v, ok := f.Get(key)
	switch {
	case !ok:
		setSWAPeriod(c.SWA, gemma3DefaultPeriod)
	case v.Len() > 0 || v.Type == gguf.TypeArray:
		flags, isBools := v.V.([]bool)
		if !isBools || len(flags) != c.Layers {
			return f.Errorf("key %q: want %d booleans, have %s", key, c.Layers, v)
		}
		copy(c.SWA, flags)
	default:
		period, isInt := v.Int()
		if !isInt || period <= 0 {
			return f.Errorf("key %q: want a positive integer period, have %s", key, v)
		}
		setSWAPeriod(c.SWA, int(period))
	}
	return nil
}

// setSWAPeriod marks every layer sliding-window except each period-th one
// (period 1: all global), as llama.cpp's set_swa_pattern does.
func setSWAPeriod(swa []bool, period int) {
	for i := range swa {
		swa[i] = (i+1)%period != 0
	}
}
