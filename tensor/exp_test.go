package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// expImpls are the exponential kernels this host runs: the dispatching
// ones (AVX2 where the CPU has it) and the portable ones.
var expImpls = []struct {
	name   string
	scores func(s []float32, scale, m float32) float32
	silu   func(g, u []float32)
	max    func(s []float32, scale float32) float32
	bucket func(dst []uint16, x []float32, m, scale, width, bar float64)
	atMost func(dst []int32, x []uint16, v uint16) int
}{
	{"host", expScores, siluMul, maxScaled, buckets, atMost},
	{"go", expScoresGo, siluMulGo, maxScaledGo, bucketsGo,
		func(dst []int32, x []uint16, v uint16) int { return atMostGo(dst, x, v, 0) }},
}

// TestMaxScaled holds the largest scaled score to Go's max over lengths
// with and without a vector tail, with the maximum in every position, and
// with a NaN (which wins) and infinities.
func TestMaxScaled(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, k := range expImpls {
		for _, n := range []int{0, 1, 7, 8, 9, 16, 17, 40} {
			for at := 0; at < max(n, 1); at++ {
				for _, special := range []float32{0, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
					s := make([]float32, n)
					for i := range s {
						s[i] = float32(r.NormFloat64() * 10)
					}
					if n > 0 {
						s[at] = 100
						if special != 0 {
							s[at] = special
						}
					}
					for _, scale := range []float32{0.125, -0.5} {
						want := float32(math.Inf(-1))
						for _, v := range s {
							want = max(want, v*scale)
						}
						got := k.max(s, scale)
						if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) && !(got == 0 && want == 0) {
							t.Fatalf("%s n=%d at %d special %v scale %v: %v, want %v", k.name, n, at, special, scale, got, want)
						}
					}
				}
			}
		}
	}
}

// TestIndex holds Index to a linear scan over lengths with and without a
// vector tail and around the 32-element rounds, with the value absent,
// at every position, repeated later, and for NaN (never found) and zeros
// of either sign (equal).
func TestIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 40, 70, 100} {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		check := func(v float32, want int) {
			t.Helper()
			if got := Index(s, v); got != want {
				t.Fatalf("n=%d: Index(%v) = %d, want %d", n, v, got, want)
			}
		}
		check(50, -1)
		check(float32(math.NaN()), -1)
		for at := range n {
			old := s[at]
			s[at] = 50
			check(50, at)
			if last := n - 1; last > at {
				keep := s[last]
				s[last] = 50
				check(50, at)
				s[last] = keep
			}
			s[at] = float32(math.Copysign(0, -1))
			check(0, indexGo(s, 0))
			s[at] = old
		}
	}
}

