//go:build amd64 && !purego

package bench

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:noescape
func scanAVX2(p *byte, n int) uint64

//go:noescape
func fmaAVX2(x *[8]float32, n int)

//go:noescape
func int8AVX2(n int) int32

//go:noescape
func int8VNNI(n int) int32

// int8Accumulators is the number of independent chains in int8AVX2, each
// step 32 byte products.
const int8Accumulators = 6

// fmaAccumulators is the number of independent ymm accumulators in fmaAVX2:
// enough to hide a 4-cycle FMA latency on two FMA ports.
const fmaAccumulators = 10

// vnniAccumulators is the number of independent chains in int8VNNI, each
// step 32 byte products.
const vnniAccumulators = 10

var (
	hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasVNNI = hasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI
)

// scan sums b (len a multiple of scanAlign) as uint64 words with the vector
// kernel when the CPU has one: a scalar loop cannot saturate DRAM from one core.
func scan(b []byte) uint64 {
	if !hasAVX2 {
		return scanGeneric(b)
	}
	n := len(b) / scanAlign * scanAlign
	if n == 0 {
		return scanGeneric(b)
	}
	return scanAVX2(unsafe.SliceData(b), n) + scanGeneric(b[n:])
}

// fmaChunk runs n iterations of the widest FMA loop and returns the FLOPs done
// and a positive checksum of the result.
func fmaChunk(n int) (float64, float32) {
	if !hasAVX2 {
		return fmaGeneric(n)
	}
	x := [8]float32{1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3}
	fmaAVX2(&x, n)
	return float64(n) * fmaAccumulators * 8 * 2, x[0]
}

// int8Chunk runs n iterations of the widest 8-bit dot-product loop and
// returns the operations done and a positive checksum.
func int8Chunk(n int) (float64, float32) {
	if !hasAVX2 {
		return int8Generic(n)
	}
	return float64(n) * int8Accumulators * 32 * 2, float32(int8AVX2(n))
}

// vnniChunk is int8Chunk for AVX512-VNNI's dot products; only called
// where the CPU has them.
func vnniChunk(n int) (float64, float32) {
	return float64(n) * vnniAccumulators * 32 * 2, float32(int8VNNI(n))
}

func hasWideFMA() bool { return hasAVX2 }
