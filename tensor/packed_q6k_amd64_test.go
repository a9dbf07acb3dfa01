//go:build amd64 && !purego

package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestPackedQ6KAVX2Agree holds the AVX2 packed Q6_K kernels for one and
// four inputs to one another bit for bit (they perform the same operations
// in the same order per row and input), so that a batch's results do not
// depend on which inputs went through which kernel.
func TestPackedQ6KAVX2Agree(t *testing.T) {
	if !avx2OK() {
		t.Skip("no AVX2 on this CPU")
	}
	for _, c := range []struct{ groups, nb int }{{1, 1}, {3, 2}, {2, 5}} {
		t.Run(fmt.Sprintf("g%d/nb%d", c.groups, c.nb), func(t *testing.T) {
			const n = 8
			rows, cols := c.groups*packRows, c.nb*256
			rng := rand.New(rand.NewPCG(uint64(c.groups)+100, uint64(c.nb)))
			m, err := NewMatrix(Q6_K, rows, cols, randomRow(rng, Q6_K, rows*cols))
			if err != nil {
				t.Fatal(err)
			}
			m, _ = Repack(m)
			x := make([]float32, n*cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			var a qacts
			a.alloc(Q8_K, n, cols)
			a.quantize(x, 0, n, portableKernels)
			a.interleave(n, false)
			// Outputs rows+3 apart, to catch a kernel that ignores ostride.
			stride := rows + 3
			one, four := make([]float32, n*stride), make([]float32, n*stride)
			for i := 0; i < n; i++ {
				avx2PackedQ6K.one(one[i*stride:i*stride+rows], m.Data, c.groups, c.nb, a.view(i))
			}
			avx2PackedQ6K.four(four, stride, m.Data, c.groups, c.nb, &a, 0)
			avx2PackedQ6K.four(four[4*stride:], stride, m.Data, c.groups, c.nb, &a, 4)
			for i := 0; i < n; i++ {
				for r := 0; r < rows; r++ {
					j := i*stride + r
					if math.Float32bits(one[j]) != math.Float32bits(four[j]) {
						t.Fatalf("input %d row %d: one %v, four %v", i, r, one[j], four[j])
					}
				}
			}
		})
	}
}
