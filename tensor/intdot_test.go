package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-llm/kiln/parallel"
)

// refRoundEven rounds v half to even from its definition (floor and the
// fraction), independently of math.RoundToEven.
func refRoundEven(v float64) float64 {
	f := math.Floor(v)
	switch frac := v - f; {
	case frac > 0.5:
		return f + 1
	case frac < 0.5:
		return f
	case math.Mod(f, 2) == 0:
		return f
	default:
		return f + 1
	}
}

// refQuantQ8 is llama.cpp's AVX2 activation rule for Q8_0/Q8_1 written in
// float64 arithmetic: products of two float32 values are exact in float64,
// so rounding them once to float32 gives the float32 product.
func refQuantQ8(x []float32) (q []int8, d float64, d32 float32, sum int) {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d32 = float32(float64(amax) / 127)
	var id float32
	if amax != 0 {
		id = float32(127 / float64(amax))
	}
	q = make([]int8, len(x))
	for j, v := range x {
		r := refRoundEven(float64(float32(float64(v) * float64(id))))
		switch {
		case math.IsNaN(r) || math.IsInf(r, 0):
			q[j] = -128 // vcvtps2dq's integer indefinite, saturated
		default:
			q[j] = int8(max(-128, min(127, r)))
		}
		sum += int(q[j])
	}
	return q, refHalfOf(d32), d32, sum
}

// refHalfOf is the value of f rounded to fp16.
func refHalfOf(f float32) float64 {
	var b [2]byte
	putLE16(b[:], F32ToF16(f))
	return refHalf(b[:])
}

// refQuantQ8K is ggml's quantize_row_q8_K_ref in float64 arithmetic.
func refQuantQ8K(x []float32) (q []int8, d float32) {
	q = make([]int8, len(x))
	var amax, vmax float64
	for _, v := range x {
		if a := math.Abs(float64(v)); a > amax {
			amax, vmax = a, float64(v)
		}
	}
	if amax == 0 {
		return q, 0
	}
	iscale := float32(-127 / vmax)
	for j, v := range x {
		q[j] = int8(min(127, refRoundEven(float64(float32(float64(iscale)*float64(v))))))
	}
	return q, float32(1 / float64(iscale))
}

// adversarialBlock returns inputs that stress the quantizers: exact ties
// (x*127/amax landing on k+0.5), all zeros, huge and tiny magnitudes,
// negative extremes, and blocks whose fp16 scale underflows or overflows.
func adversarialBlocks(rng *rand.Rand, size int) [][]float32 {
	var out [][]float32
	mk := func(f func(j int) float32) {
		b := make([]float32, size)
		for j := range b {
			b[j] = f(j)
		}
		out = append(out, b)
	}
	mk(func(j int) float32 { return 0 })
	// amax 127 makes the multiplier exactly 1: j/2 hits every tie.
	mk(func(j int) float32 {
		if j == 0 {
			return 127
		}
		return float32(j%200)/2 - 50
	})
	mk(func(j int) float32 {
		if j == 3 {
			return -127
		}
		return -float32(j%200)/2 + 0.5
	})
	mk(func(j int) float32 { return float32(j%7) - 3 }) // ties at other scales
	mk(func(j int) float32 { return float32(rng.NormFloat64()) * 1e30 })
	mk(func(j int) float32 { return float32(rng.NormFloat64()) * 1e-30 })
	mk(func(j int) float32 { return float32(rng.NormFloat64()) * 1e-6 }) // fp16 d subnormal
	mk(func(j int) float32 { return float32(rng.NormFloat64()) * 1e5 })  // fp16 d near its top
	mk(func(j int) float32 {
		if j == size-1 {
			return 1
		}
		return 0
	})
	mk(func(j int) float32 { return float32(j%3-1) * 0.25 }) // equal magnitudes of both signs
	if size == 32 {
		// A subnormal block maximum overflows 127/amax to +inf: llama.cpp's
		// conversions then give -128 (zeros become NaN, also -128). The
		// Q8_K rule has no defined result there, so only Q8_0/Q8_1 get it.
		mk(func(j int) float32 {
			if j%5 == 0 {
				return 0
			}
			return float32(rng.NormFloat64()) * 1e-39
		})
	}
	for range 20 {
		mk(func(j int) float32 { return float32(rng.NormFloat64()) })
	}
	return out
}

