package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// roundTripBounds are the QuantizeRow -> DequantizeRow error bounds: the
// relative RMS error ||y - x|| / ||x|| and the largest |y - x| as a fraction
// of the largest |x| in the element's block (super-block for K-quants).
// They are about 1.2x the worst value measured over the inputs of
// TestRoundTrip; the max-error ones are near the analytic limits (half a
// quant step, or a full step where a symmetric format clamps the positive
// end: 1/8 for Q4_0, 1/16 for Q5_0). For comparison, llama-quantize's
// relative RMS errors on the synthetic Gaussian weights are Q2_K 0.299,
// Q3_K 0.152, Q4_K 0.072, Q5_K 0.036, Q6_K 0.018.
var roundTripBounds = map[Type]struct{ rms, maxFrac float64 }{
	F32:  {0, 0},
	F16:  {2.5e-4, 4.9e-4},
	BF16: {2.1e-3, 3.91e-3},
	Q8_0: {0.0065, 0.0045},
	Q8_1: {0.0065, 0.0045},
	Q8_K: {0.0088, 0.0045},
	Q4_0: {0.105, 0.13},
	Q4_1: {0.096, 0.072},
	Q5_0: {0.052, 0.068},
	Q5_1: {0.047, 0.036},
	Q2_K: {0.34, 0.39},
	Q3_K: {0.18, 0.29},
	Q4_K: {0.088, 0.078},
	Q5_K: {0.043, 0.054},
	Q6_K: {0.022, 0.032},
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	gens := []struct {
		name string
		gen  func(i int) float32
	}{
		{"gauss", func(int) float32 { return float32(rng.NormFloat64()) }},
		{"big", func(int) float32 { return float32(max(-65000, min(65000, rng.NormFloat64()*12000))) }},
		{"offset", func(int) float32 { return float32(3 + rng.NormFloat64()) }},
		{"uniform", func(int) float32 { return float32(rng.Float64()*2 - 1) }},
		{"spike", func(i int) float32 {
			if i%97 == 0 {
				return 50
			}
			return float32(rng.NormFloat64() * 0.01)
		}},
		// Scales this small are fp16 subnormals and lose precision, so only
		// a looser RMS bound applies.
		{"tiny", func(int) float32 { return float32(rng.NormFloat64() * 1e-4) }},
	}
	for _, typ := range allTypes {
		b := roundTripBounds[typ]
		for _, g := range gens {
			t.Run(fmt.Sprintf("%s/%s", typ, g.name), func(t *testing.T) {
				n := 7 * 256
				x := make([]float32, n)
				for i := range x {
					x[i] = g.gen(i)
				}
				buf := make([]byte, mustRowBytes(t, typ, n))
				if err := QuantizeRow(typ, x, buf); err != nil {
					t.Fatal(err)
				}
				y := make([]float32, n)
				if err := DequantizeRow(typ, buf, y); err != nil {
					t.Fatal(err)
				}
				bs := max(32, typ.BlockSize())
				var num, den, worst float64
				for blk := 0; blk < n/bs; blk++ {
					amax := 0.0
					for _, v := range x[blk*bs : blk*bs+bs] {
						amax = max(amax, math.Abs(float64(v)))
					}
					for i := blk * bs; i < blk*bs+bs; i++ {
						e := float64(y[i]) - float64(x[i])
						num += e * e
						den += float64(x[i]) * float64(x[i])
						worst = max(worst, math.Abs(e)/amax)
					}
				}
				rms := math.Sqrt(num / den)
				if g.name == "tiny" {
					if lim := max(1.5*b.rms, 0.06); rms > lim {
						t.Errorf("relative RMS error %.4g > %.4g", rms, lim)
					}
					return
				}
				if rms > b.rms {
					t.Errorf("relative RMS error %.4g > %.4g", rms, b.rms)
				}
				if worst > b.maxFrac {
					t.Errorf("max error %.4g of the block maximum > %.4g", worst, b.maxFrac)
				}
			})
		}
	}
}