// TestExpf holds the scalar exponential to float64 over the whole float32
// range it covers (bound 3e-7 relative, about 2.5 ulp) and at the edges.
func TestExpf(t *testing.T) {
	worst := 0.0
	for x := float32(-87); x <= 88.5; x += 0.00731 {
		want := math.Exp(float64(x))
		e := math.Abs(float64(Expf(x))-want) / want
		worst = max(worst, e)
		if e > 3e-7 {
			t.Fatalf("Expf(%v) = %v, want %v (relative error %.3g)", x, Expf(x), want, e)
		}
	}
	inf := float32(math.Inf(1))
	for _, tc := range []struct{ x, want float32 }{{0, 1}, {89, inf}, {-88, 0}, {inf, inf}, {-inf, 0}} {
		if got := Expf(tc.x); got != tc.want {
			t.Errorf("Expf(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
	if got := Expf(float32(math.NaN())); got == got {
		t.Errorf("Expf(NaN) = %v, want NaN", got)
	}
	t.Logf("max relative error %.3g", worst)
}

// TestExpScores checks every implementation against float64 exp over the
// whole argument range softmax produces ([-87, 0] after the shift), and the
// returned sum, at lengths around the eight-lane width. Bound: 4 float32
// ulps relative (measured: 2), and 1e-6 relative on the sum.
func TestExpScores(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, k := range expImpls {
		for _, n := range []int{1, 7, 8, 9, 16, 33, 1000} {
			t.Run(fmt.Sprintf("%s/n%d", k.name, n), func(t *testing.T) {
				const scale = 0.125
				s := make([]float32, n)
				for i := range s {
					s[i] = float32(-r.Float64() * 90 / scale)
				}
				s[n/2] = 0 // the maximum: exp(0) = 1
				if n > 2 {
					s[1] = -1e30 // far below the clamp: exp underflows to ~0
				}
				in := append([]float32(nil), s...)
				m := float32(math.Inf(-1))
				for _, v := range s {
					m = max(m, v*scale)
				}
				sum := k.scores(s, scale, m)
				var want float64
				for i, v := range in {
					e := math.Exp(float64(v*scale - m))
					want += e
					if e < 1e-37 {
						if s[i] > 1e-37 {
							t.Fatalf("exp(%g) = %g, want ~0", v*scale-m, s[i])
						}
						continue
					}
					if rel := math.Abs(float64(s[i])-e) / e; rel > 4*0x1p-24 {
						t.Fatalf("exp(%g) = %g, want %g (rel err %.3g)", v*scale-m, s[i], e, rel)
					}
				}
				if d := math.Abs(float64(sum)-want) / want; d > 1e-6 {
					t.Errorf("sum %g, want %g (rel %.3g)", sum, want, d)
				}
			})
		}
	}
}

// TestExpLanesAgree checks that an element's exponential, gated
// activation and sampling weight do not depend on where it stands in a
// row: the vector kernels take sixteen elements a pass in two interleaved
// halves, a last eight alone and (the attention weights) the last few
// under a mask, and each must give the same bits as the others (the
// weights of one attention row must not change with how it is cut into
// runs). It also checks that the masked tail leaves what follows the row
// alone.
func TestExpLanesAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	pattern, gates, ups := make([]float32, 8), make([]float32, 8), make([]float32, 8)
	for i := range pattern {
		pattern[i] = float32(-r.Float64() * 80)
		gates[i] = float32(r.NormFloat64() * 20)
		ups[i] = float32(r.NormFloat64())
	}
	for _, k := range expImpls {
		for _, n := range []int{8, 13, 16, 24, 29, 40} {
			s, g, u := make([]float32, n, n+8), make([]float32, n), make([]float32, n)
			for i := range s {
				s[i], g[i], u[i] = pattern[i%8], gates[i%8], ups[i%8]
			}
			past := s[n : n+8]
			for i := range past {
				past[i] = -1
			}
			k.scores(s, 1, 0)
			for i, v := range past {
				if v != -1 {
					t.Fatalf("%s n=%d: element %d past the row became %g", k.name, n, n+i, v)
				}
			}
			k.silu(g, u)
			for i := 8; i < n; i++ {
				// SiLU's last n%8 elements are the Go loop's.
				if s[i] != s[i%8] || i < n&^7 && g[i] != g[i%8] {
					t.Fatalf("%s n=%d: element %d gives %g and %g, element %d %g and %g", k.name, n, i, s[i], g[i], i%8, s[i%8], g[i%8])
				}
			}
		}
	}
	// The sampler's weights (the host's kernel: the portable one has no
	// lanes), with a cutoff that masks some of the pattern.
	for _, n := range []int{8, 16, 24, 40} {
		x := make([]float32, n)
		for i := range x {
			x[i] = pattern[i%8]
		}
		ExpWeights(x, 0, 0.5, 20)
		for i := 8; i < n; i++ {
			if x[i] != x[i%8] {
				t.Fatalf("ExpWeights n=%d: element %d gives %g, element %d %g", n, i, x[i], i%8, x[i%8])
			}
		}
	}
}

// TestExpScoresMax checks what ExpScores returns besides the weights: the
// largest scaled score, which attention's fold rescales by, and their sum.
func TestExpScoresMax(t *testing.T) {
	tests := []struct {
		s          []float32
		scale      float32
		sum, max   float32
		wantWeight []float32
	}{
		{nil, 0.5, 0, float32(math.Inf(-1)), nil},
		{[]float32{4}, 0.5, 1, 2, []float32{1}},
		{[]float32{2, 4, -6, 4}, 0.5, 2 + Expf(-1) + Expf(-5), 2, []float32{Expf(-1), 1, Expf(-5), 1}},
	}
	for _, tc := range tests {
		s := append([]float32(nil), tc.s...)
		sum, m := ExpScores(s, tc.scale)
		if m != tc.max || math.Abs(float64(sum-tc.sum)) > 1e-6 {
			t.Errorf("ExpScores(%v, %g) = %g, %g; want %g, %g", tc.s, tc.scale, sum, m, tc.sum, tc.max)
		}
		for j, w := range tc.wantWeight {
			if math.Abs(float64(s[j]-w)) > 1e-7 {
				t.Errorf("ExpScores(%v, %g): weight %d = %g, want %g", tc.s, tc.scale, j, s[j], w)
			}
		}
	}
}

// TestSiLUMul checks the gated activation of every implementation against
// float64 at lengths around the lane width, over the range activations
// take and beyond exp's: bound 5e-7 relative (about 4 ulp: the
// exponential, a division and a product) or 1e-30 absolute near zero.
func TestSiLUMul(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, k := range expImpls {
		for _, n := range []int{1, 7, 8, 9, 24, 1001} {
			t.Run(fmt.Sprintf("%s/n%d", k.name, n), func(t *testing.T) {
				g, u := make([]float32, n), make([]float32, n)
				for i := range g {
					g[i] = float32(r.NormFloat64() * 8)
					u[i] = float32(r.NormFloat64())
				}
				extremes := []float32{-200, -90, -87.5, 87.5, 90, 200, 0}
				for i, x := range extremes {
					if i < n {
						g[(i*37)%n] = x
					}
				}
				in := append([]float32(nil), g...)
				k.silu(g, u)
				worst := 0.0
				for i, x := range in {
					want := float64(x) / (1 + math.Exp(-float64(x))) * float64(u[i])
					d := math.Abs(float64(g[i]) - want)
					if d > 1e-30 && d > 5e-7*math.Abs(want) {
						t.Fatalf("silu(%v)*%v = %v, want %v", x, u[i], g[i], want)
					}
					if d > 1e-30 {
						worst = max(worst, d/math.Abs(want))
					}
				}
				t.Logf("max relative error %.3g", worst)
			})
		}
	}
	nan := []float32{float32(math.NaN()), 1, 2, 3, 4, 5, 6, 7}
	SiLUMul(nan, []float32{1, 1, 1, 1, 1, 1, 1, 1})
	if nan[0] == nan[0] {
		t.Errorf("silu(NaN) = %v, want NaN", nan[0])
	}
}

// TestExpSum holds the log-sum-exp helper to float64 over a vocabulary-sized
// row: 1e-6 relative.
func TestExpSum(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	x := make([]float32, 151936)
	m := float32(math.Inf(-1))
	for i := range x {
		x[i] = float32(r.NormFloat64() * 3)
		m = max(m, x[i])
	}
	for _, k := range []struct {
		name string
		sum  func([]float32, float32) float64
	}{{"host", expSum}, {"go", expSumGo}} {
		for _, n := range []int{len(x), len(x) - 3, 5} {
			var want float64
			for _, v := range x[:n] {
				want += math.Exp(float64(v - m))
			}
			if got := k.sum(x[:n], m); math.Abs(got-want)/want > 3e-7 {
				t.Errorf("%s n=%d: ExpSum = %.9g, want %.9g (rel %.3g)", k.name, n, got, want, math.Abs(got-want)/want)
			}
		}
	}
	// Many like terms next to one large one (a confident model's row):
	// float32 running sums would drift by a few 1e-6 here.
	like := make([]float32, 4096)
	for i := range like {
		like[i] = -9.3
	}
	like[7] = 0
	want := 1 + 4095*math.Exp(-9.3)
	if got := ExpSum(like, 0); math.Abs(got-want)/want > 3e-7 {
		t.Errorf("like terms: ExpSum = %.9g, want %.9g", got, want)
	}
	if got := ExpSum([]float32{0, float32(math.NaN()), float32(math.Inf(-1)), 0, 0, 0, 0, 0, float32(math.NaN())}, 0); math.Abs(got-6) > 1e-6 {
		t.Errorf("NaN and -Inf terms: ExpSum = %v, want 6", got)
	}
}

// TestExpWeights holds both kernels to a float64 reference term by term:
// 3e-7 relative for the exponential, plus 1.2e-7 times the argument d for
// the two float32 roundings of d = (x-m)*scale (each 6e-8 of d, which e^d
// turns into a relative error),
// and checks that masked (-Inf), NaN and far-below-cutoff logits weigh
// exactly 0 at every temperature.
func TestExpWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 1003)
	m := float32(math.Inf(-1))
	for i := range x {
		x[i] = float32(r.NormFloat64() * 3)
		m = max(m, x[i])
	}
	x[3], x[500], x[1001] = float32(math.Inf(-1)), float32(math.NaN()), float32(math.Inf(-1))
	for _, k := range []struct {
		name string
		f    func(x []float32, m, scale, cutoff float32) float64
	}{{"host", expWeights}, {"go", expWeightsGo}} {
		for _, c := range []struct{ scale, cutoff float32 }{{1, 50}, {1 / 0.7, 50}, {1e5, 50}, {0.1, 1}} {
			w := slices.Clone(x)
			got := k.f(w, m, c.scale, c.cutoff)
			var want, tol float64
			for i, v := range x {
				d := float64(v-m) * float64(c.scale)
				var e float64
				if d >= -float64(c.cutoff) {
					e = math.Exp(d)
				}
				want += e
				termTol := (3e-7 + 1.2e-7*math.Abs(d)) * e
				tol += termTol
				if e == 0 {
					if w[i] != 0 {
						t.Fatalf("%s scale %v: w[%d] = %v for logit %v, want 0", k.name, c.scale, i, w[i], v)
					}
					continue
				}
				if math.Abs(float64(w[i])-e) > termTol {
					t.Fatalf("%s scale %v: w[%d] = %v, want %v", k.name, c.scale, i, w[i], e)
				}
			}
			if math.Abs(got-want) > tol {
				t.Errorf("%s scale %v: sum %v, want %v", k.name, c.scale, got, want)
			}
		}
	}
}

