package tensor

// The packed Q6_K layout (see packed.go for why rows are packed). A Q6_K
// block is 256 elements in sixteen sub-blocks of 16, each with a signed
// 8-bit scale sc; element value d*sc*(q-32), q being 6 bits, stored as a
// low nibble in ql and two high bits in qh. For each group of eight rows
// and each block b of the row length, the eight rows' blocks (8*210 = 1680
// bytes, where they were) become:
//
//	  0  16 bytes   the eight rows' fp16 d, row 0 first
//	 16  128 bytes  the scales: for v = 0..3, 32 bytes whose byte p(r, j)
//	                holds sc_(4v+j) of row r
//	144  1536 bytes for chunk c = 0..3 (elements 64c..64c+63), 384 bytes:
//	       256 bytes  for k = 0..7, for row r = 0..7: four bytes whose low
//	                  nibbles are the low 4 bits of elements 64c+4k..+3 of
//	                  row r and whose high nibbles those of 64c+32+4k..+3
//	       128 bytes  for j = 0..3, for row r = 0..7: four bytes whose byte
//	                  i holds the high 2 bits of elements 64c+e+4j+i for
//	                  e = 0, 16, 32, 48 in bits 0-1, 2-3, 4-5, 6-7
//
// where j = 0..3 and p(r, j) = 16*(r/4) + 4*j + r%4 (as in the Q4_K layout:
// each 16-byte half of a vector holds the four rows whose lanes are in
// it). So the four 32-byte runs j, j+4 (low bits) and j (high bits) of a
// chunk rebuild, with a few masks, shifts and ors, four vectors of
// unsigned 6-bit quants, one for each of the chunk's sub-blocks, each
// dword four elements of one row: the order in which vpbroadcastd hands
// out four input quants. One byte shuffle and an arithmetic shift turn a
// scale vector into a sub-block's signed scales, each row's in both int16
// halves of its lane (what vpmaddwd multiplies the row's two int16 sums of
// products by), or a pair of sub-blocks' scales, sc_2p and sc_2p+1 in the
// halves of each lane (multiplied by the input's sums of 16 for the -32
// offset).
const q6kGroupBytes = packRows * 210

// q6kQuant returns the 6-bit quant of element e of a GGUF Q6_K block.
func q6kQuant(src []byte, e int) byte {
	n, k, l := e/128, e%128/32, e%32
	lo := src[64*n+l+32*(k&1)]
	if k >= 2 {
		lo >>= 4
	}
	return lo&0xf | (src[128+32*n+l]>>(2*k)&3)<<4
}

// setQ6KQuant stores v as the 6-bit quant of element e of a GGUF Q6_K
// block whose quant bytes were cleared.
func setQ6KQuant(dst []byte, e int, v byte) {
	n, k, l := e/128, e%128/32, e%32
	lo := v & 0xf
	if k >= 2 {
		lo <<= 4
	}
	dst[64*n+l+32*(k&1)] |= lo
	dst[128+32*n+l] |= (v >> 4 & 3) << (2 * k)
}

// q6kLowPos and q6kHighPos are where the packed group block keeps the low
// nibble and the high 2 bits of element e of row r, with the shift of the
// field within its byte.
func q6kLowPos(r, e int) (int, uint) {
	c, w := e/64, e%64
	k, i := w%32/4, w%4
	return 144 + 384*c + 32*k + 4*r + i, uint(4 * (w / 32))
}

func q6kHighPos(r, e int) (int, uint) {
	c, w := e/64, e%64
	j, i := w%16/4, w%4
	return 144 + 384*c + 256 + 32*j + 4*r + i, uint(2 * (w / 16))
}

// putQ6K writes row r's GGUF block src into the packed group block blk.
func putQ6K(blk []byte, r int, src []byte) {
	blk = blk[:q6kGroupBytes]
	src = src[:210]
	copy(blk[2*r:2*r+2], src[208:210])
	for s := 0; s < 16; s++ {
		blk[16+32*(s/4)+q4kScalePos(r, s%4)] = src[192+s]
	}
	for e := 0; e < 256; e++ {
		q := q6kQuant(src, e)
		p, sh := q6kLowPos(r, e)
		blk[p] = blk[p]&^(0xf<<sh) | (q&0xf)<<sh
		p, sh = q6kHighPos(r, e)
		blk[p] = blk[p]&^(3<<sh) | (q>>4)<<sh
	}
}

// getQ6K writes row r's GGUF block from the packed group block blk into
// dst, exactly as it was: every bit of a Q6_K block is a quant, a scale or
// d, so the layout is a permutation of them.
func getQ6K(blk []byte, r int, dst []byte) {
	blk = blk[:q6kGroupBytes]
	dst = dst[:210]
	clear(dst[:192])
	for e := 0; e < 256; e++ {
		setQ6KQuant(dst, e, packedQ6KQuant(blk, r, e))
	}
	for s := 0; s < 16; s++ {
		dst[192+s] = blk[16+32*(s/4)+q4kScalePos(r, s%4)]
	}
	copy(dst[208:210], blk[2*r:2*r+2])
}

// packedQ6KQuant is q6kQuant for row r of a packed group block.
func packedQ6KQuant(blk []byte, r, e int) byte {
	p, sh := q6kLowPos(r, e)
	lo := blk[p] >> sh & 0xf
	p, sh = q6kHighPos(r, e)
	return lo | (blk[p]>>sh&3)<<4
}

// packedQ6KGo is the portable one-input packed Q6_K kernel: per row and
// block what idotQ6KGo computes, dx*d*sum_s sc_s*(sum(q*qx) - 32*sum(qx)),
// walking the packed runs the way the assembly does.
func packedQ6KGo(out []float32, w []byte, groups, nb int, a actView) {
	out = out[:groups*packRows]
	w = w[:groups*nb*q6kGroupBytes]
	for g := 0; g < groups; g++ {
		var acc [packRows]float32
		for b := 0; b < nb; b++ {
			blk := w[(g*nb+b)*q6kGroupBytes : (g*nb+b+1)*q6kGroupBytes]
			y := a.qs[256*b : 256*b+256]
			bs := a.bs[16*b : 16*b+16]
			for r := 0; r < packRows; r++ {
				var isum int32
				for c := 0; c < 4; c++ {
					ch := blk[144+384*c : 144+384*(c+1)]
					for t := 0; t < 4; t++ {
						// Sub-block 4c+t: its low bits are the low (t even) or
						// high nibbles of runs k = 4*(t%2)..+3, its high bits
						// field t of the high runs j = 0..3.
						var sum int32
						for j := 0; j < 4; j++ {
							lo := ch[32*(4*(t%2)+j)+4*r : 32*(4*(t%2)+j)+4*r+4]
							hi := ch[256+32*j+4*r : 256+32*j+4*r+4]
							yy := y[64*c+16*t+4*j : 64*c+16*t+4*j+4]
							for i := range 4 {
								q := lo[i]>>(4*(t/2))&0xf | (hi[i]>>(2*t)&3)<<4
								sum += int32(q) * int32(yy[i])
							}
						}
						s := 4*c + t
						sc := int32(int8(blk[16+32*c+q4kScalePos(r, t)]))
						isum += sc * (sum - 32*int32(bs[s]))
					}
				}
				acc[r] += a.d[b] * half(blk[2*r:]) * float32(isum)
			}
		}
		copy(out[g*packRows:], acc[:])
	}
}
