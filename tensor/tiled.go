package tensor

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// Tiled integer kernels for large batches (prefill). A batch multiplies
// each tile of weight rows with every group of four inputs, so whatever a
// kernel does per weight block only (splitting nibbles, widening the fp16
// block scale) is repeated once per group: 128 times for 512 inputs. The
// tiled route does that work once per tile instead, into a small per-worker
// buffer that stays in L1 next to the inputs, and runs kernels that read
// the ready operands. Nothing is kept beyond the call, so resident memory
// does not grow; the buffer is a few tens of KiB per worker.
//
// The products are the same integer sums scaled by the same two block
// scales as on the other integer kernels; only the float32 rounding and
// summation order differ (see the kernels), and they are the same for every
// row whatever the tile or worker split, so results do not depend on the
// worker count. Q8_0 has no tiled kernel: there is nothing to unpack beyond
// the scale, and a tiled kernel measured no faster than the four-input one.

// tiledKernel is a tiled integer kernel for one weight type.
type tiledKernel struct {
	// qbytes is the unpacked bytes per weight block.
	qbytes int
	// unpack writes the unpacked quants of rows whole rows of nb blocks
	// (rb bytes apart in w) to q and their block scales as float32 to dw.
	unpack func(q []byte, dw []float32, w []byte, rb, rows, nb int)
	// run computes, for the four inputs i..i+3 of a (i a multiple of 4)
	// and the rows unpacked in q and dw, out[k*ostride + r].
	run func(out []float32, ostride int, q []byte, dw []float32, rows, nb int, a *qacts, i int)
	// minInputs is the batch size from which the kernel pays for its
	// unpacking, which is shared by n/4 input groups (BenchmarkPrefillTiled:
	// the K-quants' unpacking, in Go, loses at 64 inputs and wins at 512
	// over the four-input kernels, but only ties their eight-input ones
	// there; Q4_0's is cheap enough to win at 64).
	minInputs int
}

// tiledTileBytes bounds a tile's unpacked bytes: with the four inputs'
// quants it stays in the 32 KiB L1 (24 KiB measured best of 12-32).
const tiledTileBytes = 24 << 10

// unpackQ4_0 splits each Q4_0 block's nibbles into 32 bytes (low nibbles,
// elements 0-15, then high, 16-31) and widens its scale.
func unpackQ4_0(q []byte, dw []float32, w []byte, rb, rows, nb int) {
	const lo4 = 0x0f0f0f0f0f0f0f0f
	for r := 0; r < rows; r++ {
		row := w[r*rb : r*rb+nb*18]
		for b := 0; b < nb; b++ {
			blk := row[18*b : 18*b+18]
			d := q[32*(r*nb+b) : 32*(r*nb+b)+32]
			x0 := binary.LittleEndian.Uint64(blk[2:])
			x1 := binary.LittleEndian.Uint64(blk[10:])
			binary.LittleEndian.PutUint64(d[0:], x0&lo4)
			binary.LittleEndian.PutUint64(d[8:], x1&lo4)
			binary.LittleEndian.PutUint64(d[16:], x0>>4&lo4)
			binary.LittleEndian.PutUint64(d[24:], x1>>4&lo4)
			dw[r*nb+b] = half(blk)
		}
	}
}

// growAligned is grow for a buffer whose start is 32-byte aligned, so that
// the kernels' 32-byte loads of records of a multiple of 32 bytes never
// straddle cache lines.
func growAligned(b []byte, n int) []byte {
	if cap(b) >= n && uintptr(unsafe.Pointer(unsafe.SliceData(b)))%32 == 0 {
		return b[:n]
	}
	b = make([]byte, n+32)
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & 31)
	return b[off : off+n : off+n]
}

// tiledScratch is one worker's unpacking buffer.
type tiledScratch struct {
	q  []byte
	dw []float32
}

// matMulTiled is matMulInt's batch path for types with a tiled kernel k:
// inputs in groups of four on k, the rest (n%4) on the one-input kernel.
func matMulTiled(dst []float32, m Matrix, n int, a *qacts, k *tiledKernel, rows qRowsFn, lo, hi int, s *tiledScratch) {
	rb := m.rowBytes()
	nb := m.Cols / m.Type.BlockSize()
	tile := max(1, tiledTileBytes/(nb*(k.qbytes+4)))
	s.q = growAligned(s.q, min(tile, hi-lo)*nb*k.qbytes)
	s.dw = grow(s.dw, min(tile, hi-lo)*nb)
	for r0 := lo; r0 < hi; r0 += tile {
		r1 := min(r0+tile, hi)
		w := m.Data[r0*rb : r1*rb]
		q, dw := s.q[:(r1-r0)*nb*k.qbytes], s.dw[:(r1-r0)*nb]
		k.unpack(q, dw, w, rb, r1-r0, nb)
		i := 0
		for ; i+4 <= n; i += 4 {
			k.run(dst[i*m.Rows+r0:], m.Rows, q, dw, r1-r0, nb, a, i)
		}
		for ; i < n; i++ {
			rows(dst[i*m.Rows+r0:i*m.Rows+r1], w, rb, a.view(i))
		}
	}
}

