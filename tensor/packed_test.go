package tensor

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-llm/kiln/parallel"
)

// TestRepackRoundTrip checks, for each type with a packed layout, that
// unpacking a repacked matrix restores the GGUF bytes exactly, that
// DequantizeRow decodes every packed row bit for bit as the GGUF row (rows
// longer than its gathering buffer too), that Repack refuses what it
// cannot pack, and that Row refuses a packed matrix.
func TestRepackRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		typ  Type
		cols []int
		// placed checks a few bytes of row 3 of the first group's first
		// block against where the layout puts them.
		placed func(p, row []byte) bool
	}{
		{Q4_0, []int{32, 96, 320, 4128}, func(p, row []byte) bool {
			// Row 3's scale, then its quants 4..7 at the second 32-byte run.
			return bytes.Equal(p[6:8], row[0:2]) && bytes.Equal(p[16+32+12:16+32+16], row[6:10])
		}},
		{Q5_0, []int{32, 96, 320, 3520}, func(p, row []byte) bool {
			// Row 3's scale, its quants 4..7 at the second run, and the
			// fifth bits of elements 5 (bit 1 of byte 1) and 30 (16+4*3+2:
			// bit 7 of byte 2).
			qh := uint32(row[2]) | uint32(row[3])<<8 | uint32(row[4])<<16 | uint32(row[5])<<24
			return bytes.Equal(p[6:8], row[0:2]) && bytes.Equal(p[16+32+12:16+32+16], row[10:14]) &&
				uint32(p[144+12+1]>>1&1) == qh>>5&1 && uint32(p[144+12+2]>>7) == qh>>30&1
		}},
		{Q4_1, []int{32, 96, 320, 3520}, func(p, row []byte) bool {
			// Row 3's scale, its minimum after the runs, its quants 4..7 at
			// the second run.
			return bytes.Equal(p[6:8], row[0:2]) && bytes.Equal(p[144+6:144+8], row[2:4]) &&
				bytes.Equal(p[16+32+12:16+32+16], row[8:12])
		}},
		{Q5_1, []int{32, 96, 320, 3520}, func(p, row []byte) bool {
			// As Q5_0 and Q4_1: scale, minimum after the fifth bits, quants
			// 4..7, fifth bits of elements 5 and 30.
			qh := uint32(row[4]) | uint32(row[5])<<8 | uint32(row[6])<<16 | uint32(row[7])<<24
			return bytes.Equal(p[6:8], row[0:2]) && bytes.Equal(p[176+6:176+8], row[2:4]) &&
				bytes.Equal(p[16+32+12:16+32+16], row[12:16]) &&
				uint32(p[144+12+1]>>1&1) == qh>>5&1 && uint32(p[144+12+2]>>7) == qh>>30&1
		}},
		{Q8_0, []int{32, 96, 320, 2080}, func(p, row []byte) bool {
			// Row 3's scale, then its quants 20..23 at the sixth run.
			return bytes.Equal(p[6:8], row[0:2]) && bytes.Equal(p[16+5*32+12:16+5*32+16], row[22:26])
		}},
		{Q4_K, []int{256, 768, 1280, 4608}, func(p, row []byte) bool {
			// Row 3's d and dmin, its quant bytes 44..47 (chunk 1, run 3),
			// and its scales and minimums as the kernels rebuild them.
			if !bytes.Equal(p[6:8], row[0:2]) || !bytes.Equal(p[22:24], row[2:4]) ||
				!bytes.Equal(p[128+256+96+12:128+256+96+16], row[16+44:16+48]) {
				return false
			}
			for s := 0; s < 8; s++ {
				sc, m := scaleMinK4(row[4:16], s)
				if psc, pm := packedScaleMinK4(p, 3, s); psc != sc || pm != m {
					return false
				}
			}
			return true
		}},
		{Q5_K, []int{256, 768, 1280, 4608}, func(p, row []byte) bool {
			// Row 3's d, its quant bytes 44..47 (chunk 1, run 3) and its
			// qh bytes 20..23 (high-bit run 5).
			return bytes.Equal(p[6:8], row[0:2]) &&
				bytes.Equal(p[128+256+96+12:128+256+96+16], row[48+44:48+48]) &&
				bytes.Equal(p[1152+5*32+12:1152+5*32+16], row[16+20:16+24])
		}},
		{Q6_K, []int{256, 768, 2560, 4608}, func(p, row []byte) bool {
			// Row 3's d and scales, and its 6-bit quants where the
			// kernels read them.
			if !bytes.Equal(p[6:8], row[208:210]) {
				return false
			}
			for s := 0; s < 16; s++ {
				if p[16+32*(s/4)+q4kScalePos(3, s%4)] != row[192+s] {
					return false
				}
			}
			for e := 0; e < 256; e++ {
				if packedQ6KQuant(p, 3, e) != q6kQuant(row, e) {
					return false
				}
			}
			// Element 64+32+4*5+1 (chunk 1, high nibble of run 5, byte 1).
			return p[144+384+32*5+12+1]>>4 == q6kQuant(row, 64+32+21)&0xf
		}},
	}
	for _, c := range cases {
		for _, rows := range []int{8, 13, 40} {
			for _, cols := range c.cols {
				orig := randomRow(rng, c.typ, rows*cols)
				m, err := NewMatrix(c.typ, rows, cols, bytes.Clone(orig))
				if err != nil {
					t.Fatal(err)
				}
				p, ok := Repack(m)
				if !ok || !p.Packed() {
					t.Fatalf("%s %dx%d: Repack refused", c.typ, rows, cols)
				}
				if bytes.Equal(p.Data, orig) {
					t.Fatalf("%s %dx%d: Repack left the bytes as they were", c.typ, rows, cols)
				}
				rb := m.rowBytes()
				if !c.placed(p.Data, orig[3*rb:4*rb]) {
					t.Fatalf("%s %dx%d: row 3 is not where the layout puts it", c.typ, rows, cols)
				}
				want, got := make([]float32, cols), make([]float32, cols)
				for r := 0; r < rows; r++ {
					if err := DequantizeRow(c.typ, orig[r*rb:(r+1)*rb], want); err != nil {
						t.Fatal(err)
					}
					if err := p.DequantizeRow(r, got); err != nil {
						t.Fatal(err)
					}
					for j := range want {
						if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
							t.Fatalf("%s %dx%d: row %d value %d = %v from the packed layout, %v from GGUF's", c.typ, rows, cols, r, j, got[j], want[j])
						}
					}
				}
				if p.DequantizeRow(rows, got) == nil || p.DequantizeRow(0, got[:cols-1]) == nil {
					t.Fatalf("%s %dx%d: DequantizeRow accepted a row out of range or a short buffer", c.typ, rows, cols)
				}
				if u := p.unpack(); !bytes.Equal(u.Data, orig) || u.Packed() {
					t.Fatalf("%s %dx%d: unpack does not restore the GGUF bytes", c.typ, rows, cols)
				}
				if _, again := Repack(p); again {
					t.Fatalf("%s %dx%d: a packed matrix was packed again", c.typ, rows, cols)
				}
				func() {
					defer func() {
						if recover() == nil {
							t.Fatalf("%s %dx%d: Row of a packed matrix did not panic", c.typ, rows, cols)
						}
					}()
					p.Row(0)
				}()
			}
		}
	}
	for _, c := range []struct {
		typ  Type
		rows int
	}{{Q4_0, 7}, {Q4_1, 7}, {Q5_0, 7}, {Q5_1, 7}, {Q4_K, 7}, {Q5_K, 7}, {Q8_0, 7}, {Q6_K, 7}, {Q3_K, 16}} {
		m, err := NewMatrix(c.typ, c.rows, 256, randomRow(rng, c.typ, c.rows*256))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := Repack(m); ok {
			t.Errorf("%s with %d rows: Repack packed it", c.typ, c.rows)
		}
	}
}

