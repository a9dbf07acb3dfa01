//go:build !amd64 || purego

package tensor

func rope(x []float32, heads, headDim int, cos, sin []float32, neox bool) {
	ropeGo(x, heads, headDim, cos, sin, neox)
}
