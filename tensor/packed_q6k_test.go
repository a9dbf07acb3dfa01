package tensor

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPackedQ6KExtremes runs the packed Q6_K kernels where their integer
// sums are largest: every quant 63 (two runs' products summed in int16
// reach 4*63*127 = 32004) or every quant 0 (the -32 offset at its
// largest), scales of -128 or 127, and inputs that quantize to -127 or 127
// throughout. The results are held to refIntDots as in TestPackedMatMul.
func TestPackedQ6KExtremes(t *testing.T) {
	const rows, cols = 16, 512
	for _, w := range []struct {
		name      string
		quant, sc byte
	}{{"q63/sc-128", 0xff, 0x80}, {"q0/sc127", 0x00, 0x7f}, {"q63/sc127", 0xff, 0x7f}} {
		rng := rand.New(rand.NewPCG(9, 10))
		data := randomRow(rng, Q6_K, rows*cols)
		for b := 0; b < len(data)/210; b++ {
			for i := 0; i < 192; i++ {
				data[b*210+i] = w.quant
			}
			for i := 192; i < 208; i++ {
				data[b*210+i] = w.sc
			}
		}
		orig, err := NewMatrix(Q6_K, rows, cols, data)
		if err != nil {
			t.Fatal(err)
		}
		m, ok := Repack(Matrix{Type: Q6_K, Rows: rows, Cols: cols, Data: bytes.Clone(data)})
		if !ok {
			t.Fatal("Repack refused Q6_K")
		}
		for _, c := range []struct {
			name string
			v    float32
			n    int
		}{{"positive", 1, 1}, {"negative", -1, 1}, {"positive", 1, 5}, {"negative", -1, 8}} {
			t.Run(fmt.Sprintf("%s/%s/n%d", w.name, c.name, c.n), func(t *testing.T) {
				x := make([]float32, c.n*cols)
				for i := range x {
					x[i] = c.v
				}
				checkPacked(t, orig, m, Q8_K, x, c.n)
			})
		}
	}
}
