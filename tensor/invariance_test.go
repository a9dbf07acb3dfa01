package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-llm/kiln/parallel"
)

// TestBatchInvariance checks that an input's products do not depend on the
// batch around it: MatMul of n inputs gives each input, bit for bit, what
// MatMul of that input alone gives. The engine relies on it for seeded
// requests, whose output must not change with the other sequences that
// share their steps (a one-ulp difference in one activation can flip a
// rounding in the KV cache or a sampled token later). It holds for the
// float types and for matrices in the packed layouts, whose kernels give
// each (row, input) one accumulator chain over the blocks whatever the
// kernel's width.
func TestBatchInvariance(t *testing.T) {
	tests := []struct {
		typ  Type
		pack bool
		cols int
	}{
		{F32, false, 512},
		{F32, false, 100},
		{F16, false, 512},
		{F16, false, 100},
		{BF16, false, 512},
		{BF16, false, 100},
		{Q4_0, true, 512},
		{Q4_1, true, 512},
		{Q5_0, true, 512},
		{Q5_1, true, 512},
		{Q8_0, true, 512},
		{Q4_K, true, 512},
		{Q5_K, true, 512},
		{Q6_K, true, 512},
	}
	const rows, maxN = 37, 17
	rng := rand.New(rand.NewPCG(3, 4))
	p := parallel.New(2)
	defer p.Close()
	for _, ks := range hostKernels() {
		for _, tt := range tests {
			m, err := NewMatrix(tt.typ, rows, tt.cols, randomRow(rng, tt.typ, rows*tt.cols))
			if err != nil {
				t.Fatal(err)
			}
			if tt.pack {
				if m, _ = Repack(m); !m.Packed() {
					t.Fatalf("%s: not packed", tt.typ)
				}
			}
			x := make([]float32, maxN*tt.cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			alone := make([]float32, maxN*rows)
			for i := range maxN {
				matMul(alone[i*rows:(i+1)*rows], m, x[i*tt.cols:], 1, p, ks, true)
			}
			for n := 2; n <= maxN; n++ {
				dst := make([]float32, n*rows)
				matMul(dst, m, x, n, p, ks, true)
				for i := range dst {
					if math.Float32bits(dst[i]) != math.Float32bits(alone[i]) {
						t.Errorf("%s %s %dx%d: n=%d input %d row %d: %v, alone %v",
							ks.name, tt.typ, rows, tt.cols, n, i/rows, i%rows, dst[i], alone[i])
						break
					}
				}
			}
		}
	}
}
