// Package attention holds the inner loops of scaled dot-product attention
// over a KV cache: scores of several query heads against a run of cached key
// rows, and the probability-weighted sum of value rows. Keys and values may
// be stored as float32, IEEE half (F16) or 8-bit blocks with a half scale
// (Q8_0 layout, split into a quant array and a scale array).
//
// The kernels take all query heads that share one key/value head at once
// (grouped-query attention), so each cached row is read from memory once per
// step however many query heads use it. For many heads against the same
// rows (the rows of a prompt processed together), the float32 kernels work
// on register tiles of two heads (four for the weighted sums with AVX-512),
// and the Tile variants widen F16 rows once into scratch for all heads
// instead of once per head. On amd64 with AVX2, FMA and F16C they run in
// assembly; elsewhere, or built with -tags purego, in portable Go. Both
// follow the same float32 arithmetic up to summation order.
package attention

import (
	"math"

	"github.com/kiln-llm/kiln/tensor"
)

// Impl names the kernels in use ("avx512", "avx2" or "go"), for logs and
// benchmarks.
func Impl() string { return active.name }

// ScoresF32 sets out[h*stride+j] to the dot product of query head h
// (q[h*d:(h+1)*d]) with key row j (k[j*d:(j+1)*d]) for h < nh and j < n.
// Slices shorter than these shapes imply are a caller bug and panic, as
// out-of-range indexing would.
func ScoresF32(out []float32, stride int, q []float32, nh int, k []float32, n, d int) {
	if nh <= 0 || n <= 0 || d <= 0 {
		return
	}
	checkOut(out, stride, nh, n)
	active.scoresF32(out, stride, q[:nh*d], nh, k[:n*d], n, d)
}

// ScoresF16 is ScoresF32 with F16 key rows. tmp is scratch of at least d
// floats (the portable path widens one key row at a time into it).
func ScoresF16(out []float32, stride int, q []float32, nh int, k []uint16, n, d int, tmp []float32) {
	if nh <= 0 || n <= 0 || d <= 0 {
		return
	}
	checkOut(out, stride, nh, n)
	active.scoresF16(out, stride, q[:nh*d], nh, k[:n*d], n, d, tmp[:d])
}

// ScoresQ8 is ScoresF32 with 8-bit key rows: k holds n*d quants, ks one
// half scale per qb consecutive quants (qb divides d). tmp is scratch of at
// least n*d floats: the rows are widened there once and then read by every
// head.
func ScoresQ8(out []float32, stride int, q []float32, nh int, k []int8, ks []uint16, qb, n, d int, tmp []float32) {
	if nh <= 0 || n <= 0 || d <= 0 {
		return
	}
	checkOut(out, stride, nh, n)
	tmp = tmp[:n*d]
	active.dequantQ8(tmp, k[:n*d], ks[:n*d/qb], qb)
	active.scoresF32(out, stride, q[:nh*d], nh, tmp, n, d)
}

// ScoresTileF16 is ScoresF16 for many query heads, such as the heads of
// several consecutive prompt rows sharing one key/value head: the key rows
// are widened to float32 once into tmp (at least n*d floats) and then read
// by every head from there through the register-tiled float32 kernel, where
// ScoresF16 widens every key row again for every head. For one head
// ScoresF16 is the cheaper call.
func ScoresTileF16(out []float32, stride int, q []float32, nh int, k []uint16, n, d int, tmp []float32) {
	if nh <= 0 || n <= 0 || d <= 0 {
		return
	}
	checkOut(out, stride, nh, n)
	tmp = tmp[:n*d]
	active.widenF16(tmp, k[:n*d])
	active.scoresF32(out, stride, q[:nh*d], nh, tmp, n, d)
}

// AccumF32 adds w[h*stride+j] * v[j*d:(j+1)*d] to out[h*d:(h+1)*d] for every
// head h < nh and value row j < n.
func AccumF32(out []float32, w []float32, stride, nh int, v []float32, n, d int) {
	if nh <= 0 || n <= 0 || d <= 0 {
		return
	}
	checkOut(w, stride, nh, n)
	active.accumF32(out[:nh*d], w, stride, nh, v[:n*d], n, d)
}