func BenchmarkVectorExp(b *testing.B) {
	s := make([]float32, 1024)
	u := make([]float32, 1024)
	// The in-place kernels' inputs are copied back before each call (a
	// loop that computed them took longer than the exponentials).
	scores, gates := make([]float32, len(s)), make([]float32, len(s))
	for i := range s {
		scores[i] = float32(-i) * 0.01
		gates[i] = float32(i-512) * 0.01
	}
	for _, k := range expImpls {
		b.Run("scores/"+k.name, func(b *testing.B) {
			b.SetBytes(4 * int64(len(s)))
			for b.Loop() {
				copy(s, scores)
				k.scores(s, 1, 0)
			}
		})
		b.Run("max/"+k.name, func(b *testing.B) {
			b.SetBytes(4 * int64(len(s)))
			for i := range s {
				s[i] = float32(-i) * 0.01
			}
			for b.Loop() {
				k.max(s, 0.125)
			}
		})
		b.Run("silu/"+k.name, func(b *testing.B) {
			b.SetBytes(4 * int64(len(s)))
			for b.Loop() {
				copy(s, gates)
				k.silu(s, u)
			}
		})
		// A sampler's row: logits 0 to -10 below the best, sixteen buckets
		// a nat, of which the best two nats' are gathered.
		bins := make([]uint16, len(s))
		b.Run("buckets/"+k.name, func(b *testing.B) {
			b.SetBytes(4 * int64(len(s)))
			for i := range s {
				s[i] = -float32((i*7919)%1024) / 100
			}
			for b.Loop() {
				k.bucket(bins, s, 0, 1, 16, 50)
			}
		})
		ids := make([]int32, len(s))
		b.Run("atmost/"+k.name, func(b *testing.B) {
			b.SetBytes(2 * int64(len(s)))
			for b.Loop() {
				k.atMost(ids, bins, 32)
			}
		})
	}
}