// TestPackedMatMul holds MatMul on a repacked matrix of every type with a packed layout to the float64
// reference of the integer route (1e-5 of sum|terms|, as
// TestMatMulIntegerRoute does for the GGUF layout), for whole and partial
// groups, one input, groups of four with remainders and batches longer
// than an input tile; results must agree bit for bit over worker counts,
// and MatMulFloat must give exactly what it gives on the GGUF layout.
func TestPackedMatMul(t *testing.T) {
	for _, c := range []struct {
		typ  Type
		cols []int
	}{
		{Q4_0, []int{32, 288, 2048}},
		{Q4_1, []int{32, 288, 2048}},
		{Q5_0, []int{32, 288, 2048}},
		{Q5_1, []int{32, 288, 2048}},
		{Q8_0, []int{32, 288, 2048}},
		{Q4_K, []int{256, 768, 2048}},
		{Q5_K, []int{256, 768, 2048}},
		{Q6_K, []int{256, 768, 2048}},
	} {
		kind, _ := actType(c.typ)
		for _, rows := range []int{8, 13, 64, 101} {
			for _, cols := range c.cols {
				rng := rand.New(rand.NewPCG(uint64(rows), uint64(cols)))
				orig, err := NewMatrix(c.typ, rows, cols, randomRow(rng, c.typ, rows*cols))
				if err != nil {
					t.Fatal(err)
				}
				m, _ := Repack(Matrix{Type: c.typ, Rows: rows, Cols: cols, Data: bytes.Clone(orig.Data)})
				for _, n := range []int{1, 3, 4, 6, 13, 70} {
					if cols == 2048 && n == 70 && rows > 13 {
						continue // the long batch once per row length is enough
					}
					t.Run(fmt.Sprintf("%s/%dx%d/n%d", c.typ, rows, cols, n), func(t *testing.T) {
						x := make([]float32, n*cols)
						for i := range x {
							x[i] = float32(rng.NormFloat64())
						}
						checkPacked(t, orig, m, kind, x, n)
					})
				}
			}
		}
	}
}