// TestQuantizeActsBitExact checks the activation quantizers of every kernel
// set the host runs against the float64 mirrors of llama.cpp's rules above,
// bit for bit, on random and adversarial blocks, and on a few blocks worked
// out by hand.
func TestQuantizeActsBitExact(t *testing.T) {
	for _, ks := range hostKernels() {
		t.Run(ks.name, func(t *testing.T) { checkQuantizeActs(t, ks) })
	}
}

func checkQuantizeActs(t *testing.T, ks *kernelSet) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, kind := range []Type{Q8_0, Q8_1, Q8_K} {
		bs := kind.BlockSize()
		blocks := adversarialBlocks(rng, bs)
		x := make([]float32, 0, len(blocks)*bs)
		for _, b := range blocks {
			x = append(x, b...)
		}
		var a qacts
		a.alloc(kind, len(blocks), bs)
		a.quantize(x, 0, len(blocks), ks)
		for i, blk := range blocks {
			if kind == Q8_K {
				q, d := refQuantQ8K(blk)
				if math.Float32bits(a.d[i]) != math.Float32bits(d) {
					t.Errorf("Q8_K block %d: d = %v, want %v", i, a.d[i], d)
				}
				for j := range q {
					if a.qs[bs*i+j] != q[j] {
						t.Errorf("Q8_K block %d elem %d (x=%v): q = %d, want %d", i, j, blk[j], a.qs[bs*i+j], q[j])
						break
					}
				}
				for g := 0; g < 16; g++ {
					s := 0
					for _, v := range q[16*g : 16*g+16] {
						s += int(v)
					}
					if int(a.bs[16*i+g]) != s {
						t.Errorf("Q8_K block %d: sum %d = %d, want %d", i, g, a.bs[16*i+g], s)
					}
				}
				continue
			}
			q, d, d32, sum := refQuantQ8(blk)
			if float64(a.d[i]) != d && !(math.IsNaN(d) && a.d[i] != a.d[i]) {
				t.Errorf("%s block %d: d = %v, want %v", kind, i, a.d[i], d)
			}
			for j := range q {
				if a.qs[bs*i+j] != q[j] {
					t.Errorf("%s block %d elem %d (x=%v): q = %d, want %d", kind, i, j, blk[j], a.qs[bs*i+j], q[j])
					break
				}
			}
			if int(a.is[i]) != sum {
				t.Errorf("%s block %d: sum = %d, want %d", kind, i, a.is[i], sum)
			}
			if kind == Q8_1 {
				want := refHalfOf(float32(float64(d32) * float64(sum)))
				if got := float64(a.s[i]); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("%s block %d: s = %v, want %v", kind, i, a.s[i], want)
				}
			}
		}
	}

	// Worked by hand: amax 127 gives the multiplier 1, so 63.5 -> 64,
	// 62.5 -> 62, -0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (half to even).
	x := make([]float32, 32)
	copy(x, []float32{127, 63.5, 62.5, -0.5, 1.5, 2.5, -2.5, -127})
	var a qacts
	a.alloc(Q8_0, 1, 32)
	a.quantize(x, 0, 1, ks)
	want := []int8{127, 64, 62, 0, 2, 2, -2, -127}
	for j, w := range want {
		if a.qs[j] != w {
			t.Errorf("hand block Q8_0: q[%d] = %d, want %d", j, a.qs[j], w)
		}
	}
	if a.d[0] != F16ToF32(F32ToF16(1)) || a.is[0] != 127+64+62+2+2-2-127 {
		t.Errorf("hand block Q8_0: d = %v, sum = %v", a.d[0], a.is[0])
	}
	// Q8_K: the first largest magnitude is -127, so iscale = 1 and the
	// quants are the inputs rounded half to even, 127 capped.
	xk := make([]float32, 256)
	copy(xk, []float32{-127, 127, 3.5, 4.5, -5.5, 126.5})
	a.alloc(Q8_K, 1, 256)
	a.quantize(xk, 0, 1, ks)
	wantK := []int8{-127, 127, 4, 4, -6, 126}
	for j, w := range wantK {
		if a.qs[j] != w {
			t.Errorf("hand block Q8_K: q[%d] = %d, want %d", j, a.qs[j], w)
		}
	}
	if a.d[0] != 1 || a.bs[0] != -127+127+4+4-6+126 {
		t.Errorf("hand block Q8_K: d = %v, bs[0] = %d", a.d[0], a.bs[0])
	}
}

// intTypes are the weight types with an integer route.
var intTypes = []Type{Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K}

