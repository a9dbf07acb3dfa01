//go:build amd64 && !purego

package tensor

import "unsafe"

// half (the pairs a head rotates) must be a positive multiple of 8 for
// the NeoX layout and of 4 for the interleaved one (rope_amd64.s).
//
//go:noescape
func ropeNeoxAVX2(x *float32, heads, headDim int, cos, sin *float32, half int)

//go:noescape
func ropePairsAVX2(x *float32, heads, headDim int, cos, sin *float32, half int)

func rope(x []float32, heads, headDim int, cos, sin []float32, neox bool) {
	half := len(cos)
	switch {
	case vecExpAVX2 && neox && half%8 == 0:
		ropeNeoxAVX2(unsafe.SliceData(x), heads, headDim, unsafe.SliceData(cos), unsafe.SliceData(sin), half)
	case vecExpAVX2 && !neox && half%4 == 0:
		ropePairsAVX2(unsafe.SliceData(x), heads, headDim, unsafe.SliceData(cos), unsafe.SliceData(sin), half)
	default:
		ropeGo(x, heads, headDim, cos, sin, neox)
	}
}
