//go:build amd64 && !purego

#include "textflag.h"

// Attention kernels for AVX-512F: the same products as the AVX2 kernels in
// the same order, in register tiles of 512-bit rows, so that fewer loads
// and loop instructions surround each multiply-add.

// func accumF32x4AVX512(out *float32, w *float32, stride, nq int, v *float32, n, d int)
//
// accumF32AVX2 for nq groups of four heads: per group, 64 output columns
// of each of the four heads (sixteen 512-bit accumulators) held over all
// n value rows, each row's four vectors loaded once for the four heads;
// then 16 and 8 columns at a time. Every output lane is still one chain of
// multiply-adds over the rows in order.
TEXT ·accumF32x4AVX512(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ stride+16(FP), R8
	SHLQ $2, R8           // weight row bytes
	MOVQ nq+24(FP), R9
	MOVQ v+32(FP), R10
	MOVQ n+40(FP), R11
	MOVQ d+48(FP), R13
	SHLQ $2, R13          // output (and value) row bytes

quad:
	LEAQ (SI)(R8*1), R12  // weights of the second head
	LEAQ (SI)(R8*2), R14  // third
	LEAQ (R14)(R8*1), R15 // fourth
	XORQ AX, AX           // column, in bytes

cols64:
	MOVQ    R13, DX
	SUBQ    AX, DX
	CMPQ    DX, $256
	JLT     cols16
	LEAQ    (DI)(AX*1), DX
	LEAQ    (DX)(R13*2), BX
	VMOVUPS (DX), Z0
	VMOVUPS 64(DX), Z1
	VMOVUPS 128(DX), Z2
	VMOVUPS 192(DX), Z3
	VMOVUPS (DX)(R13*1), Z4
	VMOVUPS 64(DX)(R13*1), Z5
	VMOVUPS 128(DX)(R13*1), Z6
	VMOVUPS 192(DX)(R13*1), Z7
	VMOVUPS (BX), Z8
	VMOVUPS 64(BX), Z9
	VMOVUPS 128(BX), Z10
	VMOVUPS 192(BX), Z11
	VMOVUPS (BX)(R13*1), Z12
	VMOVUPS 64(BX)(R13*1), Z13
	VMOVUPS 128(BX)(R13*1), Z14
	VMOVUPS 192(BX)(R13*1), Z15
	LEAQ    (R10)(AX*1), BX
	XORQ    CX, CX

rows64:
	CMPQ         CX, R11
	JGE          store64
	VMOVUPS      (BX), Z16
	VMOVUPS      64(BX), Z17
	VMOVUPS      128(BX), Z18
	VMOVUPS      192(BX), Z19
	VBROADCASTSS (SI)(CX*4), Z20
	VBROADCASTSS (R12)(CX*4), Z21
	VBROADCASTSS (R14)(CX*4), Z22
	VBROADCASTSS (R15)(CX*4), Z23
	VFMADD231PS  Z16, Z20, Z0
	VFMADD231PS  Z17, Z20, Z1
	VFMADD231PS  Z18, Z20, Z2
	VFMADD231PS  Z19, Z20, Z3
	VFMADD231PS  Z16, Z21, Z4
	VFMADD231PS  Z17, Z21, Z5
	VFMADD231PS  Z18, Z21, Z6
	VFMADD231PS  Z19, Z21, Z7
	VFMADD231PS  Z16, Z22, Z8
	VFMADD231PS  Z17, Z22, Z9
	VFMADD231PS  Z18, Z22, Z10
	VFMADD231PS  Z19, Z22, Z11
	VFMADD231PS  Z16, Z23, Z12
	VFMADD231PS  Z17, Z23, Z13
	VFMADD231PS  Z18, Z23, Z14
	VFMADD231PS  Z19, Z23, Z15
	ADDQ         R13, BX
	INCQ         CX
	JMP          rows64

store64:
	LEAQ    (DI)(AX*1), DX
	LEAQ    (DX)(R13*2), BX
	VMOVUPS Z0, (DX)
	VMOVUPS Z1, 64(DX)
	VMOVUPS Z2, 128(DX)
	VMOVUPS Z3, 192(DX)
	VMOVUPS Z4, (DX)(R13*1)
	VMOVUPS Z5, 64(DX)(R13*1)
	VMOVUPS Z6, 128(DX)(R13*1)
	VMOVUPS Z7, 192(DX)(R13*1)
	VMOVUPS Z8, (BX)
	VMOVUPS Z9, 64(BX)
	VMOVUPS Z10, 128(BX)
	VMOVUPS Z11, 192(BX)
	VMOVUPS Z12, (BX)(R13*1)
	VMOVUPS Z13, 64(BX)(R13*1)
	VMOVUPS Z14, 128(BX)(R13*1)
	VMOVUPS Z15, 192(BX)(R13*1)
	ADDQ    $256, AX
	JMP     cols64

cols16:
	// 16 columns at a time, the last 8 (d is a multiple of 8) under
	// the mask K1, whose loads read nothing past them.
	MOVQ     R13, DX
	SUBQ     AX, DX
	JLE      next
	MOVQ     $0xffff, CX
	CMPQ     DX, $64
	JGE      mask16
	MOVQ     $0xff, CX

mask16:
	KMOVW    CX, K1
	LEAQ     (DI)(AX*1), DX
	LEAQ     (DX)(R13*2), BX
	VMOVUPS.Z (DX), K1, Z0
	VMOVUPS.Z (DX)(R13*1), K1, Z4
	VMOVUPS.Z (BX), K1, Z8
	VMOVUPS.Z (BX)(R13*1), K1, Z12
	LEAQ     (R10)(AX*1), BX
	XORQ     CX, CX

rows16:
	CMPQ         CX, R11
	JGE          store16
	VMOVUPS.Z    (BX), K1, Z16
	VBROADCASTSS (SI)(CX*4), Z20
	VBROADCASTSS (R12)(CX*4), Z21
	VBROADCASTSS (R14)(CX*4), Z22
	VBROADCASTSS (R15)(CX*4), Z23
	VFMADD231PS  Z16, Z20, Z0
	VFMADD231PS  Z16, Z21, Z4
	VFMADD231PS  Z16, Z22, Z8
	VFMADD231PS  Z16, Z23, Z12
	ADDQ         R13, BX
	INCQ         CX
	JMP          rows16

store16:
	LEAQ    (DI)(AX*1), DX
	LEAQ    (DX)(R13*2), BX
	VMOVUPS Z0, K1, (DX)
	VMOVUPS Z4, K1, (DX)(R13*1)
	VMOVUPS Z8, K1, (BX)
	VMOVUPS Z12, K1, (BX)(R13*1)
	ADDQ    $64, AX
	JMP     cols16

next:
	LEAQ (DI)(R13*4), DI
	LEAQ (SI)(R8*4), SI
	DECQ R9
	JNZ  quad
	VZEROUPPER
	RET