// refIntDots returns, for the matrix m and the quantized inputs a, the
// float64 products of each dequantized weight row (refDecode) with each
// dequantized input, except that for Q4_1/Q5_1 the weight minimum
// multiplies the input's fp16 block sum s, as llama.cpp's kernels do; and
// the sums of |terms|. Both are indexed [i*rows + r] like MatMul's output.
func refIntDots(m Matrix, a *qacts, n int) (ref, abs []float64) {
	typ, rows, cols := m.Type, m.Rows, m.Cols
	bs, bb := typ.BlockSize(), typ.BlockBytes()
	xbs := a.kind.BlockSize()
	minimum := typ == Q4_1 || typ == Q5_1
	ref, abs = make([]float64, n*rows), make([]float64, n*rows)
	for r := 0; r < rows; r++ {
		w := m.Row(r)
		wf := refDecode(typ, w, cols)
		mins := make([]float64, cols/bs)
		if minimum {
			for b := range mins {
				mins[b] = refHalf(w[b*bb+2:])
			}
			for k := range wf {
				wf[k] -= mins[k/bs]
			}
		}
		for i := 0; i < n; i++ {
			v := a.view(i)
			var sum, sabs float64
			for k, wk := range wf {
				p := wk * float64(v.d[k/xbs]) * float64(v.qs[k])
				sum += p
				sabs += math.Abs(p)
			}
			if minimum {
				for b, mb := range mins {
					sum += mb * float64(v.s[b])
					sabs += math.Abs(mb * float64(v.s[b]))
				}
			}
			ref[i*rows+r], abs[i*rows+r] = sum, sabs
		}
	}
	return ref, abs
}

// TestMatMulIntegerRoute checks MatMul's integer route, for every type that
// has one and every kernel set the host runs (assembly and portable Go),
// against refIntDots on the same quantized inputs: |got - ref| <= 1e-5 *
// sum|terms| (the kernels' integer sums are exact; only the float32 scale
// products and block sums round). Shapes cover one-, four- and eight-input
// kernels with remainders (blocks in groups of four and not; n = 13 runs
// all three), odd row
// counts, several worker counts (which must agree bit for bit) and
// unaligned weights and inputs. The asm and Go sets must also agree with
// each other within the same bound.
func TestMatMulIntegerRoute(t *testing.T) {
	sets := hostKernels()
	for _, typ := range intTypes {
		for _, cols := range []int{typ.BlockSize(), 3 * typ.BlockSize(), 9 * typ.BlockSize()} {
			for _, rows := range []int{1, 7, 38} {
				shift := rows % 2
				rng := rand.New(rand.NewPCG(uint64(typ), uint64(cols*rows)))
				raw := randomRow(rng, typ, rows*cols)
				data := make([]byte, len(raw)+shift)[shift:]
				copy(data, raw)
				m, err := NewMatrix(typ, rows, cols, data)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range []int{1, 3, 4, 5, 8, 9, 13, 21} {
					x := make([]float32, n*cols+shift)[shift:]
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					kind, _ := actType(typ)
					var a qacts
					a.alloc(kind, n, cols)
					a.quantize(x, 0, n, portableKernels)
					ref, abs := refIntDots(m, &a, n)
					var outs [][]float32
					var worst float64
					for _, ks := range sets {
						var first []float32
						for _, workers := range []int{1, 2, 3} {
							dst := make([]float32, n*rows)
							p := parallel.New(workers)
							matMul(dst, m, x, n, p, ks, true)
							p.Close()
							if first == nil {
								first = dst
								outs = append(outs, dst)
								continue
							}
							for i := range dst {
								if math.Float32bits(dst[i]) != math.Float32bits(first[i]) {
									t.Fatalf("%s %s %dx%d n=%d: workers=%d differs from workers=1 at %d", ks.name, typ, rows, cols, n, workers, i)
								}
							}
						}
						for i, got := range first {
							e := math.Abs(float64(got)-ref[i]) / max(abs[i], math.SmallestNonzeroFloat64)
							worst = max(worst, e)
							if e > 1e-5 {
								t.Fatalf("%s %s %dx%d n=%d: dst[%d] = %v, reference %v (error %.3g of sum|terms|)",
									ks.name, typ, rows, cols, n, i, got, ref[i], e)
							}
						}
					}
					for k := 1; k < len(outs); k++ {
						for i := range outs[k] {
							if d := math.Abs(float64(outs[k][i] - outs[0][i])); d > 1e-5*abs[i] {
								t.Fatalf("%s %dx%d n=%d: %s and %s differ at %d: %v vs %v", typ, rows, cols, n, sets[0].name, sets[k].name, i, outs[0][i], outs[k][i])
							}
						}
					}
					if testing.Verbose() && rows == 38 && (n == 1 || n == 8 || n == 13 || n == 21) && cols == 9*typ.BlockSize() {
						t.Logf("%s %dx%d n=%d: max error %.3g of sum|terms| over %d kernel sets", typ, rows, cols, n, worst, len(sets))
					}
				}
			}
		}
	}
}

