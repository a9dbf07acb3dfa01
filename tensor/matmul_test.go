package tensor

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/internal/cputime"
	"github.com/kiln-llm/kiln/parallel"
)

// TestMatMulAgainstReference compares MatMul with a float64 product of the
// DequantizeRow weights for every type and every kernel set the host runs
// (assembly and portable Go), over batch sizes that exercise the one-input
// and four-input kernels and their remainders, odd row counts, several worker
// counts, row lengths with vector tails (plain floats), and weights and
// inputs that start at unaligned addresses.
// Tolerance: |got - ref| <= 1e-5 * sum_k |w_k x_k| (float32 accumulation
// over a few hundred terms in eight partial sums errs by well under that).
// All worker counts must also give bit-identical results, since each output
// is computed by exactly one kernel call in a fixed order.
func TestMatMulAgainstReference(t *testing.T) {
	for _, ks := range hostKernels() {
		t.Run(ks.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(9, 10))
			for _, typ := range allTypes {
				colsList := []int{typ.BlockSize(), 3 * typ.BlockSize(), 9 * typ.BlockSize()}
				if typ.BlockSize() == 1 {
					colsList = []int{1, 7, 33, 64, 100, 259}
				}
				for _, cols := range colsList {
					for _, rows := range []int{1, 7} {
						for _, shift := range []int{0, 1} {
							checkMatMul(t, ks, rng, typ, rows, cols, shift)
						}
					}
				}
			}
		})
	}
}

// checkMatMul runs one shape of TestMatMulAgainstReference. shift offsets the
// weight bytes by that many bytes and the inputs by that many floats from
// their allocation, so that kernels cannot rely on alignment.
func checkMatMul(t *testing.T, ks *kernelSet, rng *rand.Rand, typ Type, rows, cols, shift int) {
	t.Helper()
	raw := randomRow(rng, typ, rows*cols)
	data := make([]byte, len(raw)+shift)[shift:]
	copy(data, raw)
	m, err := NewMatrix(typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	w := make([]float32, rows*cols)
	if err := DequantizeRow(typ, data, w); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 3, 5, 8, 33} {
		x := make([]float32, n*cols+shift)[shift:]
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		var first []float32
		var worst float64
		for _, workers := range []int{1, 2, 3, 0, 100} {
			dst := make([]float32, n*rows)
			p := parallel.New(workers)
			matMul(dst, m, x, n, p, ks, false)
			p.Close()
			for i := 0; i < n; i++ {
				for r := 0; r < rows; r++ {
					var ref, abs float64
					for k := 0; k < cols; k++ {
						p := float64(w[r*cols+k]) * float64(x[i*cols+k])
						ref += p
						abs += math.Abs(p)
					}
					got := float64(dst[i*rows+r])
					if abs == 0 {
						abs = math.SmallestNonzeroFloat64
					}
					e := math.Abs(got-ref) / abs
					worst = max(worst, e)
					if e > 1e-5 {
						t.Errorf("%s %dx%d shift=%d n=%d workers=%d: dst[%d] = %v, reference %v (error %.3g of sum|terms|)",
							typ, rows, cols, shift, n, workers, i*rows+r, got, ref, e)
						return
					}
				}
			}
			if first == nil {
				first = dst
				continue
			}
			for i := range dst {
				if math.Float32bits(dst[i]) != math.Float32bits(first[i]) {
					t.Errorf("%s %dx%d n=%d: workers=%d differs from workers=1 at %d", typ, rows, cols, n, workers, i)
					break
				}
			}
		}
		if testing.Verbose() && rows == 7 && shift == 0 && (n == 1 || n == 33) {
			t.Logf("%s %dx%d n=%d: max error %.3g of sum|terms|", typ, rows, cols, n, worst)
		}
	}
}

// TestMatMulF32Unaligned exercises the copying path for F32 data that cannot
// be viewed in place, which must agree bit for bit with the direct path.
func TestMatMulF32Unaligned(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const rows, cols, n = 5, 17, 3
	aligned := randomRow(rng, F32, rows*cols)
	shifted := make([]byte, len(aligned)+1)[1:]
	copy(shifted, aligned)
	x := make([]float32, n*cols)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	var outs [2][]float32
	for i, data := range [][]byte{aligned, shifted} {
		m, err := NewMatrix(F32, rows, cols, data)
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = make([]float32, n*rows)
		MatMul(outs[i], m, x, n, parallel.New(2))
	}
	for i := range outs[0] {
		if outs[0][i] != outs[1][i] {
			t.Fatalf("element %d: aligned %v, unaligned %v", i, outs[0][i], outs[1][i])
		}
	}
}

