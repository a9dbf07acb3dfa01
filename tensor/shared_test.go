package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-llm/kiln/parallel"
)

// TestMatMulsMatchesMatMul holds MatMuls to separate MatMul calls bit for
// bit: products sharing one quantized input (same and mixed weight types of
// one input format, row counts that split unevenly over the workers), packed
// products in one dispatch, the fallbacks (float types, mixed input formats,
// packed and unpacked products together), and every kernel set and worker
// count.
func TestMatMulsMatchesMatMul(t *testing.T) {
	const cols = 512
	// Products have rows0, rows0+13, ... rows. Packed, 5 rows stay in the
	// GGUF layout, 18 and 31 pack with tails of GGUF rows, and 44 rows
	// pack whole.
	cases := []struct {
		types []Type
		pack  bool
		rows0 int
	}{
		{[]Type{Q8_0, Q8_0, Q8_0}, false, 5},
		{[]Type{Q4_0, Q4_0}, false, 5},
		{[]Type{Q4_K, Q4_K, Q6_K}, false, 5},
		{[]Type{Q4_0, Q8_0, Q5_0}, false, 5},
		{[]Type{Q4_K, Q4_0}, false, 5}, // Q8_K and Q8_0 inputs: no sharing
		{[]Type{F16, F16}, false, 5},   // float route
		{[]Type{Q4_1, Q5_1}, false, 5},
		{[]Type{Q4_0, Q4_0, Q4_0, Q8_0}, true, 5},
		{[]Type{Q4_K, Q4_K, Q4_K, Q6_K}, true, 5},
		{[]Type{Q4_0, Q4_0, Q4_0}, true, 18},
		{[]Type{Q8_0, Q8_0, Q8_0}, true, 18},
		{[]Type{Q4_K, Q5_K, Q6_K}, true, 18},
		{[]Type{Q4_0, Q8_0}, true, 18}, // one dispatch where their records agree
	}
	for ci, c := range cases {
		types := c.types
		rng := rand.New(rand.NewPCG(uint64(ci), 3))
		var ms []Matrix
		for i, typ := range types {
			rows := c.rows0 + 13*i
			m, err := NewMatrix(typ, rows, cols, randomRow(rng, typ, rows*cols))
			if err != nil {
				t.Fatal(err)
			}
			if c.pack {
				m, _ = Repack(m)
			}
			ms = append(ms, m)
		}
		for _, n := range []int{1, 2, 8, 9, 70} {
			x := make([]float32, n*cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			for _, ks := range hostKernels() {
				for _, workers := range []int{1, 2, 3} {
					t.Run(fmt.Sprintf("%v/n%d/%s/w%d", types, n, ks.name, workers), func(t *testing.T) {
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
									t.Fatalf("product %d (%s) output %d = %v, MatMul gives %v", i, m.Type, j, ps[i].Dst[j], want[j])
								}
							}
						}
					})
				}
			}
		}
	}
}

// TestMatMulsBadLengthsPanic checks that a product whose width differs from
// the others' panics, and so does a batch of packed products whose output
// is short (programming errors, as in MatMul).
func TestMatMulsBadLengthsPanic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a, _ := NewMatrix(Q8_0, 4, 64, randomRow(rng, Q8_0, 4*64))
	b, _ := NewMatrix(Q8_0, 4, 32, randomRow(rng, Q8_0, 4*32))
	p1, _ := Repack(Matrix{Type: Q4_0, Rows: 8, Cols: 64, Data: randomRow(rng, Q4_0, 8*64)})
	p2, _ := Repack(Matrix{Type: Q4_0, Rows: 8, Cols: 64, Data: randomRow(rng, Q4_0, 8*64)})
	for _, c := range []struct {
		name string
		n    int
		ps   []Product
	}{
		{"products of different widths", 1, []Product{{Dst: make([]float32, 4), W: a}, {Dst: make([]float32, 4), W: b}}},
		{"a short output of a packed batch", 2, []Product{{Dst: make([]float32, 16), W: p1}, {Dst: make([]float32, 8), W: p2}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic for %s", c.name)
				}
			}()
			MatMuls(make([]float32, c.n*64), c.n, nil, c.ps...)
		}()
	}
}

// BenchmarkMatMuls compares MatMuls with a MatMul per product on a
// SmolLM2-sized layer's query, key and value (Q8_0, in the cache), as GGUF
// rows and packed, for one input and eight: the time of the workers'
// meetings and of quantizing the inputs, which MatMuls does once.
func BenchmarkMatMuls(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const cols = 576
	p := parallel.New(2)
	defer p.Close()
	for _, pack := range []bool{false, true} {
		var ps []Product
		for _, rows := range []int{576, 192, 192} {
			m, _ := NewMatrix(Q8_0, rows, cols, randomRow(rng, Q8_0, rows*cols))
			if pack {
				m, _ = Repack(m)
			}
			ps = append(ps, Product{Dst: make([]float32, 8*m.Rows), W: m})
		}
		for _, n := range []int{1, 8} {
			x := make([]float32, n*cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			name := fmt.Sprintf("packed=%v/n=%d", pack, n)
			b.Run(name+"/shared", func(b *testing.B) {
				for b.Loop() {
					MatMuls(x, n, p, ps...)
				}
			})
			b.Run(name+"/separate", func(b *testing.B) {
				for b.Loop() {
					for _, pr := range ps {
						MatMul(pr.Dst, pr.W, x, n, p)
					}
				}
			})
		}
	}
}
