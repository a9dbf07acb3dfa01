package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestRMSNorm checks RMSNorm against the definition in float64: the sum of
// squares within n*2^-53 relative of the sequential float64 sum (the bound
// of either summation's rounding: only the order of the additions
// differs), and every output bit for bit the scalar
// (x*scale)*w, for lengths with and without a tail past a multiple of 8 and
// with dst aliasing x.
func TestRMSNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const eps = 1e-6
	for _, n := range []int{1, 7, 8, 9, 64, 128, 131, 576, 1024, 4099} {
		x := make([]float32, n)
		w := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 3)
			w[i] = float32(1 + 0.1*rng.NormFloat64())
		}
		var ref float64
		for _, v := range x {
			ref += float64(v) * float64(v)
		}
		if got := sumSquares(x); math.Abs(got-ref) > float64(n)*0x1p-53*ref {
			t.Errorf("n=%d: sum of squares %v, want %v", n, got, ref)
		}
		scale := float32(1 / math.Sqrt(sumSquares(x)/float64(n)+eps))
		dst := make([]float32, n)
		RMSNorm(dst, x, w, eps)
		for i := range x {
			if want := x[i] * scale * w[i]; dst[i] != want {
				t.Fatalf("n=%d: dst[%d] = %v, want %v", n, i, dst[i], want)
			}
			// And against the definition, to float32 precision.
			def := float64(x[i]) / math.Sqrt(ref/float64(n)+eps) * float64(w[i])
			if math.Abs(float64(dst[i])-def) > 4e-7*math.Abs(def)+1e-30 {
				t.Fatalf("n=%d: dst[%d] = %v, definition %v", n, i, dst[i], def)
			}
		}
		RMSNorm(x, x, w, eps)
		for i := range x {
			if x[i] != dst[i] {
				t.Fatalf("n=%d: aliased dst[%d] = %v, want %v", n, i, x[i], dst[i])
			}
		}
	}
}

// TestAdd checks Add bit for bit against the scalar sums, for lengths with
// and without a tail past a multiple of 8 and 16, and that it writes
// nothing past len(x).
func TestAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 7, 8, 9, 16, 23, 24, 576, 1027} {
		x := make([]float32, n)
		dst := make([]float32, n+3)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		for i := range dst {
			dst[i] = float32(rng.NormFloat64())
		}
		want := append([]float32(nil), dst...)
		for i, v := range x {
			want[i] += v
		}
		Add(dst, x)
		for i := range dst {
			if dst[i] != want[i] {
				t.Fatalf("n=%d: dst[%d] = %v, want %v", n, i, dst[i], want[i])
			}
		}
	}
}

// TestScale holds Scale to the Go product, bit for bit, over lengths with
// and without a vector tail, in place and into another slice, leaving
// dst's elements past x alone.
func TestScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{0, 1, 7, 8, 9, 16, 23, 24, 128, 1027} {
		for _, inPlace := range []bool{false, true} {
			x := make([]float32, n)
			dst := make([]float32, n+3)
			for i := range dst {
				dst[i] = float32(rng.NormFloat64())
			}
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 100)
			}
			if inPlace {
				x = dst[:n]
			}
			s := float32(rng.Float64())
			want := append([]float32(nil), dst...)
			for i, v := range x {
				want[i] = v * s
			}
			Scale(dst, x, s)
			for i := range dst {
				if dst[i] != want[i] {
					t.Fatalf("n=%d in place %v: dst[%d] = %v, want %v", n, inPlace, i, dst[i], want[i])
				}
			}
		}
	}
}

func BenchmarkRMSNorm(b *testing.B) {
	for _, n := range []int{128, 1024} {
		x := make([]float32, n)
		w := make([]float32, n)
		for i := range x {
			x[i], w[i] = float32(i%7)-3, 1
		}
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.SetBytes(int64(4 * n))
			for b.Loop() {
				RMSNorm(x, x, w, 1e-6)
			}
		})
	}
}