func TestNewMatrix(t *testing.T) {
	cases := []struct {
		name       string
		typ        Type
		rows, cols int
		bytes      int
		ok         bool
	}{
		{"q4_k", Q4_K, 3, 512, 3 * 288, true},
		{"f32", F32, 2, 3, 24, true},
		{"no rows", Q8_0, 0, 64, 0, false},
		{"no cols", F32, 3, 0, 0, false},
		{"negative cols", F32, 1, -4, 0, false},
		{"short", Q8_0, 2, 64, 135, false},
		{"long", Q8_0, 2, 64, 137, false},
		{"partial block", Q4_0, 1, 48, 27, false},
		{"negative", F32, -1, 4, 0, false},
		{"unknown type", Type(5), 1, 32, 32, false},
		{"huge rows", F32, math.MaxInt / 2, 4, 16, false},
	}
	for _, c := range cases {
		m, err := NewMatrix(c.typ, c.rows, c.cols, make([]byte, c.bytes))
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
		if err == nil && c.rows > 0 {
			rb := c.bytes / c.rows
			last := m.Row(c.rows - 1)
			if len(last) != rb || cap(last) != rb || &last[0] != &m.Data[(c.rows-1)*rb] {
				t.Errorf("%s: Row(%d) is not the last %d bytes", c.name, c.rows-1, rb)
			}
		}
	}
}

func TestMatMulBadLengthsPanic(t *testing.T) {
	m, err := NewMatrix(F32, 2, 4, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("MatMul with a short x did not panic")
		}
	}()
	MatMul(make([]float32, 4), m, make([]float32, 7), 2, nil)
}

// TestMatMulWorkerPanic checks that a panic inside a MatMul worker goroutine
// reaches the caller's goroutine, where recover sees the original value and
// the worker's stack. The failure is injected with a Matrix whose Data is
// shorter than its shape, which bypasses NewMatrix (a caller bug MatMul
// documents as panicking) and makes Row fail inside matMulRows.
func TestMatMulWorkerPanic(t *testing.T) {
	tests := []struct {
		name    string
		workers int
		bytes   int // of a 64x4 F32 matrix, which needs 1024
	}{
		{"one worker fails", 2, 1000},
		{"every worker fails", 4, 8},
		{"caller goroutine", 1, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Matrix{Type: F32, Rows: 64, Cols: 4, Data: make([]byte, tc.bytes)}
			p := parallel.New(tc.workers)
			defer p.Close()
			r := catchPanic(func() { MatMul(make([]float32, 64), m, make([]float32, 4), 1, p) })
			if r == nil {
				t.Fatal("MatMul over a short matrix did not panic")
			}
			var re runtime.Error
			if err, ok := r.(error); !ok || !errors.As(err, &re) {
				t.Fatalf("recovered %T %v, want an error wrapping the runtime.Error", r, r)
			}
			if !strings.Contains(re.Error(), "slice bounds out of range") {
				t.Errorf("runtime error %q, want a slice bounds failure", re)
			}
			if tc.workers > 1 {
				msg := fmt.Sprint(r)
				for _, want := range []string{"slice bounds out of range", "parallel.Pool worker", "tensor.matMulRows"} {
					if !strings.Contains(msg, want) {
						t.Errorf("panic message does not contain %q:\n%s", want, msg)
					}
				}
			}
		})
	}
}

// catchPanic runs fn and returns what it panicked with (nil if it returned).
func catchPanic(fn func()) (r any) {
	defer func() { r = recover() }()
	fn()
	return nil
}

