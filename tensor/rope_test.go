package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestRope holds Rope to the rotation written out element by element, bit
// for bit, in both layouts, with rotated widths that take the vector
// kernels (multiples of 4 or 8 pairs) and the portable fallback, partial
// rotation (the rest of each head untouched), and infinities and NaNs among
// the values.
func TestRope(t *testing.T) {
	cases := []struct{ heads, headDim, half int }{
		{1, 16, 8}, {3, 64, 32}, {2, 128, 64}, {4, 64, 16}, {2, 80, 20},
		{1, 12, 6}, {5, 8, 4}, {2, 96, 12}, {1, 2, 1},
	}
	r := rand.New(rand.NewPCG(4, 2))
	for _, c := range cases {
		for _, neox := range []bool{true, false} {
			t.Run(fmt.Sprintf("%dx%d/half%d/neox=%v", c.heads, c.headDim, c.half, neox), func(t *testing.T) {
				x := make([]float32, c.heads*c.headDim)
				for i := range x {
					x[i] = float32(r.NormFloat64() * 3)
				}
				x[len(x)/3] = float32(math.Inf(1))
				x[len(x)/2] = float32(math.NaN())
				cos, sin := make([]float32, c.half), make([]float32, c.half)
				for i := range cos {
					s, co := math.Sincos(r.Float64() * 100)
					cos[i], sin[i] = float32(co), float32(s)
				}
				want := append([]float32(nil), x...)
				for h := 0; h < c.heads; h++ {
					v := want[h*c.headDim:]
					for i := 0; i < c.half; i++ {
						j, k := 2*i, 2*i+1
						if neox {
							j, k = i, i+c.half
						}
						a, b := v[j], v[k]
						ac, bs := a*cos[i], b*sin[i]
						as, bc := a*sin[i], b*cos[i]
						v[j], v[k] = ac-bs, as+bc
					}
				}
				Rope(x, c.heads, c.headDim, cos, sin, neox)
				for i := range x {
					if math.Float32bits(x[i]) != math.Float32bits(want[i]) && !(x[i] != x[i] && want[i] != want[i]) {
						t.Fatalf("element %d (head %d, dim %d): %v, want %v", i, i/c.headDim, i%c.headDim, x[i], want[i])
					}
				}
			})
		}
	}
}

func BenchmarkRope(b *testing.B) {
	const heads, headDim = 16, 128
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, heads*headDim)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	cos, sin := make([]float32, headDim/2), make([]float32, headDim/2)
	for i := range cos {
		cos[i], sin[i] = 0.6, 0.8
	}
	for _, k := range []struct {
		name string
		f    func(x []float32, heads, headDim int, cos, sin []float32, neox bool)
	}{{"host", rope}, {"go", ropeGo}} {
		for _, neox := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/neox=%v", k.name, neox), func(b *testing.B) {
				b.SetBytes(int64(4 * len(x)))
				for range b.N {
					k.f(x, heads, headDim, cos, sin, neox)
				}
			})
		}
	}
}
