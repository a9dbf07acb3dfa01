package model

import (
	"math"
	"testing"
)

// TestExpfSilu holds the float32 exponential and silu to float64 references
// over the range activations take, and at the edges of float32's range.
func TestExpfSilu(t *testing.T) {
	var worstExp, worstSilu float64
	for x := float32(-87); x <= 88.5; x += 0.00731 {
		want := math.Exp(float64(x))
		got := float64(expf(x))
		e := math.Abs(got-want) / want
		worstExp = max(worstExp, e)
		if e > 3e-7 {
			t.Fatalf("expf(%v) = %v, want %v (relative error %.3g)", x, got, want, e)
		}
		if x < -30 || x > 30 {
			continue
		}
		ws := float64(x) / (1 + math.Exp(-float64(x)))
		gs := float64(silu(x))
		if es := math.Abs(gs-ws) / max(math.Abs(ws), 1e-30); es > 5e-7 {
			t.Fatalf("silu(%v) = %v, want %v (relative error %.3g)", x, gs, ws, es)
		} else {
			worstSilu = max(worstSilu, es)
		}
	}
	for _, tc := range []struct{ x, want float32 }{
		{0, 1}, {89, float32(math.Inf(1))}, {-88, 0}, {float32(math.Inf(1)), float32(math.Inf(1))}, {float32(math.Inf(-1)), 0},
	} {
		if got := expf(tc.x); got != tc.want {
			t.Errorf("expf(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
	if got := expf(float32(math.NaN())); got == got {
		t.Errorf("expf(NaN) = %v, want NaN", got)
	}
	if got := silu(-100); got != 0 {
		t.Errorf("silu(-100) = %v, want 0", got)
	}
	t.Logf("max relative error: expf %.3g, silu %.3g", worstExp, worstSilu)
}
