package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// extremeHalves are the fp16 scale values forced into random blocks: zeros,
// subnormals, the normal range edges, max finite, negatives, inf and NaN.
// The last entry is a placeholder for a random value.
var extremeHalves = []uint16{
	0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x3c00, 0xbc00, 0x3555,
	0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe00, 0,
}

// extremeF32 are the float32 scales forced into Q8_K blocks.
var extremeF32 = []float32{
	0, float32(math.Copysign(0, -1)), math.Float32frombits(1), math.SmallestNonzeroFloat32 * 3,
	1, -1, 1e-38, math.MaxFloat32, -math.MaxFloat32,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 0,
}

// rowLengths are the element counts tested per type: odd block counts
// (1, 3, 7 blocks) and, for plain floats, odd element counts.
func rowLengths(t Type) []int {
	if t.BlockSize() == 1 {
		return []int{1, 3, 31, 33, 256}
	}
	bs := t.BlockSize()
	return []int{bs, 3 * bs, 7 * bs}
}

// TestDequantizeMatchesReference compares DequantizeRow with the float64
// per-element reference decoders on random blocks whose scale fields cycle
// through extremeHalves (or extremeF32): results must be identical after
// rounding the reference to float32 (any NaN matches any NaN).
func TestDequantizeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, typ := range allTypes {
		for _, n := range rowLengths(typ) {
			t.Run(fmt.Sprintf("%s/%d", typ, n), func(t *testing.T) {
				trials := 60
				bb := typ.BlockBytes()
				for trial := 0; trial < trials; trial++ {
					src := make([]byte, mustRowBytes(t, typ, n))
					for i := range src {
						src[i] = byte(rng.Uint32())
					}
					for blk := 0; blk < len(src)/bb; blk++ {
						o := blk * bb
						k := trial*7 + blk
						if typ == Q8_K {
							v := extremeF32[k%len(extremeF32)]
							if k%len(extremeF32) == len(extremeF32)-1 {
								v = float32(rng.NormFloat64())
							}
							putLE32(src[o:], math.Float32bits(v))
						}
						for fi, f := range halfFields[typ] {
							idx := (k + 5*fi) % len(extremeHalves)
							h := extremeHalves[idx]
							if idx == len(extremeHalves)-1 {
								h = uint16(rng.Uint32())
							}
							putLE16(src[o+f:], h)
						}
					}
					got := make([]float32, n)
					if err := DequantizeRow(typ, src, got); err != nil {
						t.Fatal(err)
					}
					want := refDecode(typ, src, n)
					for i := range got {
						if !sameFloat(got[i], float32(want[i])) {
							b := i / typ.BlockSize() * bb
							t.Fatalf("trial %d element %d: got %v (%#08x), reference %v; block % x",
								trial, i, got[i], math.Float32bits(got[i]), want[i], src[b:b+bb])
						}
					}
				}
			})
		}
	}
}

func mustRowBytes(t *testing.T, typ Type, n int) int {
	t.Helper()
	nb, err := typ.RowBytes(n)
	if err != nil {
		t.Fatal(err)
	}
	return nb
}

