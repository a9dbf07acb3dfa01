//go:build amd64 && !purego

package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestPackedVNNIMatchesAVX2 holds the VNNI packed kernels of every type to
// the AVX2 ones bit for bit, for one, four and three sets of eight inputs
// in one call: their int32 block sums are exact in both, and the scaling is
// the same products, so a model's outputs do not depend on which of the two
// sets a CPU picks.
// Weights are random bytes (Q8_0 quants of -128 included, which the VNNI
// kernels' offset of 128 maps to 0; Q4_K scales and minimums of all 6 bits)
// and inputs reach the quant extremes.
func TestPackedVNNIMatchesAVX2(t *testing.T) {
	if !vnniOK() {
		t.Skip("no AVX512-VNNI on this CPU")
	}
	for _, typ := range []Type{Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K} {
		for _, c := range []struct{ groups, nb int }{{1, 1}, {3, 2}, {2, 9}, {5, 64}} {
			t.Run(fmt.Sprintf("%s/g%d/nb%d", typ, c.groups, c.nb), func(t *testing.T) {
				const n = 24
				rows, cols := c.groups*packRows, c.nb*typ.BlockSize()
				rng := rand.New(rand.NewPCG(uint64(c.groups), uint64(c.nb)))
				m, err := NewMatrix(typ, rows, cols, randomRow(rng, typ, rows*cols))
				if err != nil {
					t.Fatal(err)
				}
				m, _ = Repack(m)
				x := make([]float32, n*cols)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
					if i%97 == 0 {
						x[i] = float32(math.Copysign(50, float64(x[i])))
					}
				}
				var a qacts
				kind, _ := actType(typ)
				a.alloc(kind, n, cols)
				a.quantize(x, 0, n, portableKernels)
				// The AVX2 set reads interleave's groups of four, the VNNI
				// set interleave8's records of groups of eight.
				a.interleave(n, false)
				a.interleave8(n, vnniKernels.packed[typ].offset)
				// Outputs rows+3 apart, to catch a kernel that ignores ostride.
				stride := rows + 3
				run := func(pk *packedKernels) (one, four, eight []float32) {
					one, four, eight = make([]float32, n*stride), make([]float32, n*stride), make([]float32, n*stride)
					for i := 0; i < n; i++ {
						pk.one(one[i*stride:i*stride+rows], m.Data, c.groups, c.nb, a.view(i))
					}
					pk.four(four, stride, m.Data, c.groups, c.nb, &a, 0)
					if pk.eight != nil {
						pk.eight(eight, stride, m.Data, c.groups, c.nb, &a, 0, n/8)
					} else {
						for i := 0; i < n; i += 4 {
							pk.four(eight[i*stride:], stride, m.Data, c.groups, c.nb, &a, i)
						}
					}
					return one, four, eight
				}
				wantOne, wantFour, wantEight := run(avx2Kernels.packed[typ])
				if vnniKernels.packed[typ].eight == nil {
					t.Fatalf("no eight-input VNNI kernel for %s", typ)
				}
				gotOne, gotFour, gotEight := run(vnniKernels.packed[typ])
				for j := range wantOne {
					if math.Float32bits(gotEight[j]) != math.Float32bits(wantEight[j]) {
						t.Fatalf("eight inputs, output %d: VNNI %v, AVX2 %v", j, gotEight[j], wantEight[j])
					}
					if math.Float32bits(gotOne[j]) != math.Float32bits(wantOne[j]) {
						t.Fatalf("one input, output %d: VNNI %v, AVX2 %v", j, gotOne[j], wantOne[j])
					}
					if math.Float32bits(gotFour[j]) != math.Float32bits(wantFour[j]) {
						t.Fatalf("four inputs, output %d: VNNI %v, AVX2 %v", j, gotFour[j], wantFour[j])
					}
				}
			})
		}
	}
}
