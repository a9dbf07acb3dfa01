package sample

import (
	"math"
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

func TestSamplerZeroTemperatureIsGreedy(t *testing.T) {
	s := NewSampler(0, 1)
	if got := s.Sample([]float32{0.1, 0.9, 0.3}); got != 1 {
		t.Fatalf("got %d, want 1", got)
	}
}

func TestSamplerSeedDeterminismAndDistribution(t *testing.T) {
	logits := []float32{0, float32(math.Log(3)), float32(math.Log(6))} // probs 0.1, 0.3, 0.6
	a, b := NewSampler(1, 42), NewSampler(1, 42)
	counts := make([]int, 3)
	const n = 20000
	for i := 0; i < n; i++ {
		x, y := a.Sample(logits), b.Sample(logits)
		if x != y {
			t.Fatalf("step %d: same seed gave %d and %d", i, x, y)
		}
		counts[x]++
	}
	want := []float64{0.1, 0.3, 0.6}
	for i, c := range counts {
		// 5 standard deviations of a binomial proportion at n=20000 is < 0.018.
		if got := float64(c) / n; math.Abs(got-want[i]) > 0.018 {
			t.Errorf("token %d frequency %.4f, want %.2f", i, got, want[i])
		}
	}
}

func TestSamplerLowTemperatureSharpens(t *testing.T) {
	s := NewSampler(0.05, 7)
	for i := 0; i < 1000; i++ {
		if got := s.Sample([]float32{1, 1.5, 0}); got != 1 {
			t.Fatalf("temperature 0.05 picked %d (logit gap 0.5 gives p < 5e-5)", got)
		}
	}
}