// TestRoundTripExact covers inputs a format represents exactly: zeros for
// every type, and integer grids matching the legacy formats' quant ranges.
func TestRoundTripExact(t *testing.T) {
	grid := func(lo, hi int, scale float32) []float32 {
		x := make([]float32, 64)
		for i := range x {
			x[i] = float32(lo+i%(hi-lo+1)) * scale
		}
		return x
	}
	cases := []struct {
		typ Type
		x   []float32
	}{
		{Q8_0, grid(-127, 127, 0.5)[:32]},
		{Q8_1, grid(-127, 127, 0.25)[:32]},
		{Q4_0, grid(-8, 7, 1)},
		{Q4_1, grid(0, 15, 2)},
		{Q5_0, grid(-16, 15, 0.125)},
		{Q5_1, grid(0, 31, 1)},
		{F16, []float32{1, -2, 65504, 0.5, float32(math.Ldexp(1, -24))}},
		{BF16, []float32{1, -3, math.Float32frombits(0x7f7f0000), float32(math.Ldexp(1, -133))}},
	}
	for _, typ := range allTypes {
		cases = append(cases, struct {
			typ Type
			x   []float32
		}{typ, make([]float32, 512)})
	}
	for _, c := range cases {
		buf := make([]byte, mustRowBytes(t, c.typ, len(c.x)))
		if err := QuantizeRow(c.typ, c.x, buf); err != nil {
			t.Fatal(err)
		}
		y := make([]float32, len(c.x))
		if err := DequantizeRow(c.typ, buf, y); err != nil {
			t.Fatal(err)
		}
		for i := range y {
			if y[i] != c.x[i] {
				t.Errorf("%s: element %d: %v -> %v", c.typ, i, c.x[i], y[i])
				break
			}
		}
	}
}

// TestQuantizeQ8K checks the activation format against its definition: the
// largest-magnitude element maps to -127, d = 1/iscale, and bsums are the
// sums of each 16 quants.
func TestQuantizeQ8K(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 256)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	x[77] = 9 // the extreme element, positive: maps to -127 with a negative d
	buf := make([]byte, 292)
	if err := QuantizeRow(Q8_K, x, buf); err != nil {
		t.Fatal(err)
	}
	if q := int8(buf[4+77]); q != -127 {
		t.Errorf("quant of the extreme element = %d, want -127", q)
	}
	if d := math.Float32frombits(refLE32(buf)); d != 1/(-127/float32(9)) {
		t.Errorf("d = %v, want %v", d, 1/(-127/float32(9)))
	}
	for g := 0; g < 16; g++ {
		sum := 0
		for l := 0; l < 16; l++ {
			sum += int(int8(buf[4+16*g+l]))
		}
		if got := int16(uint16(buf[260+2*g]) | uint16(buf[261+2*g])<<8); int(got) != sum {
			t.Errorf("bsums[%d] = %d, want %d", g, got, sum)
		}
	}
}

func TestQuantizeErrors(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		name string
		typ  Type
		x    []float32
		dst  int
	}{
		{"partial block", Q4_0, make([]float32, 33), 20},
		{"short dst", Q4_0, make([]float32, 32), 17},
		{"long dst", Q8_0, make([]float32, 32), 35},
		{"nan", Q4_K, append(make([]float32, 255), nan), 144},
		{"inf", Q8_0, append(make([]float32, 31), inf), 34},
		{"beyond fp16", Q4_1, append(make([]float32, 31), 70000), 20},
		{"unknown type", Type(99), make([]float32, 32), 32},
	}
	for _, c := range cases {
		if err := QuantizeRow(c.typ, c.x, make([]byte, c.dst)); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	// Plain float formats take any value.
	if err := QuantizeRow(F16, []float32{nan, inf, 1e9}, make([]byte, 6)); err != nil {
		t.Errorf("F16 special values: %v", err)
	}
}

func TestDequantizeErrors(t *testing.T) {
	cases := []struct {
		name string
		typ  Type
		src  int
		n    int
	}{
		{"partial block", Q4_0, 36, 33},
		{"short src", Q6_K, 209, 256},
		{"short f32", F32, 7, 2},
		{"unknown type", Type(4), 100, 32},
	}
	for _, c := range cases {
		if err := DequantizeRow(c.typ, make([]byte, c.src), make([]float32, c.n)); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestDequantizeNoAlloc(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, typ := range allTypes {
		src := randomRow(rng, typ, 512)
		dst := make([]float32, 512)
		allocs := testing.AllocsPerRun(20, func() {
			if err := DequantizeRow(typ, src, dst); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per call", typ, allocs)
		}
	}
}
