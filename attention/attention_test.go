package attention

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-llm/kiln/tensor"
)

// The kernels are checked against float64 sums of the same decoded inputs,
// so only float32 arithmetic separates them. The bound is relative to the
// sum of absolute products: 8 float32 epsilons per term added covers any
// summation order (the assembly sums in eight lanes, then across them).
const epsRel = 8 * 0x1p-24

type shape struct{ nh, n, d int }

var shapes = []shape{
	{1, 1, 8}, {1, 5, 16}, {2, 4, 16}, {4, 16, 32}, {3, 7, 24}, {4, 33, 64},
	{8, 16, 128}, {2, 3, 12}, {1, 9, 40}, {5, 17, 96}, {2, 2, 4},
	// Decode: the query heads of one KV head against a block.
	{3, 16, 64}, {2, 16, 128}, {4, 16, 64}, {6, 16, 80}, {7, 16, 136},
	// Prefill tiles: several rows' heads against one block of keys.
	{8, 16, 64}, {7, 13, 64}, {16, 32, 64}, {6, 5, 40}, {12, 3, 128}, {9, 1, 32},
}

func randF32(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// layouts gives, for a shape, key/value rows in each storage type and their
// exact float32 decoding.
type layout struct {
	name    string
	decoded []float32
	scores  func(k *kernels, out []float32, stride int, q []float32, s shape, tmp []float32)
	accum   func(k *kernels, out, w []float32, stride int, s shape, tmp []float32)
}

func layouts(r *rand.Rand, s shape) []layout {
	x := randF32(r, s.n*s.d)
	h := make([]uint16, len(x))
	ToF16(h, x)
	hd := make([]float32, len(x))
	for i, v := range h {
		hd[i] = tensor.F16ToF32(v)
	}
	qb := Q8Block(s.d)
	q8 := make([]int8, len(x))
	q8s := make([]uint16, len(x)/qb)
	QuantizeQ8(q8, q8s, x, qb)
	q8d := make([]float32, len(x))
	dequantQ8Go(q8d, q8, q8s, qb)
	return []layout{
		{"f32", x,
			func(k *kernels, out []float32, stride int, q []float32, s shape, _ []float32) {
				k.scoresF32(out, stride, q, s.nh, x, s.n, s.d)
			},
			func(k *kernels, out, w []float32, stride int, s shape, _ []float32) {
				k.accumF32(out, w, stride, s.nh, x, s.n, s.d)
			}},
		{"f16", hd,
			func(k *kernels, out []float32, stride int, q []float32, s shape, tmp []float32) {
				k.scoresF16(out, stride, q, s.nh, h, s.n, s.d, tmp[:s.d])
			},
			func(k *kernels, out, w []float32, stride int, s shape, tmp []float32) {
				k.accumF16(out, w, stride, s.nh, h, s.n, s.d, tmp[:s.d])
			}},
		{"f16tile", hd,
			func(k *kernels, out []float32, stride int, q []float32, s shape, tmp []float32) {
				k.widenF16(tmp, h)
				k.scoresF32(out, stride, q, s.nh, tmp, s.n, s.d)
			},
			func(k *kernels, out, w []float32, stride int, s shape, tmp []float32) {
				k.widenF16(tmp, h)
				k.accumF32(out, w, stride, s.nh, tmp, s.n, s.d)
			}},
		{"q8_0", q8d,
			func(k *kernels, out []float32, stride int, q []float32, s shape, tmp []float32) {
				k.dequantQ8(tmp, q8, q8s, qb)
				k.scoresF32(out, stride, q, s.nh, tmp, s.n, s.d)
			},
			func(k *kernels, out, w []float32, stride int, s shape, tmp []float32) {
				k.dequantQ8(tmp, q8, q8s, qb)
				k.accumF32(out, w, stride, s.nh, tmp, s.n, s.d)
			}},
	}
}

func TestKernels(t *testing.T) {
	for _, k := range hostKernels() {
		for _, s := range shapes {
			r := rand.New(rand.NewPCG(uint64(s.n), uint64(s.d)))
			for _, l := range layouts(r, s) {
				t.Run(fmt.Sprintf("%s/%s/nh%d_n%d_d%d", k.name, l.name, s.nh, s.n, s.d), func(t *testing.T) {
					checkScores(t, k, l, s, r)
					checkAccum(t, k, l, s, r)
				})
			}
		}
	}
}

func checkScores(t *testing.T, k *kernels, l layout, s shape, r *rand.Rand) {
	stride := s.n + 3
	q := randF32(r, s.nh*s.d)
	out := make([]float32, s.nh*stride)
	for i := range out {
		out[i] = float32(math.NaN())
	}
	l.scores(k, out, stride, q, s, make([]float32, s.n*s.d))
	worst := 0.0
	for h := 0; h < s.nh; h++ {
		for j := 0; j < stride; j++ {
			got := out[h*stride+j]
			if j >= s.n {
				if !math.IsNaN(float64(got)) {
					t.Fatalf("head %d: wrote column %d beyond n=%d", h, j, s.n)
				}
				continue
			}
			var want, mag float64
			for i := 0; i < s.d; i++ {
				p := float64(q[h*s.d+i]) * float64(l.decoded[j*s.d+i])
				want += p
				mag += math.Abs(p)
			}
			err := math.Abs(float64(got) - want)
			worst = max(worst, err/mag)
			if err > epsRel*float64(s.d)*mag+1e-30 {
				t.Fatalf("score head %d row %d: %g, want %g (err %.3g, bound %.3g)", h, j, got, want, err, epsRel*float64(s.d)*mag)
			}
		}
	}
	t.Logf("scores: max error / sum|products| = %.3g", worst)
}

func checkAccum(t *testing.T, k *kernels, l layout, s shape, r *rand.Rand) {
	stride := s.n + 2
	w := randF32(r, s.nh*stride)
	init := randF32(r, s.nh*s.d)
	out := append([]float32(nil), init...)
	l.accum(k, out, w, stride, s, make([]float32, s.n*s.d))
	worst := 0.0
	for h := 0; h < s.nh; h++ {
		for c := 0; c < s.d; c++ {
			want, mag := float64(init[h*s.d+c]), math.Abs(float64(init[h*s.d+c]))
			for j := 0; j < s.n; j++ {
				p := float64(w[h*stride+j]) * float64(l.decoded[j*s.d+c])
				want += p
				mag += math.Abs(p)
			}
			got := out[h*s.d+c]
			err := math.Abs(float64(got) - want)
			worst = max(worst, err/mag)
			if err > epsRel*float64(s.n+1)*mag+1e-30 {
				t.Fatalf("accum head %d column %d: %g, want %g (err %.3g)", h, c, got, want, err)
			}
		}
	}
	t.Logf("accum: max error / sum|products| = %.3g", worst)
}

// TestQuantizeQ8 checks the Q8_0 rounding: each value decodes to within half
// a quantum (plus the half-precision rounding of the scale) of the input,
// and the block maximum is exactly +-127 quanta.
func TestQuantizeQ8(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, qb := range []int{16, 32} {
		x := randF32(r, 8*qb)
		x[3] = 0 // a zero inside a block
		clear(x[qb : 2*qb])
		q := make([]int8, len(x))
		s := make([]uint16, len(x)/qb)
		QuantizeQ8(q, s, x, qb)
		y := make([]float32, len(x))
		DequantizeQ8(y, q, s, qb)
		for b := range s {
			d := float64(tensor.F16ToF32(s[b]))
			amax, hasMax := 0.0, false
			for i := b * qb; i < (b+1)*qb; i++ {
				amax = max(amax, math.Abs(float64(x[i])))
			}
			for i := b * qb; i < (b+1)*qb; i++ {
				// The quant rounds x/(amax/127); the decoded scale differs
				// from amax/127 by at most 2^-11 relative.
				bound := d/2*(1+1e-6) + amax*0x1p-11
				if err := math.Abs(float64(y[i]) - float64(x[i])); err > bound {
					t.Errorf("qb %d value %d: %g decodes to %g (err %.3g > %.3g)", qb, i, x[i], y[i], err, bound)
				}
				if q[i] == 127 || q[i] == -127 {
					hasMax = true
				}
			}
			if amax > 0 && !hasMax {
				t.Errorf("qb %d block %d: no quant at +-127", qb, b)
			}
			if amax == 0 && d != 0 {
				t.Errorf("qb %d block %d: zero block has scale %g", qb, b, d)
			}
		}
	}
}

// TestExported runs the exported entry points (whatever implementation is
// active) against the portable kernels on one GQA shape per storage type.
func TestExported(t *testing.T) {
	s := shape{nh: 5, n: 21, d: 64} // two head pairs and an odd head
	r := rand.New(rand.NewPCG(7, 7))
	q := randF32(r, s.nh*s.d)
	kx := randF32(r, s.n*s.d)
	kh := make([]uint16, len(kx))
	ToF16(kh, kx)
	qb := Q8Block(s.d)
	k8 := make([]int8, len(kx))
	k8s := make([]uint16, len(kx)/qb)
	QuantizeQ8(k8, k8s, kx, qb)
	tmp := make([]float32, s.n*s.d)
	w := randF32(r, s.nh*s.n)
	cases := []struct {
		name          string
		scores, accum func(out []float32)
		ref           []float32 // decoded rows
	}{
		{"f32",
			func(out []float32) { ScoresF32(out, s.n, q, s.nh, kx, s.n, s.d) },
			func(out []float32) { AccumF32(out, w, s.n, s.nh, kx, s.n, s.d) }, kx},
		{"f16",
			func(out []float32) { ScoresF16(out, s.n, q, s.nh, kh, s.n, s.d, tmp) },
			func(out []float32) { AccumF16(out, w, s.n, s.nh, kh, s.n, s.d, tmp) }, nil},
		{"f16tile",
			func(out []float32) { ScoresTileF16(out, s.n, q, s.nh, kh, s.n, s.d, tmp) },
			func(out []float32) { AccumTileF16(out, w, s.n, s.nh, kh, s.n, s.d, tmp) }, nil},
		{"q8_0",
			func(out []float32) { ScoresQ8(out, s.n, q, s.nh, k8, k8s, qb, s.n, s.d, tmp) },
			func(out []float32) { AccumQ8(out, w, s.n, s.nh, k8, k8s, qb, s.n, s.d, tmp) }, nil},
	}
	cases[1].ref = make([]float32, len(kx))
	widen(cases[1].ref, kh)
	cases[2].ref = cases[1].ref
	cases[3].ref = make([]float32, len(kx))
	dequantQ8Go(cases[3].ref, k8, k8s, qb)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, want := make([]float32, s.nh*s.n), make([]float32, s.nh*s.n)
			c.scores(got)
			scoresF32Go(want, s.n, q, s.nh, c.ref, s.n, s.d)
			compare(t, "scores", got, want, 1e-5)
			got, want = make([]float32, s.nh*s.d), make([]float32, s.nh*s.d)
			c.accum(got)
			accumF32Go(want, w, s.n, s.nh, c.ref, s.n, s.d)
			compare(t, "accum", got, want, 1e-5)
		})
	}
}