// TestMatMulRoutes checks which route MatMul takes: quantized types with an
// integer route must give exactly the integer kernels' output (so they do
// quantize the inputs), the others and MatMulFloat the float route's.
func TestMatMulRoutes(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, typ := range allTypes {
		t.Run(fmt.Sprint(typ), func(t *testing.T) {
			cols := 2 * typ.BlockSize()
			if typ.BlockSize() == 1 {
				cols = 64
			}
			const rows = 5
			m, err := NewMatrix(typ, rows, cols, randomRow(rng, typ, rows*cols))
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			got := make([]float32, rows)
			MatMul(got, m, x, 1, nil)
			fl := make([]float32, rows)
			MatMulFloat(fl, m, x, 1, nil)
			want := make([]float32, rows)
			if kind, ok := actType(typ); ok {
				var a qacts
				a.alloc(kind, 1, cols)
				a.quantize(x, 0, 1, activeKernels)
				rowsFn := activeKernels.qrows[typ]
				if rowsFn == nil {
					rowsFn = goIntRows[typ]
				}
				rowsFn(want, m.Data, len(m.Data)/rows, a.view(0))
			} else {
				matMul(want, m, x, 1, nil, activeKernels, false)
				for i := range fl {
					if math.Float32bits(fl[i]) != math.Float32bits(got[i]) {
						t.Errorf("MatMulFloat[%d] = %v, MatMul %v: a type without integer route must take the float route", i, fl[i], got[i])
					}
				}
			}
			for i := range want {
				if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
					t.Errorf("MatMul[%d] = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestIntRows8MatchesRows4 checks each eight-input integer kernel against
// its set's four-input kernel run on the two groups of four: the integer
// sums and the per-input order of the float32 scale products are the same,
// so the outputs must agree bit for bit, for inputs at group offsets 0 and
// 4, block counts with and without a multiple of four, and odd row counts
// with the output rows padded apart (ostride > rows).
func TestIntRows8MatchesRows4(t *testing.T) {
	tested := 0
	for _, ks := range hostKernels() {
		for typ, rows8 := range ks.qrows8 {
			rows4 := ks.qrows4[typ]
			if rows4 == nil {
				t.Fatalf("%s %s: eight-input kernel without a four-input one", ks.name, typ)
			}
			kind, _ := actType(typ)
			for _, blocks := range []int{1, 3, 8, 9} {
				cols := blocks * typ.BlockSize()
				for _, rows := range []int{1, 5, 16} {
					rng := rand.New(rand.NewPCG(uint64(typ), uint64(cols*rows)))
					m, err := NewMatrix(typ, rows, cols, randomRow(rng, typ, rows*cols))
					if err != nil {
						t.Fatal(err)
					}
					const n = 12
					x := make([]float32, n*cols)
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					var a qacts
					a.alloc(kind, n, cols)
					a.quantize(x, 0, n, ks)
					a.interleave(n, false)
					rb := m.rowBytes()
					ostride := rows + 3
					for _, i := range []int{0, 4} {
						got := make([]float32, 8*ostride)
						want := make([]float32, 8*ostride)
						for k := range got {
							got[k], want[k] = float32(k), float32(k) // untouched padding must match
						}
						rows8(got, ostride, m.Data, rb, rows, &a, i)
						rows4(want, ostride, m.Data, rb, rows, &a, i)
						rows4(want[4*ostride:], ostride, m.Data, rb, rows, &a, i+4)
						for k := range got {
							if math.Float32bits(got[k]) != math.Float32bits(want[k]) {
								t.Fatalf("%s %s %dx%d inputs %d..%d: out[%d] = %v, four-input kernels %v",
									ks.name, typ, rows, cols, i, i+7, k, got[k], want[k])
							}
						}
						tested++
					}
				}
			}
		}
	}
	if testing.Verbose() {
		t.Logf("%d eight-input cases bit-identical to the four-input kernels", tested)
	}
}