// AccumF16 is AccumF32 with F16 value rows; tmp is scratch of at least d
// floats.
func AccumF16(out []float32, w []float32, stride, nh int, v []uint16, n, d int, tmp []float32) {
	if nh <= 0 || n <= 0 || d <= 0 {
		return
	}
	checkOut(w, stride, nh, n)
	active.accumF16(out[:nh*d], w, stride, nh, v[:n*d], n, d, tmp[:d])
}

// AccumQ8 is AccumF32 with 8-bit value rows laid out as in ScoresQ8; tmp is
// scratch of at least n*d floats.
func AccumQ8(out []float32, w []float32, stride, nh int, v []int8, vs []uint16, qb, n, d int, tmp []float32) {
	if nh <= 0 || n <= 0 || d <= 0 {
		return
	}
	checkOut(w, stride, nh, n)
	tmp = tmp[:n*d]
	active.dequantQ8(tmp, v[:n*d], vs[:n*d/qb], qb)
	active.accumF32(out[:nh*d], w, stride, nh, tmp, n, d)
}

// AccumTileF16 is AccumF16 for many heads (see ScoresTileF16): the value
// rows are widened once into tmp (at least n*d floats).
func AccumTileF16(out []float32, w []float32, stride, nh int, v []uint16, n, d int, tmp []float32) {
	if nh <= 0 || n <= 0 || d <= 0 {
		return
	}
	checkOut(w, stride, nh, n)
	tmp = tmp[:n*d]
	active.widenF16(tmp, v[:n*d])
	active.accumF32(out[:nh*d], w, stride, nh, tmp, n, d)
}

// WidenF16 decodes the half-precision values h into x (exactly: every F16
// value is a float32 value).
func WidenF16(x []float32, h []uint16) {
	active.widenF16(x[:len(h)], h)
}

// checkOut makes an undersized strided buffer fail in Go, before assembly
// could write past it.
func checkOut(x []float32, stride, nh, n int) {
	_ = x[(nh-1)*stride+n-1]
}

// Q8Block is the number of quants sharing one scale in a row of d values:
// 32 as in GGUF's Q8_0 when d is a multiple of 32, else the whole row (small
// head sizes such as 16), so a block never straddles two heads.
func Q8Block(d int) int {
	if d%32 == 0 {
		return 32
	}
	return d
}

// QuantizeQ8 encodes x into quants q and one half scale per qb values in s,
// the way GGUF's Q8_0 does: the scale is max|x|/127 and each quant is
// x/scale rounded half away from zero. len(x) must be a multiple of qb.
func QuantizeQ8(q []int8, s []uint16, x []float32, qb int) {
	for b := 0; b < len(x)/qb; b++ {
		blk := x[b*qb : (b+1)*qb]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		s[b] = tensor.F32ToF16(d)
		qq := q[b*qb : (b+1)*qb]
		for i, v := range blk {
			qq[i] = int8(math.Round(float64(v * id)))
		}
	}
}

// DequantizeQ8 decodes quants q with scales s (one per qb quants) into x.
func DequantizeQ8(x []float32, q []int8, s []uint16, qb int) {
	active.dequantQ8(x[:len(q)], q, s[:len(q)/qb], qb)
}

// ToF16 narrows x into h (round to nearest even, as F16C does).
func ToF16(h []uint16, x []float32) {
	active.toF16(h[:len(x)], x)
}

func toF16Go(h []uint16, x []float32) {
	for i, v := range x {
		h[i] = tensor.F32ToF16(v)
	}
}

// kernels is one implementation of the inner loops; slices are already cut
// to their exact shapes.
type kernels struct {
	name      string
	scoresF32 func(out []float32, stride int, q []float32, nh int, k []float32, n, d int)
	scoresF16 func(out []float32, stride int, q []float32, nh int, k []uint16, n, d int, tmp []float32)
	accumF32  func(out, w []float32, stride, nh int, v []float32, n, d int)
	accumF16  func(out, w []float32, stride, nh int, v []uint16, n, d int, tmp []float32)
	dequantQ8 func(x []float32, q []int8, s []uint16, qb int)
	toF16     func(h []uint16, x []float32)
	widenF16  func(x []float32, h []uint16)
}

var portable = &kernels{
	name:      "go",
	scoresF32: scoresF32Go,
	scoresF16: scoresF16Go,
	accumF32:  accumF32Go,
	accumF16:  accumF16Go,
	dequantQ8: dequantQ8Go,
	toF16:     toF16Go,
	widenF16:  widen,
}