func compare(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %g, portable %g", what, i, got[i], want[i])
		}
	}
}

// BenchmarkScores and BenchmarkAccum report the key/value bytes read per
// second for a decode step's work on one KV head: 4 query heads, head size
// 64, 1024 cached positions.
func BenchmarkScores(b *testing.B) { benchKV(b, true) }
func BenchmarkAccum(b *testing.B)  { benchKV(b, false) }

func benchKV(b *testing.B, scores bool) {
	const nh, n, d = 4, 1024, 64
	r := rand.New(rand.NewPCG(3, 4))
	x := randF32(r, n*d)
	h := make([]uint16, len(x))
	ToF16(h, x)
	qb := Q8Block(d)
	q8 := make([]int8, len(x))
	q8s := make([]uint16, len(x)/qb)
	QuantizeQ8(q8, q8s, x, qb)
	q := randF32(r, nh*d)
	w := randF32(r, nh*n)
	out := make([]float32, nh*max(n, d))
	tmp := make([]float32, 16*d)
	// Rows are fed in blocks of 16 positions, as the paged cache does.
	const blk = 16
	for _, k := range hostKernels() {
		run := func(name string, bytes int, f func(j int)) {
			b.Run(k.name+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(bytes))
				for range b.N {
					for j := 0; j < n; j += blk {
						f(j)
					}
				}
			})
		}
		if scores {
			run("f32", 4*n*d, func(j int) { k.scoresF32(out[j:], n, q, nh, x[j*d:(j+blk)*d], blk, d) })
			run("f16", 2*n*d, func(j int) { k.scoresF16(out[j:], n, q, nh, h[j*d:(j+blk)*d], blk, d, tmp[:d]) })
			run("q8_0", n*d+2*n*d/qb, func(j int) {
				k.dequantQ8(tmp, q8[j*d:(j+blk)*d], q8s[j*d/qb:(j+blk)*d/qb], qb)
				k.scoresF32(out[j:], n, q, nh, tmp, blk, d)
			})
		} else {
			run("f32", 4*n*d, func(j int) { k.accumF32(out[:nh*d], w[j:], n, nh, x[j*d:(j+blk)*d], blk, d) })
			run("f16", 2*n*d, func(j int) { k.accumF16(out[:nh*d], w[j:], n, nh, h[j*d:(j+blk)*d], blk, d, tmp[:d]) })
			run("q8_0", n*d+2*n*d/qb, func(j int) {
				k.dequantQ8(tmp, q8[j*d:(j+blk)*d], q8s[j*d/qb:(j+blk)*d/qb], qb)
				k.accumF32(out[:nh*d], w[j:], n, nh, tmp, blk, d)
			})
		}
	}
}