// TestBuckets holds Buckets to the float64 expression it documents, bucket
// for bucket, over lengths with and without a vector tail, at temperatures
// that scale distances up and down, with elements on bucket edges and at
// the bar (in), just past it (out), NaN and -Inf (out) and the maximum
// itself (bucket 0).
func TestBuckets(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	const width, bar = 16, 50
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 100, 1003} {
		for _, scale := range []float64{1, 1 / 0.7, 1 / 1.9, 1e5} {
			const m = 12.5
			x := make([]float32, n)
			for i := range x {
				switch i % 9 {
				case 0:
					x[i] = float32(m - math.Abs(r.NormFloat64()*8))
				case 1:
					x[i] = float32(m - float64(r.IntN(800))/width/scale) // on an edge
				case 2:
					x[i] = float32(m - bar/scale) // at the bar, up to rounding
				case 3:
					x[i] = float32(math.NaN())
				case 4:
					x[i] = float32(math.Inf(-1))
				case 5:
					x[i] = m
				default:
					x[i] = float32(m - r.Float64()*60/scale)
				}
			}
			got, want := make([]uint16, n), make([]uint16, n)
			Buckets(got, x, m, scale, width, bar)
			for j, v := range x {
				d := (m - float64(v)) * scale
				want[j] = NoBucket
				if d <= bar {
					want[j] = uint16(int(d * width))
				}
			}
			if !slices.Equal(got, want) {
				for j := range got {
					if got[j] != want[j] {
						t.Fatalf("n=%d scale=%v: x[%d]=%v: bucket %d, want %d", n, scale, j, x[j], got[j], want[j])
					}
				}
			}
			for j, v := range x {
				if got[j] == 0 && v != m && !(m-float64(v) < 1/(width*scale)) {
					t.Fatalf("x[%d]=%v in bucket 0", j, v)
				}
			}
		}
	}
}

// TestAtMost holds AtMost to a scan in order, over lengths with and without
// a vector tail, bounds that select none, some and all elements (65535
// included), and rooms shorter than the count, where it must stop at the
// room and write nothing past it.
func TestAtMost(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 100, 1000} {
		x := make([]uint16, n)
		for i := range x {
			x[i] = uint16(r.IntN(800))
			if i%7 == 0 {
				x[i] = 65535
			}
		}
		for _, v := range []uint16{0, 5, 400, 799, 65534, 65535} {
			var want []int32
			for j, b := range x {
				if b <= v {
					want = append(want, int32(j))
				}
			}
			for _, room := range []int{len(want), len(want) / 2, 1, 0} {
				dst := make([]int32, room+1)
				dst[room] = -7
				k := AtMost(dst[:room], x, v)
				if exp := min(room, len(want)); k != exp || !slices.Equal(dst[:k], want[:k]) {
					t.Fatalf("n=%d v=%d room=%d: %d indices %v, want %v", n, v, room, k, dst[:k], want[:exp])
				}
				if dst[room] != -7 {
					t.Fatalf("n=%d v=%d room=%d: wrote past the room", n, v, room)
				}
			}
		}
	}
}
