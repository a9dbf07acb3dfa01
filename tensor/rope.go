package tensor

// Rope rotates the first 2*len(cos) dimensions of each of the heads of x
// (consecutive rows of headDim floats) by the angles whose cosines and
// sines are cos and sin: pairs (2i, 2i+1) in the interleaved layout of
// the original LLaMA code, pairs (i, i+len(cos)) in GPT-NeoX's (neox).
// Each rotated value is a*cos - b*sin or a*sin + b*cos, rounded after each
// product and the sum as written, whatever the host runs.
func Rope(x []float32, heads, headDim int, cos, sin []float32, neox bool) {
	half := len(cos)
	if heads <= 0 || half == 0 {
		return
	}
	if 2*half > headDim {
		panic("tensor.Rope: more rotated dimensions than a head has")
	}
	_ = x[heads*headDim-1]
	rope(x, heads, headDim, cos, sin[:half], neox)
}

// ropeGo's conversions keep the compiler from fusing a product into the
// sum (as it may on hosts with FMA), which would round once instead of
// twice and part from the vector kernels.
func ropeGo(x []float32, heads, headDim int, cos, sin []float32, neox bool) {
	half := len(cos)
	for h := 0; h < heads; h++ {
		v := x[h*headDim : (h+1)*headDim]
		if neox {
			for i := 0; i < half; i++ {
				a, b := v[i], v[i+half]
				v[i] = float32(a*cos[i]) - float32(b*sin[i])
				v[i+half] = float32(a*sin[i]) + float32(b*cos[i])
			}
			continue
		}
		for i := 0; i < half; i++ {
			a, b := v[2*i], v[2*i+1]
			v[2*i] = float32(a*cos[i]) - float32(b*sin[i])
			v[2*i+1] = float32(a*sin[i]) + float32(b*cos[i])
		}
	}
}