// BenchmarkMatMul multiplies weights of the shapes a decoder uses (the
// projections of a 110M llama, dim 768 and ff 2048; of a 0.5B model, dim 896
// and ff 4864, with 896x4864 the down projection, whose 4864 columns are
// whole K-quant super-blocks; of a 0.6B model, dim 1024 and ff 3072; a
// square 2048 and a 151936x1024 output projection) by n = 1
// (decode), 4 and 8 (batched decode), 32 and 512 (prefill) input rows with 1 and 2
// workers, on MatMul's default route and (route=float) on MatMulFloat.
// Bytes/s counts the weight bytes streamed per call, the figure of merit for
// decoding, which reads every weight once per token; batches also report
// GFLOP/s (2 flops per weight per input). One-worker runs also report the
// same rates per second of the benchmark thread's CPU time (cpuGB/s,
// cpuGFLOP/s), steadier on a shared machine.
func BenchmarkMatMul(b *testing.B) {
	shapes := []struct{ rows, cols int }{{768, 768}, {2048, 768}, {768, 2048}, {896, 896}, {4864, 896}, {896, 4864}, {3072, 1024}, {1024, 3072}, {2048, 2048}, {151936, 1024}}
	types := []Type{F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K}
	for _, sh := range shapes {
		for _, typ := range types {
			if sh.cols%typ.BlockSize() != 0 {
				continue
			}
			name := fmt.Sprintf("%dx%d/%s", sh.rows, sh.cols, typ)
			b.Run(name, func(b *testing.B) {
				rng := rand.New(rand.NewPCG(13, uint64(typ)))
				m, err := NewMatrix(typ, sh.rows, sh.cols, randomRow(rng, typ, sh.rows*sh.cols))
				if err != nil {
					b.Fatal(err)
				}
				for _, n := range []int{1, 4, 8, 32, 512} {
					if n == 512 && sh.rows*sh.cols > 8<<20 {
						continue // minutes per run for the output projection
					}
					x := make([]float32, n*sh.cols)
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					dst := make([]float32, n*sh.rows)
					routes := []string{"float"}
					if _, ok := actType(typ); ok {
						routes = []string{"int", "float"}
					}
					packed, ok := Repack(Matrix{Type: typ, Rows: sh.rows, Cols: sh.cols, Data: bytes.Clone(m.Data)})
					if ok {
						routes = append(routes, "packed")
					}
					for _, route := range routes {
						for _, workers := range []int{1, 2} {
							b.Run(fmt.Sprintf("n=%d/w=%d/%s", n, workers, route), func(b *testing.B) {
								p := parallel.New(workers)
								defer p.Close()
								b.SetBytes(int64(len(m.Data)))
								if workers == 1 {
									runtime.LockOSThread()
									defer runtime.UnlockOSThread()
								}
								cpu0 := cputime.Thread()
								w := m
								if route == "packed" {
									w = packed
								}
								for b.Loop() {
									matMul(dst, w, x, n, p, activeKernels, route != "float")
								}
								cpu := (cputime.Thread() - cpu0).Seconds()
								flops := 2 * float64(n) * float64(sh.rows*sh.cols) * float64(b.N)
								if n > 1 {
									b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
								}
								// With one worker everything runs on this thread, whose CPU
								// time excludes what other processes took from it.
								if workers == 1 && cpu > 0 {
									b.ReportMetric(float64(len(m.Data))*float64(b.N)/cpu/1e9, "cpuGB/s")
									if n > 1 {
										b.ReportMetric(flops/cpu/1e9, "cpuGFLOP/s")
									}
								}
							})
						}
					}
				}
			})
		}
	}
}

// TestFloatRows4MatchesOne checks that the multi-row four-input kernels of
// the plain float types give, bit for bit, what the set's four-input and
// one-input kernels give row by row and input by input, for even and odd
// row counts and row lengths with and without a tail beyond a multiple of
// 8, so that batched results depend neither on how rows were paired nor
// on the batch (see TestBatchInvariance).
func TestFloatRows4MatchesOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, ks := range hostKernels() {
		for typ, rows4 := range ks.rows4 {
			size := typ.BlockBytes()
			for _, cols := range []int{8, 13, 64, 100} {
				for _, rows := range []int{1, 2, 5, 8} {
					w := randomRow(rng, typ, rows*cols)
					xstride := cols + 3
					x := make([]float32, 3*xstride+cols)
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					ostride := rows + 1
					got := make([]float32, 3*ostride+rows)
					rows4(got, ostride, w, size*cols, rows, x, xstride)
					var o [4]float32
					for r := 0; r < rows; r++ {
						row := w[size*cols*r : size*cols*(r+1)]
						ks.four[typ](row, x, xstride, nil, 0, &o)
						for k := range o {
							one := ks.one[typ](row, x[k*xstride:], nil)
							if g := got[k*ostride+r]; math.Float32bits(g) != math.Float32bits(o[k]) || math.Float32bits(g) != math.Float32bits(one) {
								t.Errorf("%s %s %dx%d: row %d input %d: rows4 %v, four %v, one %v", ks.name, typ, rows, cols, r, k, g, o[k], one)
							}
						}
					}
				}
			}
		}
	}
}
