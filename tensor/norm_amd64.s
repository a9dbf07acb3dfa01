//go:build amd64 && !purego

#include "textflag.h"

// func sumSquaresAVX2(x *float32, n int) float64
//
// Eight floats per step widen to two vectors of four doubles, squared and
// summed into two float64 accumulators.
TEXT ·sumSquaresAVX2(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1

ssloop:
	VCVTPS2PD   (SI), Y2
	VCVTPS2PD   16(SI), Y3
	VFMADD231PD Y2, Y2, Y0
	VFMADD231PD Y3, Y3, Y1
	ADDQ        $32, SI
	SUBQ        $8, CX
	JNZ         ssloop

	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	VZEROUPPER
	MOVSD        X0, ret+16(FP)
	RET

// func scaleMulAVX2(dst, x, w *float32, n int, scale float32)
//
// dst[i] = (x[i] * scale) * w[i], eight at a time, in the scalar order.
TEXT ·scaleMulAVX2(SB), NOSPLIT, $0-36
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS scale+32(FP), Y0

smloop:
	VMULPS  (SI), Y0, Y1
	VMULPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     smloop
	VZEROUPPER
	RET

// func addAVX2(dst, x *float32, n int)
//
// dst[i] += x[i], sixteen at a time, then eight.
TEXT ·addAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX

add16:
	CMPQ    CX, $16
	JLT     add8
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VADDPS  (SI), Y0, Y0
	VADDPS  32(SI), Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     add16

add8:
	TESTQ   CX, CX
	JZ      adddone
	VMOVUPS (DI), Y0
	VADDPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)

adddone:
	VZEROUPPER
	RET

// func scaleAVX2(dst, x *float32, n int, s float32)
//
// dst[i] = x[i] * s, sixteen at a time, then eight.
TEXT ·scaleAVX2(SB), NOSPLIT, $0-28
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS s+24(FP), Y2

scale16:
	CMPQ    CX, $16
	JLT     scale8
	VMULPS  (SI), Y2, Y0
	VMULPS  32(SI), Y2, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     scale16

scale8:
	TESTQ   CX, CX
	JZ      scaledone
	VMULPS  (SI), Y2, Y0
	VMOVUPS Y0, (DI)

scaledone:
	VZEROUPPER
	RET
