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
// one input format, row counts that split unevenly over the workers), the
// fallbacks (float types, mixed input formats, n > 1), and every kernel set
// and worker count.
func TestMatMulsMatchesMatMul(t *testing.T) {
	const cols = 512
	cases := [][]Type{
		{Q8_0, Q8_0, Q8_0},
		{Q4_0, Q4_0},
		{Q4_K, Q4_K, Q6_K},
		{Q4_0, Q8_0, Q5_0},
		{Q4_K, Q4_0}, // Q8_K and Q8_0 inputs: no sharing
		{F16, F16},   // float route
		{Q4_1, Q5_1},
		// The last two are repacked below: 5 rows stay in the GGUF layout,
		// 18 and 31 pack with tails of GGUF rows, and the 44-row Q8_0 and
		// Q6_K matrices pack whole.
		{Q4_0, Q4_0, Q4_0, Q8_0},
		{Q4_K, Q4_K, Q4_K, Q6_K},
	}
	for ci, types := range cases {
		pack := ci >= len(cases)-2
		rng := rand.New(rand.NewPCG(uint64(ci), 3))
		var ms []Matrix
		for i, typ := range types {
			rows := 5 + 13*i
			m, err := NewMatrix(typ, rows, cols, randomRow(rng, typ, rows*cols))
			if err != nil {
				t.Fatal(err)
			}
			if pack {
				m, _ = Repack(m)
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

func BenchmarkMatMuls(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const cols = 768
	var ms []Matrix
	for _, rows := range []int{768, 768, 768} {
		m, _ := NewMatrix(Q8_0, rows, cols, randomRow(rng, Q8_0, rows*cols))
		ms = append(ms, m)
	}
	x := make([]float32, cols)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	p := parallel.New(2)
	defer p.Close()
	ps := make([]Product, len(ms))
	for i, m := range ms {
		ps[i] = Product{Dst: make([]float32, m.Rows), W: m}
	}
	b.Run("shared", func(b *testing.B) {
		for b.Loop() {
			MatMuls(x, 1, p, ps...)
		}
	})
	b.Run("separate", func(b *testing.B) {
		for b.Loop() {
			for _, pr := range ps {
				MatMul(pr.Dst, pr.W, x, 1, p)
			}
		}
	})
}
