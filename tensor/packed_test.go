package tensor

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-llm/kiln/parallel"
)

// TestRepackRoundTrip checks that unpacking a repacked matrix restores the
// GGUF bytes exactly, that Repack refuses what it cannot pack, and that Row
// refuses a packed matrix.
func TestRepackRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, rows := range []int{8, 13, 40} {
		for _, cols := range []int{32, 96, 320} {
			orig := randomRow(rng, Q4_0, rows*cols)
			m, err := NewMatrix(Q4_0, rows, cols, bytes.Clone(orig))
			if err != nil {
				t.Fatal(err)
			}
			p, ok := Repack(m)
			if !ok || !p.Packed() {
				t.Fatalf("%dx%d: Repack refused", rows, cols)
			}
			if bytes.Equal(p.Data, orig) {
				t.Fatalf("%dx%d: Repack left the bytes as they were", rows, cols)
			}
			// The first group's first block: row 3's scale, then its quants
			// 4..7 at the second 32-byte run.
			rb := cols / 32 * 18
			if !bytes.Equal(p.Data[6:8], orig[3*rb:3*rb+2]) || !bytes.Equal(p.Data[16+32+12:16+32+16], orig[3*rb+6:3*rb+10]) {
				t.Fatalf("%dx%d: row 3 is not where the layout puts it", rows, cols)
			}
			want, got := make([]float32, cols), make([]float32, cols)
			for r := 0; r < rows; r++ {
				if err := DequantizeRow(Q4_0, orig[r*rb:(r+1)*rb], want); err != nil {
					t.Fatal(err)
				}
				if err := p.DequantizeRow(r, got); err != nil {
					t.Fatal(err)
				}
				for j := range want {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
						t.Fatalf("%dx%d: row %d value %d = %v from the packed layout, %v from GGUF's", rows, cols, r, j, got[j], want[j])
					}
				}
			}
			if p.DequantizeRow(rows, got) == nil || p.DequantizeRow(0, got[:cols-1]) == nil {
				t.Fatalf("%dx%d: DequantizeRow accepted a row out of range or a short buffer", rows, cols)
			}
			if u := p.unpack(); !bytes.Equal(u.Data, orig) || u.Packed() {
				t.Fatalf("%dx%d: unpack does not restore the GGUF bytes", rows, cols)
			}
			if _, again := Repack(p); again {
				t.Fatalf("%dx%d: a packed matrix was packed again", rows, cols)
			}
			func() {
				defer func() {
					if recover() == nil {
						t.Fatalf("%dx%d: Row of a packed matrix did not panic", rows, cols)
					}
				}()
				p.Row(0)
			}()
		}
	}
	for _, c := range []struct {
		typ  Type
		rows int
	}{{Q4_0, 7}, {Q8_0, 16}, {Q4_K, 16}} {
		m, err := NewMatrix(c.typ, c.rows, 256, randomRow(rng, c.typ, c.rows*256))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := Repack(m); ok {
			t.Errorf("%s with %d rows: Repack packed it", c.typ, c.rows)
		}
	}
}

// TestPackedMatMul holds MatMul on a repacked Q4_0 matrix to the float64
// reference of the integer route (1e-5 of sum|terms|, as
// TestMatMulIntegerRoute does for the GGUF layout), for whole and partial
// groups, one input, groups of four with remainders and batches longer
// than an input tile; results must agree bit for bit over worker counts,
// and MatMulFloat must give exactly what it gives on the GGUF layout.
func TestPackedMatMul(t *testing.T) {
	for _, rows := range []int{8, 13, 64, 101} {
		for _, cols := range []int{32, 288, 2048} {
			rng := rand.New(rand.NewPCG(uint64(rows), uint64(cols)))
			orig, err := NewMatrix(Q4_0, rows, cols, randomRow(rng, Q4_0, rows*cols))
			if err != nil {
				t.Fatal(err)
			}
			m, _ := Repack(Matrix{Type: Q4_0, Rows: rows, Cols: cols, Data: bytes.Clone(orig.Data)})
			for _, n := range []int{1, 3, 4, 6, 13, 70} {
				if cols == 2048 && n == 70 && rows > 13 {
					continue // the long batch once per row length is enough
				}
				t.Run(fmt.Sprintf("%dx%d/n%d", rows, cols, n), func(t *testing.T) {
					x := make([]float32, n*cols)
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					var a qacts
					a.alloc(Q8_0, n, cols)
					a.quantize(x, 0, n, portableKernels)
					ref, abs := refIntDots(orig, &a, n)
					for _, ks := range hostKernels() {
						var first []float32
						for _, workers := range []int{1, 2, 3} {
							p := parallel.New(workers)
							dst := make([]float32, n*rows)
							matMul(dst, m, x, n, p, ks, true)
							p.Close()
							if first == nil {
								first = dst
								continue
							}
							for i := range dst {
								if math.Float32bits(dst[i]) != math.Float32bits(first[i]) {
									t.Fatalf("%s: workers=%d differs from workers=1 at %d", ks.name, workers, i)
								}
							}
						}
						for i, got := range first {
							if e := math.Abs(float64(got)-ref[i]) / max(abs[i], math.SmallestNonzeroFloat64); e > 1e-5 {
								t.Fatalf("%s: dst[%d] = %v, reference %v (error %.3g of sum|terms|)", ks.name, i, got, ref[i], e)
							}
						}
					}
					if n > 4 {
						return
					}
					got, want := make([]float32, n*rows), make([]float32, n*rows)
					MatMulFloat(got, m, x, n, nil)
					MatMulFloat(want, orig, x, n, nil)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("MatMulFloat[%d] on the packed matrix = %v, on the GGUF layout %v", i, got[i], want[i])
						}
					}
				})
			}
		}
	}
}
