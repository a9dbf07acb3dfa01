//go:build amd64 && !purego

#include "textflag.h"

// The rotations of Rope, eight values at a time: every product and sum
// rounded as ropeGo rounds it (no fused multiply-adds).

// ROPEARGS loads both kernels' arguments (the same frame): x in DI, heads
// in CX, the bytes of a head in R8 and of half its rotated width in R9,
// cos in SI and sin in R10.
#define ROPEARGS \
	MOVQ x+0(FP), DI;        \
	MOVQ heads+8(FP), CX;    \
	MOVQ headDim+16(FP), R8; \
	SHLQ $2, R8;             \
	MOVQ cos+24(FP), SI;     \
	MOVQ sin+32(FP), R10;    \
	MOVQ half+40(FP), R9;    \
	SHLQ $2, R9

// func ropeNeoxAVX2(x *float32, heads, headDim int, cos, sin *float32, half int)
TEXT ·ropeNeoxAVX2(SB), NOSPLIT, $0-48
	ROPEARGS

nxhead:
	LEAQ (DI)(R9*1), R11 // the second of each pair
	XORQ AX, AX

nxloop:
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS (R11)(AX*1), Y1
	VMOVUPS (SI)(AX*1), Y2
	VMOVUPS (R10)(AX*1), Y3
	VMULPS  Y2, Y0, Y4
	VMULPS  Y3, Y1, Y5
	VSUBPS  Y5, Y4, Y4     // a*cos - b*sin
	VMULPS  Y3, Y0, Y6
	VMULPS  Y2, Y1, Y7
	VADDPS  Y7, Y6, Y6     // a*sin + b*cos
	VMOVUPS Y4, (DI)(AX*1)
	VMOVUPS Y6, (R11)(AX*1)
	ADDQ    $32, AX
	CMPQ    AX, R9
	JLT     nxloop
	ADDQ    R8, DI
	DECQ    CX
	JNZ     nxhead
	VZEROUPPER
	RET

// func ropePairsAVX2(x *float32, heads, headDim int, cos, sin *float32, half int)
//
// Four pairs at a time: the four cosines and sines are spread to both
// lanes of their pair, the pairs' values swapped into a second register,
// and VADDSUBPS subtracts in the even lanes (a*cos - b*sin) and adds in
// the odd ones (b*cos + a*sin, the same sum as a*sin + b*cos).
TEXT ·ropePairsAVX2(SB), NOSPLIT, $0-48
	ROPEARGS
	VMOVDQU ropedup<>(SB), Y15

prhead:
	XORQ AX, AX

prloop:
	VMOVUPS   (SI)(AX*1), X2
	VPERMPS   Y2, Y15, Y2    // c0 c0 c1 c1 c2 c2 c3 c3
	VMOVUPS   (R10)(AX*1), X3
	VPERMPS   Y3, Y15, Y3
	VMOVUPS   (DI)(AX*2), Y0 // a0 b0 a1 b1 ...
	VPERMILPS $0xb1, Y0, Y1  // b0 a0 b1 a1 ...
	VMULPS    Y2, Y0, Y4
	VMULPS    Y3, Y1, Y5
	VADDSUBPS Y5, Y4, Y4
	VMOVUPS   Y4, (DI)(AX*2)
	ADDQ      $16, AX
	CMPQ      AX, R9
	JLT       prloop
	ADDQ      R8, DI
	DECQ      CX
	JNZ       prhead
	VZEROUPPER
	RET

DATA ropedup<>+0(SB)/4, $0
DATA ropedup<>+4(SB)/4, $0
DATA ropedup<>+8(SB)/4, $1
DATA ropedup<>+12(SB)/4, $1
DATA ropedup<>+16(SB)/4, $2
DATA ropedup<>+20(SB)/4, $2
DATA ropedup<>+24(SB)/4, $3
DATA ropedup<>+28(SB)/4, $3
GLOBL ropedup<>(SB), RODATA|NOPTR, $32