// TestToF16 checks the F32 -> F16 narrowing of every implementation against
// tensor.F32ToF16 bit for bit on random values, halfway ties, subnormals,
// overflow and zeros, at lengths around the eight-lane width.
func TestToF16(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	var x []float32
	for range 997 {
		x = append(x, float32(r.NormFloat64()*math.Pow(2, float64(r.IntN(40)-20))))
	}
	x = append(x, 0, float32(math.Copysign(0, -1)), 65504, 65520, 1e6, -1e6, 1+0x1p-11, 1+3*0x1p-11, 0x1p-24, 0x1p-25, 3*0x1p-26, 1e-10)
	for _, k := range hostKernels() {
		for _, n := range []int{1, 8, 9, 15, len(x)} {
			h := make([]uint16, n)
			k.toF16(h, x[len(x)-n:])
			for i, v := range x[len(x)-n:] {
				if want := tensor.F32ToF16(v); h[i] != want {
					t.Fatalf("%s n=%d: %g -> %#04x, want %#04x", k.name, n, v, h[i], want)
				}
			}
		}
	}
}

// TestWidenF16 checks F16 -> F32 widening of every implementation against
// tensor.F16ToF32 on all 65536 encodings (NaNs need only stay NaN), at
// lengths around the unrolled widths.
func TestWidenF16(t *testing.T) {
	all := make([]uint16, 1<<16)
	for i := range all {
		all[i] = uint16(i)
	}
	for _, k := range hostKernels() {
		for _, n := range []int{1, 7, 8, 31, 32, 41, len(all)} {
			h := all[len(all)-n:]
			x := make([]float32, n)
			k.widenF16(x, h)
			for i, v := range h {
				want := tensor.F16ToF32(v)
				if want != want && x[i] != x[i] {
					continue
				}
				if math.Float32bits(x[i]) != math.Float32bits(want) {
					t.Fatalf("%s n=%d: %#04x -> %g, want %g", k.name, n, v, x[i], want)
				}
			}
		}
	}
}

