package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-llm/kiln/parallel"
)

// TestTiledKernels runs MatMul's tiled route (with its batch threshold
// lowered, so that small batches take it) for every type with a tiled
// kernel on this host, against refIntDots on the same quantized inputs:
// |got - ref| <= 1e-5 * sum|terms|, results bit for bit equal for 1, 2 and
// 3 workers (which split the rows differently) and within the same bound
// of the four-input kernels they replace. Shapes cover row counts that
// leave partial tiles, several blocks per row and input counts with a
// remainder beyond the groups of four.
func TestTiledKernels(t *testing.T) {
	if len(activeKernels.tiled) == 0 {
		t.Skip("no tiled kernels on this host")
	}
	low := *activeKernels
	low.tiled = map[Type]*tiledKernel{}
	for typ, k := range activeKernels.tiled {
		kk := *k
		kk.minInputs = 4
		low.tiled[typ] = &kk
	}
	untiled := *activeKernels
	untiled.tiled = nil
	for typ := range activeKernels.tiled {
		for _, sh := range []struct{ rows, blocks, n int }{{1, 1, 4}, {7, 3, 9}, {61, 2, 13}, {150, 9, 6}} {
			cols := sh.blocks * typ.BlockSize()
			rng := rand.New(rand.NewPCG(uint64(typ), uint64(sh.rows)))
			m, err := NewMatrix(typ, sh.rows, cols, randomRow(rng, typ, sh.rows*cols))
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, sh.n*cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			kind, _ := actType(typ)
			var a qacts
			a.alloc(kind, sh.n, cols)
			a.quantize(x, 0, sh.n, portableKernels)
			ref, abs := refIntDots(m, &a, sh.n)
			var first []float32
			for _, workers := range []int{1, 2, 3} {
				got := make([]float32, sh.n*sh.rows)
				p := parallel.New(workers)
				matMul(got, m, x, sh.n, p, &low, true)
				p.Close()
				if first == nil {
					first = got
					continue
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
						t.Fatalf("%s %dx%d n=%d: workers=%d differs from workers=1 at %d", typ, sh.rows, cols, sh.n, workers, i)
					}
				}
			}
			old := make([]float32, sh.n*sh.rows)
			matMul(old, m, x, sh.n, nil, &untiled, true)
			var worst float64
			for i, got := range first {
				e := math.Abs(float64(got)-ref[i]) / max(abs[i], math.SmallestNonzeroFloat64)
				worst = max(worst, e)
				if e > 1e-5 {
					t.Fatalf("%s %dx%d n=%d: dst[%d] = %v, reference %v (error %.3g of sum|terms|)", typ, sh.rows, cols, sh.n, i, got, ref[i], e)
				}
				if d := math.Abs(float64(got - old[i])); d > 1e-5*abs[i] {
					t.Fatalf("%s %dx%d n=%d: dst[%d] = %v tiled, %v untiled", typ, sh.rows, cols, sh.n, i, got, old[i])
				}
			}
			t.Logf("%s %dx%d n=%d: max error %.3g of sum|terms|", typ, sh.rows, cols, sh.n, worst)
		}
	}
}
