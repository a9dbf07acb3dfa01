package tensor

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
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
