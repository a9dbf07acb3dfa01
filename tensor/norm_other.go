//go:build !amd64 || purego

package tensor

func sumSquares(x []float32) float64 { return sumSquaresGo(x) }

func scaleMul(dst, x, w []float32, scale float32) { scaleMulGo(dst, x, w, scale) }

func add(dst, x []float32) { addGo(dst, x) }

func scale(dst, x []float32, s float32) { scaleGo(dst, x, s) }
