package tensor

// The packed Q4_K layout (see packed.go for why rows are packed). A Q4_K
// block is 256 elements in eight sub-blocks of 32, each with a 6-bit scale
// sc and a 6-bit minimum m; element value d*sc*q - dmin*m. For each group
// of eight rows and each block b of the row length, the eight rows' blocks
// (8*144 = 1152 bytes, where they were) become:
//
//	  0  16 bytes   the eight rows' fp16 d, row 0 first
//	 16  16 bytes   the eight rows' fp16 dmin
//	 32  32 bytes   low 4 bits of the scales: byte p(r, j) holds sc_j of row
//	                r in its low nibble and sc_(j+4) in its high nibble
//	 64  32 bytes   the same for the minimums
//	 96  32 bytes   their high 2 bits: byte p(r, j) holds sc_j, sc_(j+4),
//	                m_j, m_(j+4) in bits 0-1, 2-3, 4-5, 6-7
//	128  1024 bytes for chunk c = 0..3, for k = 0..7, for row r = 0..7:
//	                bytes 32c+4k..32c+4k+3 of row r's 128 bytes of quants
//
// where j = 0..3 and p(r, j) = 16*(r/4) + 4*j + r%4: each 16-byte half of
// a vector holds four rows, the half its rows' lanes are in. The kernels
// rebuild the 6-bit values with a few shifts, masks and ors for all 128 at
// once, and one in-lane byte shuffle then gives the vector of a sub-block's
// scales, each row's in both int16 halves of its lane (what vpmaddwd
// multiplies the row's two int16 sums of products by), or of a pair of
// sub-blocks' minimums, m_2p and m_2p+1 in the halves of each lane
// (multiplied by the input's sums of the two sub-blocks).
//
// In the quants, a 32-byte run of chunk c holds in its low nibbles four
// elements of sub-block 2c of every row and in its high nibbles the same
// four of sub-block 2c+1, the order in which vpbroadcastd hands out four
// input quants, as in the Q4_0 layout.
//
// What it buys: the Q4_K row kernels already spread their per-block work
// over 256 elements, so batches gain little (the packed and row kernels
// both run at the rate of vpmaddubsw, 100-150 GFLOP/s on one core of the
// development machine), but one input decodes about twice as fast (23-34
// against 10-16 GB/s on one core), since eight rows share each broadcast,
// each scale conversion and each horizontal step.
const q4kGroupBytes = packRows * 144

// q4kScalePos is p(r, j) of the layout above.
func q4kScalePos(r, j int) int { return 16*(r/4) + 4*j + r%4 }

// putQ4K writes row r's GGUF block src into the packed group block blk.
func putQ4K(blk []byte, r int, src []byte) {
	blk = blk[:q4kGroupBytes]
	src = src[:144]
	copy(blk[2*r:2*r+2], src[0:2])
	copy(blk[16+2*r:16+2*r+2], src[2:4])
	for j := 0; j < 4; j++ {
		sc0, m0 := scaleMinK4(src[4:16], j)
		sc1, m1 := scaleMinK4(src[4:16], j+4)
		p := q4kScalePos(r, j)
		blk[32+p] = sc0&0xf | sc1<<4
		blk[64+p] = m0&0xf | m1<<4
		blk[96+p] = sc0>>4 | sc1>>4<<2 | m0>>4<<4 | m1>>4<<6
	}
	for c := 0; c < 4; c++ {
		for k := 0; k < 8; k++ {
			copy(blk[128+256*c+32*k+4*r:128+256*c+32*k+4*r+4], src[16+32*c+4*k:16+32*c+4*k+4])
		}
	}
}

// getQ4K writes row r's GGUF block from the packed group block blk into
// dst, exactly as it was: the twelve bytes of GGUF scales hold the sixteen
// 6-bit values and nothing else, so they are rebuilt bit for bit.
func getQ4K(blk []byte, r int, dst []byte) {
	blk = blk[:q4kGroupBytes]
	dst = dst[:144]
	copy(dst[0:2], blk[2*r:2*r+2])
	copy(dst[2:4], blk[16+2*r:16+2*r+2])
	for j := 0; j < 4; j++ {
		sc0, m0 := packedScaleMinK4(blk, r, j)
		sc1, m1 := packedScaleMinK4(blk, r, j+4)
		dst[4+j] = sc0 | sc1>>4<<6
		dst[8+j] = m0 | m1>>4<<6
		dst[12+j] = sc1&0xf | m1<<4
	}
	for c := 0; c < 4; c++ {
		for k := 0; k < 8; k++ {
			copy(dst[16+32*c+4*k:16+32*c+4*k+4], blk[128+256*c+32*k+4*r:128+256*c+32*k+4*r+4])
		}
	}
}

// packedScaleMinK4 is scaleMinK4 for row r of a packed group block.
func packedScaleMinK4(blk []byte, r, s int) (sc, m byte) {
	p := q4kScalePos(r, s%4)
	lo, ml, h := blk[32+p], blk[64+p], blk[96+p]
	if s < 4 {
		return lo&0xf | h&3<<4, ml&0xf | h>>4&3<<4
	}
	return lo>>4 | h>>2&3<<4, ml>>4 | h>>6<<4
}

// packedQ4KGo is the portable one-input packed Q4_K kernel: per row and
// block what idotQ45K computes, dx*(d*sum_s sc_s*sum(q*qx) -
// dmin*sum_s m_s*sum(qx)).
func packedQ4KGo(out []float32, w []byte, groups, nb int, a actView) {
	packedQ45KGo(out, w, groups, nb, a, q4kGroupBytes)
}

// packedQ45KGo is packedQ4KGo for groups of gb bytes: q4kGroupBytes, or
// q5kGroupBytes for Q5_K, whose fifth bits follow the Q4_K part.
func packedQ45KGo(out []float32, w []byte, groups, nb int, a actView, gb int) {
	out = out[:groups*packRows]
	w = w[:groups*nb*gb]
	fifth := gb == q5kGroupBytes
	for g := 0; g < groups; g++ {
		var acc [packRows]float32
		for b := 0; b < nb; b++ {
			blk := w[(g*nb+b)*gb : (g*nb+b+1)*gb]
			y := a.qs[256*b : 256*b+256]
			bs := a.bs[16*b : 16*b+16]
			dx := a.d[b]
			for r := 0; r < packRows; r++ {
				var isum, msum int32
				for s := 0; s < 8; s++ {
					c, shift := s/2, uint(4*(s%2))
					yy := y[32*s : 32*s+32]
					var t int32
					for k := 0; k < 8; k++ {
						q := blk[128+256*c+32*k+4*r : 128+256*c+32*k+4*r+4]
						for j, v := range q {
							v = v >> shift & 0xf
							if fifth {
								v |= blk[q4kGroupBytes+32*k+4*r+j] >> s & 1 << 4
							}
							t += int32(v) * int32(yy[4*k+j])
						}
					}
					sc, m := packedScaleMinK4(blk, r, s)
					isum += int32(sc) * t
					msum += int32(m) * (int32(bs[2*s]) + int32(bs[2*s+1]))
				}
				acc[r] += dx*half(blk[2*r:])*float32(isum) - dx*half(blk[16+2*r:])*float32(msum)
			}
		}
		copy(out[g*packRows:], acc[:])
	}
}
