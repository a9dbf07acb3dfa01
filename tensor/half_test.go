package tensor

import (
	"math"
	"testing"
)

// TestF16Exhaustive checks every one of the 65536 halves: widening against
// the float64 definition, and narrowing back (identity for non-NaN, quiet
// NaN for NaN), plus round-to-nearest-even at every midpoint between
// neighbouring halves and one float32 ulp either side of it.
func TestF16Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		b := []byte{byte(h), byte(h >> 8)}
		want := refHalf(b)
		got := F16ToF32(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("F16ToF32(%#04x) = %v, want NaN", h, got)
			}
			back := F32ToF16(got)
			if back&0x7c00 != 0x7c00 || back&0x3ff == 0 || back&0x200 == 0 || back&0x8000 != h&0x8000 {
				t.Fatalf("F32ToF16(NaN from %#04x) = %#04x, want a quiet NaN with the same sign", h, back)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("F16ToF32(%#04x) = %v, want %v", h, got, want)
		}
		if back := F32ToF16(got); back != h {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, back)
		}
	}

	// Midpoints between consecutive non-negative finite halves a, a+1 (and
	// between 65504 and the first value past it, 65536, which must overflow
	// only from the midpoint 65520 on). Every midpoint is exact in float32.
	for a := uint16(0); a < 0x7c00; a++ {
		lo := float64(F16ToF32(a))
		var hi float64
		if a == 0x7bff {
			hi = 65536
		} else {
			hi = float64(F16ToF32(a + 1))
		}
		mid := float32((lo + hi) / 2)
		if float64(mid) != (lo+hi)/2 {
			t.Fatalf("midpoint of %#04x not exact in float32", a)
		}
		even := a
		if a&1 == 1 {
			even = a + 1
		}
		below := math.Nextafter32(mid, 0)
		above := math.Nextafter32(mid, float32(math.Inf(1)))
		cases := []struct {
			in   float32
			want uint16
		}{{mid, even}, {below, a}, {above, a + 1}}
		for _, c := range cases {
			if got := F32ToF16(c.in); got != c.want {
				t.Fatalf("F32ToF16(%v) = %#04x, want %#04x", c.in, got, c.want)
			}
			if got := F32ToF16(-c.in); got != c.want|0x8000 {
				t.Fatalf("F32ToF16(%v) = %#04x, want %#04x", -c.in, got, c.want|0x8000)
			}
		}
	}
}

func TestF32ToF16Special(t *testing.T) {
	cases := []struct {
		in   float32
		want uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},
		{65519.996, 0x7bff},
		{65520, 0x7c00}, // midpoint to 65536: ties to even = inf
		{1e10, 0x7c00},
		{float32(math.Inf(-1)), 0xfc00},
		{float32(math.Ldexp(1, -24)), 0x0001},
		{float32(math.Ldexp(1, -25)), 0x0000},   // tie to even (0)
		{float32(math.Ldexp(1.5, -25)), 0x0001}, // above the tie
		{float32(math.Ldexp(3, -25)), 0x0002},   // 1.5 ulp ties up to 2
		{float32(math.Ldexp(1, -14) - math.Ldexp(1, -25)), 0x0400}, // rounds up into the normals
		{math.Float32frombits(1), 0},                               // float32 subnormal
	}
	for _, c := range cases {
		if got := F32ToF16(c.in); got != c.want {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

// TestBF16Exhaustive checks all 65536 bfloat16 values and RNE narrowing at
// every midpoint.
func TestBF16Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := BF16ToF32(h)
		if math.Float32bits(f) != uint32(h)<<16 {
			t.Fatalf("BF16ToF32(%#04x) bits %#08x", h, math.Float32bits(f))
		}
		back := F32ToBF16(f)
		if math.IsNaN(float64(f)) {
			if back&0x7f80 != 0x7f80 || back&0x40 == 0 || back&0x8000 != h&0x8000 {
				t.Fatalf("F32ToBF16(NaN %#04x) = %#04x, want a quiet NaN", h, back)
			}
			continue
		}
		if back != h {
			t.Fatalf("F32ToBF16(BF16ToF32(%#04x)) = %#04x", h, back)
		}
		if h&0x7fff >= 0x7f80 {
			continue // no finite successor
		}
		mid := math.Float32frombits(uint32(h)<<16 | 0x8000)
		even := h
		if h&1 == 1 {
			even = h + 1
		}
		if got := F32ToBF16(mid); got != even {
			t.Fatalf("F32ToBF16(midpoint after %#04x) = %#04x, want %#04x", h, got, even)
		}
		if got := F32ToBF16(math.Float32frombits(uint32(h)<<16 | 0x7fff)); got != h {
			t.Fatalf("F32ToBF16(below midpoint after %#04x) = %#04x", h, got)
		}
		if got := F32ToBF16(math.Float32frombits(uint32(h)<<16 | 0x8001)); got != h+1 {
			t.Fatalf("F32ToBF16(above midpoint after %#04x) = %#04x", h, got)
		}
	}
}