// TestDequantizeKnownBlocks decodes hand-built blocks whose values were
// worked out by hand from the format definitions.
func TestDequantizeKnownBlocks(t *testing.T) {
	type spot struct {
		i    int
		want float32
	}
	cases := []struct {
		name  string
		typ   Type
		n     int // elements; 0 means one block
		block func() []byte
		all   func(i int) float32 // expected value of every element, or nil
		spots []spot
	}{
		{
			name: "q4_0 d=1 nibbles 0..15", typ: Q4_0,
			block: func() []byte {
				b := []byte{0x00, 0x3c} // d = 1
				for j := 0; j < 16; j++ {
					b = append(b, byte(j|(15-j)<<4))
				}
				return b
			},
			all: func(i int) float32 {
				if i < 16 {
					return float32(i - 8) // -8..7
				}
				return float32(7 - (i - 16)) // 7..-8
			},
		},
		{
			name: "q4_1 d=0.5 m=-2", typ: Q4_1,
			block: func() []byte {
				b := []byte{0x00, 0x38, 0x00, 0xc0}
				for j := 0; j < 16; j++ {
					b = append(b, byte(j|j<<4))
				}
				return b
			},
			all: func(i int) float32 { return 0.5*float32(i%16) - 2 },
		},
		{
			name: "q5_0 d=2 fifth bit on first half", typ: Q5_0,
			block: func() []byte {
				b := []byte{0x00, 0x40, 0xff, 0xff, 0x00, 0x00}
				for j := 0; j < 16; j++ {
					b = append(b, byte(j|(15-j)<<4))
				}
				return b
			},
			all: func(i int) float32 {
				if i < 16 {
					return 2 * float32(i) // q = 16+i
				}
				return -2 * float32(i-15) // q = 15-(i-16) = 31-i, minus 16
			},
		},
		{
			name: "q5_1 d=1 m=0.25 fifth bit on second half", typ: Q5_1,
			block: func() []byte {
				b := []byte{0x00, 0x3c, 0x00, 0x34, 0x00, 0x00, 0xff, 0xff}
				for j := 0; j < 16; j++ {
					b = append(b, byte(j|j<<4))
				}
				return b
			},
			all: func(i int) float32 {
				if i < 16 {
					return float32(i) + 0.25
				}
				return float32(i) + 0.25 // 16 + (i-16)
			},
		},
		{
			name: "q8_0 d=0.25", typ: Q8_0,
			block: func() []byte {
				b := []byte{0x00, 0x34}
				for j := 0; j < 32; j++ {
					b = append(b, byte(int8(8*j-128)))
				}
				return b
			},
			all: func(i int) float32 { return 2*float32(i) - 32 },
		},
		{
			name: "q8_1 d=-1", typ: Q8_1,
			block: func() []byte {
				b := []byte{0x00, 0xbc, 0x12, 0x34}
				for j := 0; j < 32; j++ {
					b = append(b, byte(int8(127-j)))
				}
				return b
			},
			all: func(i int) float32 { return float32(i - 127) },
		},
		{
			// scales[s] = s | (15-s)<<4; every qs byte 0xe4 holds 0,1,2,3 in
			// its four 2-bit fields, so quant = (e%128)/32; d=1, dmin=0.5.
			name: "q2_k", typ: Q2_K,
			block: func() []byte {
				b := make([]byte, 84)
				for s := 0; s < 16; s++ {
					b[s] = byte(s | (15-s)<<4)
				}
				for i := 16; i < 80; i++ {
					b[i] = 0xe4
				}
				copy(b[80:], []byte{0x00, 0x3c, 0x00, 0x38})
				return b
			},
			spots: []spot{{0, -7.5}, {37, 2*1 - 6.5}, {130, 0 - 3.5}, {200, 12*2 - 1.5}, {255, 15 * 3}},
		},
		{
			// d = 1. Six-bit scales (stored value u, scale u-32): u=0 for
			// sub-block 3, 33 for 5, 63 for 9, 40 for 15, 34 elsewhere.
			// qs bytes 0xe4 (low bits (e%128)/32); hmask 0x0f: bits 0-3
			// set, so the first half's quants are 0..3 and the second's -4..-1.
			name: "q3_k", typ: Q3_K,
			block: func() []byte {
				b := make([]byte, 110)
				for i := 0; i < 32; i++ {
					b[i] = 0x0f
				}
				for i := 32; i < 96; i++ {
					b[i] = 0xe4
				}
				// Low nibbles: byte 96+s%8, nibble s/8. Default low 4 bits 2.
				copy(b[96:104], []byte{0x22, 0xf2, 0x22, 0x20, 0x22, 0x21, 0x22, 0x82})
				// High 2 bits at byte 104+s%4, bits 2*(s/4); default 2.
				// byte 104: s=0,4,8,12 -> 2,2,2,2; byte 105: s=1,5,9,13 -> 2,2,3,2;
				// byte 106: s=2,6,10,14 -> 2; byte 107: s=3,7,11,15 -> 0,2,2,2.
				copy(b[104:108], []byte{0xaa, 0xba, 0xaa, 0xa8})
				copy(b[108:], []byte{0x00, 0x3c})
				return b
			},
			spots: []spot{
				{0, 0},          // sub 0 (scale 2), quant 0
				{40, 2},         // sub 2 (scale 2), quant 1
				{50, -32},       // sub 3 (scale -32), quant 1
				{85, 2},         // sub 5 (scale 1), quant 2
				{150, -124},     // sub 9 (scale 31), quant 0-4
				{250, -8},       // sub 15 (scale 8), quant 3-4
				{200, 2 * (-2)}, // sub 12 (scale 2), quant 2-4
			},
		},
		{
			// d = 1, dmin = 0.5. Sub-block (sc, m): 0 (1, 0), 3 (63, 2),
			// 4 (17, 33), 7 (63, 63), others (2, 1). qs byte c*32+i =
			// (i%16) | (15-i%16)<<4.
			name: "q4_k", typ: Q4_K,
			block: func() []byte {
				b := make([]byte, 144)
				copy(b, []byte{0x00, 0x3c, 0x00, 0x38})
				s := b[4:16]
				// sc 0-3 in low 6 bits of bytes 0-3, m 0-3 in bytes 4-7.
				s[0], s[1], s[2], s[3] = 1, 2, 2, 63
				s[4], s[5], s[6], s[7] = 0, 1, 1, 2
				// sub 4-7: low nibbles of sc and m in byte j+4, top bits of
				// sc in bytes j-4 (bits 6-7), of m in bytes j (bits 6-7).
				// sub 4: sc 17 = 0b010001, m 33 = 0b100001.
				s[8] = 0x1 | 0x1<<4
				s[0] |= 1 << 6 // sc4 >> 4 = 1
				s[4] |= 2 << 6 // m4 >> 4 = 2
				s[9] = 0x2 | 0x1<<4
				s[10] = 0x2 | 0x1<<4
				// sub 7: sc 63, m 63.
				s[11] = 0xff
				s[3] |= 3 << 6
				s[7] |= 3 << 6
				for c := 0; c < 4; c++ {
					for i := 0; i < 32; i++ {
						b[16+32*c+i] = byte(i%16 | (15-i%16)<<4)
					}
				}
				return b
			},
			spots: []spot{
				{5, 5},                   // sub 0: 1*5 - 0
				{96 + 3, 63*12 - 1},      // sub 3 (c=1 high nibble, i=3: q = 15-3)
				{128 + 10, 17*10 - 16.5}, // sub 4 (c=2 low nibble, i=10)
				{224 + 20, 63*11 - 31.5}, // sub 7 (c=3 high, i=20: q = 15-4 = 11)
				{40, 2*(15-8) - 0.5},     // sub 1 (c=0 high, i=8)
			},
		},
		{
			// d = 0.5, dmin = 1. Sub-blocks (sc, m) = (1, 0) except 6 =
			// (40, 5). qh bytes 0xaa: the high nibble half of every chunk
			// gets +16. qs byte 32c+i = (i%16) | (15-i%16)<<4.
			name: "q5_k", typ: Q5_K,
			block: func() []byte {
				b := make([]byte, 176)
				copy(b, []byte{0x00, 0x38, 0x00, 0x3c})
				s := b[4:16]
				s[0], s[1], s[2], s[3] = 1, 1, 1, 1
				s[8], s[9], s[10], s[11] = 1, 1, 0x58, 1 // sub 6: sc low 8, m low 5
				s[2] |= 2 << 6                           // sub 6: sc 40 >> 4 = 2
				for i := 16; i < 48; i++ {
					b[i] = 0xaa
				}
				for c := 0; c < 4; c++ {
					for i := 0; i < 32; i++ {
						b[48+32*c+i] = byte(i%16 | (15-i%16)<<4)
					}
				}
				return b
			},
			spots: []spot{
				{5, 2.5},            // sub 0: 0.5*1*5
				{37, 13},            // sub 1: q = (15-5)+16 = 26
				{200, 160 - 5},      // sub 6: q = 8 (qh bit 6 clear): 0.5*40*8 - 5
				{255, 8},            // sub 7: q = 0+16
				{64 + 33, 0.5 * 30}, // sub 3: c=1 high half, i=1: q = 14+16
			},
		},
		{
			// d = 0.5; scales: sub 0 = 1, 5 = -3, 10 = -128, 15 = 127,
			// others 2. ql byte x = (x%16) | (15-x%16)<<4, qh bytes 0xe4, so
			// the quant of element 32k+i of a half is lo + 16k - 32 with lo
			// = i%16 for k < 2 and 15-i%16 for k >= 2.
			name: "q6_k", typ: Q6_K,
			block: func() []byte {
				b := make([]byte, 210)
				for x := 0; x < 128; x++ {
					b[x] = byte(x%16 | (15-x%16)<<4)
				}
				for x := 128; x < 192; x++ {
					b[x] = 0xe4
				}
				for s := 0; s < 16; s++ {
					b[192+s] = 2
				}
				b[192], b[197], b[202], b[207] = 1, byte(0xfd), 0x80, 127
				copy(b[208:], []byte{0x00, 0x38})
				return b
			},
			spots: []spot{
				{3, -14.5},  // sub 0: q = 3-32
				{85, -15},   // sub 5: k=2, i=21: q = 10
				{170, 384},  // sub 10: k=1, i=10: q = 10+16-32 = -6
				{255, 1016}, // sub 15: k=3, i=31: q = 0+48-32 = 16
				{100, 27},   // sub 6: k=3, i=4: q = 11+48-32
			},
		},
		{
			name: "q8_k d=0.125", typ: Q8_K,
			block: func() []byte {
				b := make([]byte, 292)
				putLE32(b, math.Float32bits(0.125))
				for j := 0; j < 256; j++ {
					b[4+j] = byte(int8(j - 128))
				}
				return b
			},
			all: func(i int) float32 { return float32(i-128) / 8 },
		},
		{
			name: "f16", typ: F16, n: 5,
			block: func() []byte { return []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0xff, 0x7b, 0x00, 0x7c} },
			spots: []spot{{0, 1}, {1, -2}, {2, float32(math.Ldexp(1, -24))}, {3, 65504}, {4, float32(math.Inf(1))}},
		},
		{
			name: "bf16", typ: BF16, n: 3,
			block: func() []byte { return []byte{0x80, 0x3f, 0xc0, 0xc0, 0x80, 0x00} },
			spots: []spot{{0, 1}, {1, -6}, {2, float32(math.Ldexp(1, -126))}},
		},
		{
			name: "f32", typ: F32, n: 2,
			block: func() []byte { return []byte{0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc1} },
			spots: []spot{{0, 1}, {1, -10}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			blk := c.block()
			n := c.n
			if n == 0 {
				n = c.typ.BlockSize()
			}
			if want := mustRowBytes(t, c.typ, n); len(blk) != want {
				t.Fatalf("test block has %d bytes, want %d", len(blk), want)
			}
			got := make([]float32, n)
			if err := DequantizeRow(c.typ, blk, got); err != nil {
				t.Fatal(err)
			}
			if c.all != nil {
				for i, v := range got {
					if v != c.all(i) {
						t.Errorf("element %d = %v, want %v", i, v, c.all(i))
					}
				}
			}
			for _, s := range c.spots {
				if got[s.i] != s.want {
					t.Errorf("element %d = %v, want %v", s.i, got[s.i], s.want)
				}
			}
		})
	}
}

// TestDequantizeF32Unaligned covers the byte-by-byte F32 path taken when the
// source cannot be viewed in place.
func TestDequantizeF32Unaligned(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	aligned := randomRow(rng, F32, 33)
	shifted := make([]byte, len(aligned)+1)[1:]
	copy(shifted, aligned)
	a, b := make([]float32, 33), make([]float32, 33)
	if err := DequantizeRow(F32, aligned, a); err != nil {
		t.Fatal(err)
	}
	if err := DequantizeRow(F32, shifted, b); err != nil {
		t.Fatal(err)
	}
	want := refDecode(F32, aligned, 33)
	for i := range a {
		if a[i] != float32(want[i]) || b[i] != float32(want[i]) {
			t.Fatalf("element %d: aligned %v, unaligned %v, want %v", i, a[i], b[i], want[i])
		}
	}
}
