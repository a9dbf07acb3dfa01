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

// func int8AVX2(n int) int32
// Runs n iterations of 6 independent chains acc += vpmaddwd(vpmaddubsw(a,
// b), ones) with every byte of a and b equal to 1, so each int32 lane of
// each accumulator gains 4 per iteration; returns lane 0 of their sum
// (24n, wrapping past 2^31).
TEXT ·int8AVX2(SB), NOSPLIT, $0-12
	MOVQ         n+0(FP), CX
	MOVL         $0x01010101, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14
	MOVL         $0x00010001, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15
	VPXOR        Y0, Y0, Y0
	VPXOR        Y1, Y1, Y1
	VPXOR        Y2, Y2, Y2
	VPXOR        Y3, Y3, Y3
	VPXOR        Y4, Y4, Y4
	VPXOR        Y5, Y5, Y5
	TESTQ        CX, CX
	JZ           int8done

int8loop:
	VPMADDUBSW Y14, Y14, Y6
	VPMADDWD   Y15, Y6, Y6
	VPADDD     Y6, Y0, Y0
	VPMADDUBSW Y14, Y14, Y7
	VPMADDWD   Y15, Y7, Y7
	VPADDD     Y7, Y1, Y1
	VPMADDUBSW Y14, Y14, Y8
	VPMADDWD   Y15, Y8, Y8
	VPADDD     Y8, Y2, Y2
	VPMADDUBSW Y14, Y14, Y9
	VPMADDWD   Y15, Y9, Y9
	VPADDD     Y9, Y3, Y3
	VPMADDUBSW Y14, Y14, Y10
	VPMADDWD   Y15, Y10, Y10
	VPADDD     Y10, Y4, Y4
	VPMADDUBSW Y14, Y14, Y11
	VPMADDWD   Y15, Y11, Y11
	VPADDD     Y11, Y5, Y5
	DECQ       CX
	JNZ        int8loop

int8done:
	VPADDD Y1, Y0, Y0
	VPADDD Y3, Y2, Y2
	VPADDD Y5, Y4, Y4
	VPADDD Y2, Y0, Y0
	VPADDD Y4, Y0, Y0
	VMOVD  X0, AX
	MOVL   AX, ret+8(FP)
	VZEROUPPER
	RET

// func int8VNNI(n int) int32
// Runs n iterations of 10 independent chains acc = vpdpbusd(acc, a, b) on
// 256-bit registers with every byte of a and b equal to 1, so each int32
// lane of each accumulator gains 4 per iteration; returns lane 0 of two of
// them summed (8n, wrapping past 2^31). Ten chains cover the instruction's
// latency at two per cycle.
TEXT ·int8VNNI(SB), NOSPLIT, $0-12
	MOVQ         n+0(FP), CX
	MOVL         $0x01010101, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14
	VPXOR        Y0, Y0, Y0
	VPXOR        Y1, Y1, Y1
	VPXOR        Y2, Y2, Y2
	VPXOR        Y3, Y3, Y3
	VPXOR        Y4, Y4, Y4
	VPXOR        Y5, Y5, Y5
	VPXOR        Y6, Y6, Y6
	VPXOR        Y7, Y7, Y7
	VPXOR        Y8, Y8, Y8
	VPXOR        Y9, Y9, Y9
	TESTQ        CX, CX
	JZ           vnnidone

vnniloop:
	VPDPBUSD Y14, Y14, Y0
	VPDPBUSD Y14, Y14, Y1
	VPDPBUSD Y14, Y14, Y2
	VPDPBUSD Y14, Y14, Y3
	VPDPBUSD Y14, Y14, Y4
	VPDPBUSD Y14, Y14, Y5
	VPDPBUSD Y14, Y14, Y6
	VPDPBUSD Y14, Y14, Y7
	VPDPBUSD Y14, Y14, Y8
	VPDPBUSD Y14, Y14, Y9
	DECQ     CX
	JNZ      vnniloop

vnnidone:
	VPADDD Y1, Y0, Y0
	VMOVD  X0, AX
	MOVL   AX, ret+8(FP)
	VZEROUPPER
	RET
