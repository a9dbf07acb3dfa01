package tensor

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-llm/kiln/parallel"
)

// TestPackedQ4KExtremes runs the packed Q4_K kernels where their int16
// sums are largest: every quant 15, every scale and minimum 63, and inputs
// that quantize to -127 or 127 throughout, so that the eight products of a
// sub-block summed in int16 reach 8*2*15*127 = 30480 in magnitude. The
// results are held to refIntDots as in TestPackedMatMul.
func TestPackedQ4KExtremes(t *testing.T) {
	const rows, cols = 16, 512
	rng := rand.New(rand.NewPCG(7, 8))
	data := randomRow(rng, Q4_K, rows*cols)
	for b := 0; b < len(data)/144; b++ {
		for i := 4; i < 144; i++ {
			data[b*144+i] = 0xff
		}
	}
	orig, err := NewMatrix(Q4_K, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := Repack(Matrix{Type: Q4_K, Rows: rows, Cols: cols, Data: bytes.Clone(data)})
	if !ok {
		t.Fatal("Repack refused Q4_K")
	}
	for _, c := range []struct {
		name string
		v    float32
		n    int
	}{{"positive", 1, 1}, {"negative", -1, 1}, {"positive", 1, 5}, {"negative", -1, 8}} {
		t.Run(fmt.Sprintf("%s/n%d", c.name, c.n), func(t *testing.T) {
			x := make([]float32, c.n*cols)
			for i := range x {
				x[i] = c.v
			}
			checkPacked(t, orig, m, Q8_K, x, c.n)
		})
	}
}

// TestMatMulsPackedQ4K holds MatMuls over packed Q4_K products (with and
// without a tail of GGUF rows after the last group), a Q4_K matrix too
// short to pack and a Q6_K one, all sharing one Q8_K input, to separate
// MatMul calls bit for bit, for every kernel set and worker count.
func TestMatMulsPackedQ4K(t *testing.T) {
	const cols = 512
	rng := rand.New(rand.NewPCG(9, 10))
	var ms []Matrix
	for _, c := range []struct {
		typ  Type
		rows int
	}{{Q4_K, 16}, {Q4_K, 5}, {Q4_K, 31}, {Q6_K, 18}} {
		m, err := NewMatrix(c.typ, c.rows, cols, randomRow(rng, c.typ, c.rows*cols))
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := Repack(m); ok {
			m = p
		} else if c.typ == Q4_K && c.rows >= packRows {
			t.Fatalf("Repack refused Q4_K with %d rows", c.rows)
		}
		ms = append(ms, m)
	}
	for _, n := range []int{1, 2, 9} {
		x := make([]float32, n*cols)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		for _, ks := range hostKernels() {
			for _, workers := range []int{1, 2, 3} {
				t.Run(fmt.Sprintf("n%d/%s/w%d", n, ks.name, workers), func(t *testing.T) {
					p := parallel.New(workers)
					defer p.Close()
					var ps []Product
					for _, m := range ms {
						ps = append(ps, Product{Dst: make([]float32, n*m.Rows), W: m})
					}
					matMuls(x, n, p, ks, ps)
					for i, m := range ms {
						want := make([]float32, n*m.Rows)
						matMul(want, m, x, n, p, ks, true)
						for j := range want {
							if math.Float32bits(ps[i].Dst[j]) != math.Float32bits(want[j]) {
								t.Fatalf("product %d (%s, packed %v) output %d = %v, MatMul gives %v", i, m.Type, m.Packed(), j, ps[i].Dst[j], want[j])
							}
						}
					}
				})
			}
		}
	}
}
