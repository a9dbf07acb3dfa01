//go:build amd64 && !purego

#include "textflag.h"

// func scanAVX2(p *byte, n int) uint64
// Sums n bytes (a multiple of 128) as uint64 lanes with four independent
// 256-bit accumulators, one 32-byte load per add.
TEXT ·scanAVX2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	SHRQ $7, CX
	JZ   scandone

scanloop:
	VPADDQ (SI), Y0, Y0
	VPADDQ 32(SI), Y1, Y1
	VPADDQ 64(SI), Y2, Y2
	VPADDQ 96(SI), Y3, Y3
	ADDQ   $128, SI
	DECQ   CX
	JNZ    scanloop

scandone:
	VPADDQ       Y1, Y0, Y0
	VPADDQ       Y3, Y2, Y2
	VPADDQ       Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDQ       X1, X0, X0
	VPEXTRQ      $1, X0, AX
	VMOVQ        X0, BX
	ADDQ         BX, AX
	VZEROUPPER
	MOVQ         AX, ret+16(FP)
	RET

// func fmaAVX2(x *[8]float32, n int)
// Runs n iterations of 10 independent VFMADD231PS acc += x*x and stores the
// horizontal sum of the accumulators (all lanes) in x[0..7].
TEXT ·fmaAVX2(SB), NOSPLIT, $0-16
	MOVQ    x+0(FP), DI
	MOVQ    n+8(FP), CX
	VMOVUPS (DI), Y10
	VMOVUPS (DI), Y11
	VXORPS  Y0, Y0, Y0
	VXORPS  Y1, Y1, Y1
	VXORPS  Y2, Y2, Y2
	VXORPS  Y3, Y3, Y3
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	VXORPS  Y8, Y8, Y8
	VXORPS  Y9, Y9, Y9
	TESTQ   CX, CX
	JZ      fmadone

fmaloop:
	VFMADD231PS Y11, Y10, Y0
	VFMADD231PS Y11, Y10, Y1
	VFMADD231PS Y11, Y10, Y2
	VFMADD231PS Y11, Y10, Y3
	VFMADD231PS Y11, Y10, Y4
	VFMADD231PS Y11, Y10, Y5
	VFMADD231PS Y11, Y10, Y6
	VFMADD231PS Y11, Y10, Y7
	VFMADD231PS Y11, Y10, Y8
	VFMADD231PS Y11, Y10, Y9
	DECQ        CX
	JNZ         fmaloop

fmadone:
	VADDPS  Y1, Y0, Y0
	VADDPS  Y3, Y2, Y2
	VADDPS  Y5, Y4, Y4
	VADDPS  Y7, Y6, Y6
	VADDPS  Y9, Y8, Y8
	VADDPS  Y2, Y0, Y0
	VADDPS  Y6, Y4, Y4
	VADDPS  Y8, Y0, Y0
	VADDPS  Y4, Y0, Y0
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RET
