package sample

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestGreedy(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	tests := []struct {
		name   string
		logits []float32
		want   int
	}{
		{"empty", nil, -1},
		{"single", []float32{-3}, 0},
		{"max in middle", []float32{1, 5, 2}, 1},
		{"tie picks lowest id", []float32{1, 7, 7, 3}, 1},
		{"negative", []float32{-5, -2, -9}, 1},
		{"nan never wins", []float32{nan, 1, nan, 2}, 3},
		{"all nan", []float32{nan, nan}, -1},
		{"inf wins", []float32{1, inf, 2}, 1},
		{"all -inf", []float32{float32(math.Inf(-1)), float32(math.Inf(-1))}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Greedy(tt.logits); got != tt.want {
				t.Errorf("Greedy(%v) = %d, want %d", tt.logits, got, tt.want)
			}
		})
	}
}

// TestExpNeg checks the fast exponential against math.Exp over its whole
// domain: relative error below 1e-15, and 0 below expMin.
func TestExpNeg(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	xs := []float64{0, math.Copysign(0, -1), -1e-300, -1e-10, -0.5, -math.Ln2, -1, -50, -699.9, expMin}
	for range 200000 {
		xs = append(xs, -r.Float64()*700, -r.Float64()*2)
	}
	var worst float64
	for _, x := range xs {
		got, want := expNeg(x), math.Exp(x)
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 1e-15 {
		t.Errorf("max relative error %.3g, want <= 1e-15", worst)
	}
	t.Logf("max relative error %.3g over %d points", worst, len(xs))
	for _, x := range []float64{-700.5, -1e4, math.Inf(-1), math.NaN()} {
		if got := expNeg(x); got != 0 {
			t.Errorf("expNeg(%v) = %v, want 0", x, got)
		}
	}
}
