package tensor

// The packed Q5_K layout (see packed.go for why rows are packed). A Q5_K
// block is a Q4_K block (d, dmin, the sixteen 6-bit scales and minimums,
// 128 bytes of low nibbles) with a fifth bit per element: byte l of its
// 32 bytes qh holds in bit s the high bit of element 32s+l. For each group
// of eight rows and block, the eight rows' blocks (8*176 = 1408 bytes)
// become the Q4_K group block of their first 144 bytes less qh (1152
// bytes: see packed_q4k.go), followed by
//
//	1152  256 bytes  for k = 0..7, for row r = 0..7: bytes 4k..4k+3 of
//	                 row r's qh
//
// so that high-bit run k has its byte (r, i) where quant run k of every
// chunk has the nibbles of elements 4k+i of its two sub-blocks: bit s of
// that byte is the fifth bit of element 4k+i of sub-block s. A kernel
// rebuilds a sub-block's 5-bit quants from a nibble run and a shift and
// mask of the high-bit run of the same k.
const q5kGroupBytes = packRows * 176

// q5kAsQ4K returns the 144-byte Q4_K block that a Q5_K block src is
// without its qh.
func q5kAsQ4K(src []byte) [144]byte {
	var b [144]byte
	copy(b[:16], src[:16])
	copy(b[16:], src[48:176])
	return b
}

// putQ5K writes row r's GGUF block src into the packed group block blk.
func putQ5K(blk []byte, r int, src []byte) {
	blk = blk[:q5kGroupBytes]
	src = src[:176]
	b := q5kAsQ4K(src)
	putQ4K(blk, r, b[:])
	for k := 0; k < 8; k++ {
		copy(blk[q4kGroupBytes+32*k+4*r:q4kGroupBytes+32*k+4*r+4], src[16+4*k:16+4*k+4])
	}
}

// getQ5K writes row r's GGUF block from the packed group block blk into
// dst, exactly as it was.
func getQ5K(blk []byte, r int, dst []byte) {
	blk = blk[:q5kGroupBytes]
	dst = dst[:176]
	var b [144]byte
	getQ4K(blk, r, b[:])
	copy(dst[:16], b[:16])
	copy(dst[48:176], b[16:])
	for k := 0; k < 8; k++ {
		copy(dst[16+4*k:16+4*k+4], blk[q4kGroupBytes+32*k+4*r:q4kGroupBytes+32*k+4*r+4])
	}
}

// packedQ5KGo is the portable one-input packed Q5_K kernel: per row and
// block what idotQ45K computes for Q5_K.
func packedQ5KGo(out []float32, w []byte, groups, nb int, a actView) {
	packedQ45KGo(out, w, groups, nb, a, q5kGroupBytes)
}