// q4kRecord is the unpacked size of a Q4_K block: 256 nibbles in element
// order, the eight sub-block scales as int16, the eight mins as int16 each
// twice (matching the input sums of 16), then d and dmin as float32, padded
// so that every record starts 32-byte aligned relative to the first.
const q4kRecord = 320

// unpackQ4K unpacks Q4_K blocks into q4kRecord records (dw is unused).
func unpackQ4K(q []byte, _ []float32, w []byte, rb, rows, nb int) {
	unpackK45(q, w, rb, rows, nb, 144, 16, -1)
}

// unpackQ5K unpacks Q5_K blocks into q4kRecord records, the fifth bits
// joined to the nibbles, so that the Q4_K kernel runs them unchanged (its
// products stay far from int16 overflow with quants up to 31).
func unpackQ5K(q []byte, _ []float32, w []byte, rb, rows, nb int) {
	unpackK45(q, w, rb, rows, nb, 176, 48, 16)
}

// unpackK45 unpacks Q4_K (qhOff < 0) or Q5_K blocks of bb bytes, their
// nibbles at qsOff and fifth bits at qhOff (see idotQ45K).
func unpackK45(q, w []byte, rb, rows, nb, bb, qsOff, qhOff int) {
	const lo4, ones = 0x0f0f0f0f0f0f0f0f, 0x0101010101010101
	for r := 0; r < rows; r++ {
		row := w[r*rb : r*rb+nb*bb]
		for b := 0; b < nb; b++ {
			blk := row[bb*b : bb*b+bb]
			d := q[q4kRecord*(r*nb+b) : q4kRecord*(r*nb+b+1)]
			for c := 0; c < 4; c++ {
				for o := 0; o < 32; o += 8 {
					x := binary.LittleEndian.Uint64(blk[qsOff+32*c+o:])
					lo, hi := x&lo4, x>>4&lo4
					if qhOff >= 0 {
						h := binary.LittleEndian.Uint64(blk[qhOff+o:])
						lo |= (h >> (2 * c) & ones) << 4
						hi |= (h >> (2*c + 1) & ones) << 4
					}
					binary.LittleEndian.PutUint64(d[64*c+o:], lo)
					binary.LittleEndian.PutUint64(d[64*c+32+o:], hi)
				}
			}
			for s := 0; s < 8; s++ {
				sc, m := scaleMinK4(blk[4:16], s)
				binary.LittleEndian.PutUint16(d[256+2*s:], uint16(sc))
				binary.LittleEndian.PutUint16(d[272+4*s:], uint16(m))
				binary.LittleEndian.PutUint16(d[274+4*s:], uint16(m))
			}
			binary.LittleEndian.PutUint32(d[304:], math.Float32bits(half(blk)))
			binary.LittleEndian.PutUint32(d[308:], math.Float32bits(half(blk[2:])))
		}
	}
}

// q6kRecord is the unpacked size of a Q6_K block: 256 quants q+32 in
// element order (unsigned, 0..63), for each 32 elements the two int8 scales
// of its halves widened to int16 lanes [a x8, b x8] (the lanes vpmaddubsw
// leaves), the 16 scales times 32 as int16 (the offset, applied through
// the input sums of 16), then d as float32 and padding to a multiple of 32.
const q6kRecord = 576

// unpackQ6K unpacks Q6_K blocks into q6kRecord records (dw is unused).
func unpackQ6K(q []byte, _ []float32, w []byte, rb, rows, nb int) {
	const lo4, three = 0x0f0f0f0f0f0f0f0f, 0x0303030303030303
	for r := 0; r < rows; r++ {
		row := w[r*rb : r*rb+nb*210]
		for b := 0; b < nb; b++ {
			blk := row[210*b : 210*b+210]
			d := q[q6kRecord*(r*nb+b) : q6kRecord*(r*nb+b+1)]
			for n := 0; n < 2; n++ {
				for o := 0; o < 32; o += 8 {
					l0 := binary.LittleEndian.Uint64(blk[64*n+o:])
					l1 := binary.LittleEndian.Uint64(blk[64*n+32+o:])
					h := binary.LittleEndian.Uint64(blk[128+32*n+o:])
					binary.LittleEndian.PutUint64(d[128*n+o:], l0&lo4|(h&three)<<4)
					binary.LittleEndian.PutUint64(d[128*n+32+o:], l1&lo4|(h>>2&three)<<4)
					binary.LittleEndian.PutUint64(d[128*n+64+o:], l0>>4&lo4|(h>>4&three)<<4)
					binary.LittleEndian.PutUint64(d[128*n+96+o:], l1>>4&lo4|(h>>6&three)<<4)
				}
			}
			for j := 0; j < 16; j++ {
				sc := int16(int8(blk[192+j]))
				x4 := uint64(uint16(sc)) * 0x0001000100010001
				binary.LittleEndian.PutUint64(d[256+16*j:], x4)
				binary.LittleEndian.PutUint64(d[256+16*j+8:], x4)
				binary.LittleEndian.PutUint16(d[512+2*j:], uint16(32*sc))
			}
			binary.LittleEndian.PutUint32(d[544:], math.Float32bits(half(blk[208:])))
		}
	}
}
