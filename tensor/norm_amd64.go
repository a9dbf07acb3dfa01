//go:build amd64 && !purego

package tensor

import "unsafe"

// n must be a positive multiple of 8 (norm_amd64.s).
//
//go:noescape
func sumSquaresAVX2(x *float32, n int) float64

//go:noescape
func scaleMulAVX2(dst, x, w *float32, n int, scale float32)

//go:noescape
func addAVX2(dst, x *float32, n int)

//go:noescape
func scaleAVX2(dst, x *float32, n int, s float32)

func scale(dst, x []float32, s float32) {
	n8 := len(x) &^ 7
	if vecExpAVX2 && n8 > 0 {
		scaleAVX2(unsafe.SliceData(dst), unsafe.SliceData(x), n8, s)
	}
	scaleGo(dst[n8:], x[n8:], s)
}

func add(dst, x []float32) {
	n8 := len(x) &^ 7
	if vecExpAVX2 && n8 > 0 {
		addAVX2(unsafe.SliceData(dst), unsafe.SliceData(x), n8)
	}
	addGo(dst[n8:], x[n8:])
}

func sumSquares(x []float32) float64 {
	n8 := len(x) &^ 7
	if !vecExpAVX2 || n8 == 0 {
		return sumSquaresGo(x)
	}
	return sumSquaresAVX2(unsafe.SliceData(x), n8) + sumSquaresGo(x[n8:])
}

func scaleMul(dst, x, w []float32, scale float32) {
	n8 := len(x) &^ 7
	if vecExpAVX2 && n8 > 0 {
		scaleMulAVX2(unsafe.SliceData(dst), unsafe.SliceData(x), unsafe.SliceData(w), n8, scale)
	}
	scaleMulGo(dst[n8:], x[n8:], w[n8:], scale)
}