// checkPacked holds MatMul on m, the packed form of orig, to refIntDots
// on n inputs x, for every kernel set and 1-3 workers (bit for bit), and
// MatMulFloat on m to MatMulFloat on orig (bit for bit).
func checkPacked(t *testing.T, orig, m Matrix, kind Type, x []float32, n int) {
	t.Helper()
	rows := orig.Rows
	var a qacts
	a.alloc(kind, n, orig.Cols)
	a.quantize(x, 0, n, portableKernels)
	ref, abs := refIntDots(orig, &a, n)
	for _, ks := range hostKernels() {
		var first []float32
		for _, workers := range []int{1, 2, 3} {
			p := parallel.New(workers)
			dst := make([]float32, n*rows)
			matMul(dst, m, x, n, p, ks, true)
			p.Close()
			if first == nil {
				first = dst
				continue
			}
			for i := range dst {
				if math.Float32bits(dst[i]) != math.Float32bits(first[i]) {
					t.Fatalf("%s: workers=%d differs from workers=1 at %d", ks.name, workers, i)
				}
			}
		}
		worst := 0.0
		for i, got := range first {
			e := math.Abs(float64(got)-ref[i]) / max(abs[i], math.SmallestNonzeroFloat64)
			if e > 1e-5 {
				t.Fatalf("%s: dst[%d] = %v, reference %v (error %.3g of sum|terms|)", ks.name, i, got, ref[i], e)
			}
			worst = max(worst, e)
		}
		t.Logf("%s: largest error %.3g of sum|terms|", ks.name, worst)
	}
	if n > 4 {
		return
	}
	got, want := make([]float32, n*rows), make([]float32, n*rows)
	MatMulFloat(got, m, x, n, nil)
	MatMulFloat(want, orig, x, n, nil)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("MatMulFloat[%d] on the packed matrix = %v, on the GGUF layout %v", i, got[i], want[i])
		}
	}
}