// BenchmarkTile reports the arithmetic rate of prefill tiles, the
// product of query and key rows and the weighted sum of value rows apart:
// nh query heads (prompt rows times the query heads of one KV head: 8 on
// the Llama shapes, 24 on SmolLM2's, 16 on Qwen3's) against 512 F16 keys
// and values of head size d, fed in blocks of 16 positions as the paged
// cache holds them; and, on the first shape, the same work done one head
// at a time by the converting kernels, as a prompt's rows would be alone.
func BenchmarkTile(b *testing.B) {
	for i, sh := range []struct{ nh, d int }{{8, 64}, {24, 64}, {16, 128}} {
		const n, blk = 512, 16
		nh, d := sh.nh, sh.d
		r := rand.New(rand.NewPCG(5, 6))
		x := randF32(r, n*d)
		h := make([]uint16, len(x))
		ToF16(h, x)
		q := randF32(r, nh*d)
		sc := make([]float32, nh*n)
		out := make([]float32, nh*d)
		tmp := make([]float32, blk*d)
		run := func(name string, flops float64, f func()) {
			b.Run(fmt.Sprintf("%dx%d/%s", nh, d, name), func(b *testing.B) {
				for range b.N {
					f()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		flops := float64(2 * nh * n * d) // of the scores, or of the sums
		run("scores", flops, func() {
			for j := 0; j < n; j += blk {
				ScoresTileF16(sc[j:], n, q, nh, h[j*d:(j+blk)*d], blk, d, tmp)
			}
		})
		run("accum", flops, func() {
			for j := 0; j < n; j += blk {
				AccumTileF16(out, sc[j:], n, nh, h[j*d:(j+blk)*d], blk, d, tmp)
			}
		})
		if i > 0 {
			continue
		}
		run("perhead", 2*flops, func() {
			for hh := 0; hh < nh; hh++ {
				for j := 0; j < n; j += blk {
					ScoresF16(sc[hh*n+j:], n, q[hh*d:], 1, h[j*d:(j+blk)*d], blk, d, tmp)
				}
				for j := 0; j < n; j += blk {
					AccumF16(out[hh*d:], sc[hh*n+j:], n, 1, h[j*d:(j+blk)*d], blk, d, tmp)
				}
			}
		})
	}
}

// TestFixedOrder checks that a score or an accumulated output does not
// depend on which kernel computes it, how many heads share the call, or how
// the run of keys is split (the model relies on it: a prompt's rows done
// together get bit-identical results to the same rows done one at a time).
// Every call is compared bit for bit with one head against one key row at a
// time through ScoresF16 and AccumF16.
func TestFixedOrder(t *testing.T) {
	const nh, n = 5, 11
	splits := [][]int{{n}, {4, 4, 3}, {3, 5, 3}, {1, 2, 8}, {2, 2, 2, 2, 2, 1}}
	for _, k := range hostKernels() {
		for _, d := range []int{8, 16, 24, 32, 64, 128, 12} {
			r := rand.New(rand.NewPCG(uint64(d), 9))
			q := randF32(r, nh*d)
			h := make([]uint16, n*d)
			ToF16(h, randF32(r, n*d))
			x := make([]float32, n*d)
			k.widenF16(x, h)
			w := randF32(r, nh*n)
			tmp := make([]float32, n*d)
			// One head, one row at a time.
			wantS := make([]float32, nh*n)
			wantA := make([]float32, nh*d)
			for hh := 0; hh < nh; hh++ {
				for j := 0; j < n; j++ {
					k.scoresF16(wantS[hh*n+j:], 1, q[hh*d:(hh+1)*d], 1, h[j*d:(j+1)*d], 1, d, tmp[:d])
					k.accumF16(wantA[hh*d:(hh+1)*d], w[hh*n+j:], 1, 1, h[j*d:(j+1)*d], 1, d, tmp[:d])
				}
			}
			calls := []struct {
				name   string
				scores func(out []float32, nh, j0, m int, q []float32)
				accum  func(out []float32, nh, j0, m int, w []float32)
			}{
				{"f32",
					func(out []float32, nh, j0, m int, q []float32) {
						k.scoresF32(out, n, q, nh, x[j0*d:(j0+m)*d], m, d)
					},
					func(out []float32, nh, j0, m int, w []float32) {
						k.accumF32(out, w, n, nh, x[j0*d:(j0+m)*d], m, d)
					}},
				{"f16",
					func(out []float32, nh, j0, m int, q []float32) {
						k.scoresF16(out, n, q, nh, h[j0*d:(j0+m)*d], m, d, tmp[:d])
					},
					func(out []float32, nh, j0, m int, w []float32) {
						k.accumF16(out, w, n, nh, h[j0*d:(j0+m)*d], m, d, tmp[:d])
					}},
			}
			for _, c := range calls {
				for _, heads := range []int{1, 2, 3, 4, nh} {
					for _, split := range splits {
						gotS := make([]float32, nh*n)
						gotA := make([]float32, nh*d)
						for h0 := 0; h0 < nh; h0 += heads {
							hn := min(heads, nh-h0)
							j0 := 0
							for _, m := range split {
								c.scores(gotS[h0*n+j0:], hn, j0, m, q[h0*d:(h0+hn)*d])
								c.accum(gotA[h0*d:(h0+hn)*d], hn, j0, m, w[h0*n+j0:])
								j0 += m
							}
						}
						for i := range wantS {
							if math.Float32bits(gotS[i]) != math.Float32bits(wantS[i]) {
								t.Fatalf("%s d=%d %s heads=%d split %v: score %d = %g, one at a time %g",
									k.name, d, c.name, heads, split, i, gotS[i], wantS[i])
							}
						}
						for i := range wantA {
							if math.Float32bits(gotA[i]) != math.Float32bits(wantA[i]) {
								t.Fatalf("%s d=%d %s heads=%d split %v: output %d = %g, one at a time %g",
									k.name, d, c.name, heads, split, i, gotA[i], wantA[i])
							}
						}
					}
				}
			}
		}
	}
}

// BenchmarkDecodeStream measures decode attention as a step of many
// sequences runs it, from memory: work items of one KV head (1 or 3 query
// heads, head size 64, 512 positions) whose F16 keys and values lie in
// 16-position blocks scattered over a 128 MiB pool, each item scoring block
// by block with the blocks 4 ahead prefetched (as the model does), taking
// the exponentials and summing the value rows, on 1 and 2 workers. It
// reports the key and value bytes read per second: one query head per KV
// head is bound by memory, three by arithmetic.
func BenchmarkDecodeStream(b *testing.B) {
	const n, d, blk, pool, ahead = 512, 64, 16, 128 << 20, 4
	blkElems := blk * d
	nblocks := pool / (2 * 2 * blkElems) // keys and values, 2 bytes each
	r := rand.New(rand.NewPCG(7, 8))
	keys := make([]uint16, nblocks*blkElems)
	vals := make([]uint16, nblocks*blkElems)
	ToF16(keys, randF32(r, len(keys)))
	ToF16(vals, randF32(r, len(vals)))
	order := r.Perm(nblocks)
	nb := n / blk
	items := nblocks / nb
	for _, nh := range []int{1, 3} {
		q := randF32(r, nh*d)
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("heads=%d/w=%d", nh, workers), func(b *testing.B) {
				for b.Loop() {
					done := make(chan struct{})
					for w := range workers {
						go func() {
							sc := make([]float32, nh*n)
							out := make([]float32, nh*d)
							tmp := make([]float32, blkElems)
							for it := w; it < items; it += workers {
								table := order[it*nb : (it+1)*nb]
								// Chunk k of the walk: keys of block k, then values.
								pf := func(k int) {
									if k < nb {
										Prefetch(keys[table[k]*blkElems : (table[k]+1)*blkElems])
									} else if k < 2*nb {
										Prefetch(vals[table[k-nb]*blkElems : (table[k-nb]+1)*blkElems])
									}
								}
								for k := range ahead {
									pf(k)
								}
								for i, id := range table {
									pf(i + ahead)
									ScoresF16(sc[i*blk:], n, q, nh, keys[id*blkElems:(id+1)*blkElems], blk, d, tmp)
								}
								for h := range nh {
									tensor.ExpScores(sc[h*n:(h+1)*n], 0.125)
								}
								clear(out)
								for i, id := range table {
									pf(nb + i + ahead)
									AccumF16(out, sc[i*blk:], n, nh, vals[id*blkElems:(id+1)*blkElems], blk, d, tmp)
								}
							}
							done <- struct{}{}
						}()
					}
					for range workers {
						<-done
					}
				}
				bytes := float64(items * n * d * 2 * 2)
				b.ReportMetric(bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}
