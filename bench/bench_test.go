package bench

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestScanMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 8, 128, 136, 4096, 1<<16 + 72} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		var want uint64
		for i := 0; i+8 <= n; i += 8 {
			want += le64(b[i:])
		}
		if got := scan(b); got != want {
			t.Errorf("scan(%d bytes) = %d, want %d", n, got, want)
		}
	}
}

func TestFMAChunk(t *testing.T) {
	for _, n := range []int{1, 100, 1000} {
		flops, r := fmaChunk(n)
		if flops < float64(n)*16 {
			t.Errorf("fmaChunk(%d) counted %v FLOPs, want at least %d", n, flops, n*16)
		}
		if !(r > 0) || math.IsInf(float64(r), 0) {
			t.Errorf("fmaChunk(%d) result %v, want positive and finite", n, r)
		}
	}
	if hasWideFMA() {
		// Each lane accumulates x*x = 1e-6 per iteration on each of 10
		// accumulators: 1000 iterations give 0.01 (float32 rounding < 0.1%).
		_, r := fmaChunk(1000)
		if math.Abs(float64(r)-0.01) > 1e-5 {
			t.Errorf("fmaChunk(1000) lane sum %v, want 0.01", r)
		}
	}
}

// TestInt8Chunk checks the 8-bit loop's count and, for the vector kernel,
// its exact result: each of 6 chains gains 4 per lane per iteration.
func TestInt8Chunk(t *testing.T) {
	for _, n := range []int{1, 100, 1000} {
		ops, r := int8Chunk(n)
		if ops < float64(n)*16 {
			t.Errorf("int8Chunk(%d) counted %v ops, want at least %d", n, ops, n*16)
		}
		if !(r > 0) {
			t.Errorf("int8Chunk(%d) result %v, want positive", n, r)
		}
		if hasWideFMA() && r != float32(24*n) {
			t.Errorf("int8Chunk(%d) lane sum %v, want %d", n, r, 24*n)
		}
	}
}

// TestVNNIChunk checks the VNNI loop's exact result where the CPU has
// the instructions (each of 10 chains gains 4 per lane per iteration; two
// are summed), and that PeakVNNI refuses to measure elsewhere.
func TestVNNIChunk(t *testing.T) {
	if !hasVNNI {
		if _, err := PeakVNNI(context.Background(), 1, time.Millisecond); err == nil {
			t.Error("PeakVNNI without AVX512-VNNI: no error")
		}
		t.Skip("no AVX512-VNNI on this CPU")
	}
	for _, n := range []int{1, 100, 1000} {
		ops, r := vnniChunk(n)
		if ops != float64(n)*10*64 || r != float32(8*n) {
			t.Errorf("vnniChunk(%d) = %v ops, lane sum %v; want %d, %d", n, ops, r, n*640, 8*n)
		}
	}
	pv, err := PeakVNNI(context.Background(), 2, 5*time.Millisecond)
	if err != nil || pv < 1e7 || pv > 1e14 {
		t.Errorf("PeakVNNI(2) = %g op/s, %v; want within [1e7, 1e14]", pv, err)
	}
}

func TestBandwidthAndPeak(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		threads, size int
	}{
		{1, 1 << 20},
		{2, 4 << 20},
		{3, 1<<20 + 999},
	}
	for _, tc := range tests {
		bw, err := Bandwidth(ctx, tc.threads, tc.size, 2)
		if err != nil {
			t.Fatalf("Bandwidth(%d, %d): %v", tc.threads, tc.size, err)
		}
		// Anything below 10 MB/s or above 10 TB/s is a broken measurement.
		if bw < 1e7 || bw > 1e13 {
			t.Errorf("Bandwidth(%d, %d) = %g B/s, outside [1e7, 1e13]", tc.threads, tc.size, bw)
		}
		pk, err := Peak(ctx, tc.threads, 5*time.Millisecond)
		if err != nil {
			t.Fatalf("Peak(%d): %v", tc.threads, err)
		}
		if pk < 1e7 || pk > 1e14 {
			t.Errorf("Peak(%d) = %g FLOP/s, outside [1e7, 1e14]", tc.threads, pk)
		}
		pi, err := PeakInt8(ctx, tc.threads, 5*time.Millisecond)
		if err != nil {
			t.Fatalf("PeakInt8(%d): %v", tc.threads, err)
		}
		if pi < 1e7 || pi > 1e14 {
			t.Errorf("PeakInt8(%d) = %g op/s, outside [1e7, 1e14]", tc.threads, pi)
		}
	}
}

func TestBadArguments(t *testing.T) {
	ctx := context.Background()
	if _, err := Bandwidth(ctx, 0, 1<<20, 1); err == nil {
		t.Error("Bandwidth with 0 threads: no error")
	}
	if _, err := Bandwidth(ctx, 4, 100, 1); err == nil {
		t.Error("Bandwidth with a 100-byte buffer: no error")
	}
	if _, err := Peak(ctx, 1, 0); err == nil {
		t.Error("Peak with zero duration: no error")
	}
	if _, err := PeakInt8(ctx, 0, time.Millisecond); err == nil {
		t.Error("PeakInt8 with 0 threads: no error")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Bandwidth(canceled, 1, 1<<20, 1); err == nil {
		t.Error("Bandwidth with a canceled context: no error")
	}
}

func BenchmarkScan(b *testing.B) {
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		scan(buf)
	}
}

func BenchmarkInt8(b *testing.B) {
	var ops float64
	for b.Loop() {
		f, _ := int8Chunk(peakChunk)
		ops += f
	}
	b.ReportMetric(ops/b.Elapsed().Seconds()/1e9, "GOP/s")
}

func BenchmarkFMA(b *testing.B) {
	var flops float64
	for b.Loop() {
		f, _ := fmaChunk(peakChunk)
		flops += f
	}
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
