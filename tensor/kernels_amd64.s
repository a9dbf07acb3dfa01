//go:build amd64 && !purego

#include "textflag.h"
#include "floatrows_amd64.h"

// Fused dot-product kernels for AVX2 + FMA (+ F16C for half scales and
// weights). Each takes one encoded weight row (or its first nb blocks) and
// one or four float32 input rows and follows the same arithmetic as the
// portable kernels in fused.go: per (sub-)block, float32 sums of integer
// quants times inputs, scaled once per (sub-)block.

// HSUM leaves the sum of the eight lanes of y in lane 0 of x (x is y's low
// half), using tmp.
#define HSUM(y, x, tmp) \
	VEXTRACTF128 $1, y, tmp; \
	VADDPS       tmp, x, x;  \
	VHADDPS      x, x, x;    \
	VHADDPS      x, x, x

// HALF broadcasts the fp16 value at mem to all lanes of y (via AX and xt).
#define HALF(mem, xt, y) \
	MOVWLZX      mem, AX;  \
	VMOVD        AX, xt;   \
	VCVTPH2PS    xt, xt;   \
	VBROADCASTSS xt, y

// BCASTD broadcasts the 32-bit constant c to all dword lanes of y.
#define BCASTD(c, xt, y) \
	MOVL         c, AX;  \
	VMOVD        AX, xt; \
	VPBROADCASTD xt, y

// Q8_0: fp16 d, 32 int8. Q8BLOCK decodes the block at SI into Y1..Y4.
#define Q8BLOCK \
	VPMOVSXBD 2(SI), Y1;  \
	VPMOVSXBD 10(SI), Y2; \
	VPMOVSXBD 18(SI), Y3; \
	VPMOVSXBD 26(SI), Y4; \
	VCVTDQ2PS Y1, Y1;     \
	VCVTDQ2PS Y2, Y2;     \
	VCVTDQ2PS Y3, Y3;     \
	VCVTDQ2PS Y4, Y4

// DOT32(base) leaves in Y10 the eight partial sums of Y1..Y4 times the 32
// floats at base (an addressing-mode suffix such as (DI) or (DI)(R8*1)).
#define DOT32(o0, o1, o2, o3, acc) \
	VMULPS      o0, Y1, Y10;   \
	VFMADD231PS o1, Y2, Y10;   \
	VMULPS      o2, Y3, Y11;   \
	VFMADD231PS o3, Y4, Y11;   \
	VADDPS      Y11, Y10, Y10; \
	VFMADD231PS Y5, Y10, acc

// X4SETUP loads the four-input arguments: SI weights, DI first input, R8
// input stride in bytes, R9 three strides, CX blocks, Y6..Y9 accumulators.
#define X4SETUP \
	MOVQ   w+0(FP), SI;      \
	MOVQ   x+8(FP), DI;      \
	MOVQ   stride+16(FP), R8; \
	SHLQ   $2, R8;           \
	LEAQ   (R8)(R8*2), R9;   \
	MOVQ   nb+24(FP), CX;    \
	VXORPS Y6, Y6, Y6;       \
	VXORPS Y7, Y7, Y7;       \
	VXORPS Y8, Y8, Y8;       \
	VXORPS Y9, Y9, Y9

// X4DOTS accumulates Y1..Y4 (32 decoded weights) times each of the four
// inputs at DI, scaled by Y5, into Y6..Y9.
#define X4DOTS \
	DOT32((DI), 32(DI), 64(DI), 96(DI), Y6); \
	DOT32((DI)(R8*1), 32(DI)(R8*1), 64(DI)(R8*1), 96(DI)(R8*1), Y7); \
	DOT32((DI)(R8*2), 32(DI)(R8*2), 64(DI)(R8*2), 96(DI)(R8*2), Y8); \
	DOT32((DI)(R9*1), 32(DI)(R9*1), 64(DI)(R9*1), 96(DI)(R9*1), Y9)

// X4STORE writes the horizontal sums of Y6..Y9 to out[0..3].
#define X4STORE \
	MOVQ  out+32(FP), DX; \
	HSUM(Y6, X6, X1);     \
	HSUM(Y7, X7, X1);     \
	HSUM(Y8, X8, X1);     \
	HSUM(Y9, X9, X1);     \
	VZEROUPPER;           \
	MOVSS X6, (DX);       \
	MOVSS X7, 4(DX);      \
	MOVSS X8, 8(DX);      \
	MOVSS X9, 12(DX)

// Q4_0: fp16 d, 16 bytes of nibbles (low: elements 0-15, high: 16-31),
// value q-8. Q4BLOCK decodes the block at SI into Y1..Y4 given Y15 = 15 and
// Y14 = 8 in every dword.
#define Q4BLOCK \
	VPMOVZXBD 2(SI), Y1;  \
	VPMOVZXBD 10(SI), Y2; \
	VPSRLD    $4, Y1, Y3; \
	VPSRLD    $4, Y2, Y4; \
	VPAND     Y15, Y1, Y1; \
	VPAND     Y15, Y2, Y2; \
	VPSUBD    Y14, Y1, Y1; \
	VPSUBD    Y14, Y2, Y2; \
	VPSUBD    Y14, Y3, Y3; \
	VPSUBD    Y14, Y4, Y4; \
	VCVTDQ2PS Y1, Y1;     \
	VCVTDQ2PS Y2, Y2;     \
	VCVTDQ2PS Y3, Y3;     \
	VCVTDQ2PS Y4, Y4

// Q4_K: fp16 d, fp16 dmin, 12 bytes of packed 6-bit scales and mins, 128
// bytes of nibbles; chunk c (64 elements) uses bytes 32c..32c+31, low nibbles
// for sub-block 2c, high for 2c+1. Value d*sc*q - dmin*m.
//
// KSCALES unpacks the eight 6-bit scales (into R9|R11<<32) and mins (into
// R10|R12<<32) from the 12 bytes at off(SI), as scaleMinK4 does, four
// sub-blocks per 32-bit word.
#define KSCALES(off) \
	MOVL  off(SI), AX;    \
	MOVL  off+4(SI), BX;  \
	MOVL  off+8(SI), DX;  \
	MOVL  AX, R9;         \
	ANDL  $0x3f3f3f3f, R9; \
	MOVL  BX, R10;        \
	ANDL  $0x3f3f3f3f, R10; \
	MOVL  DX, R11;        \
	ANDL  $0x0f0f0f0f, R11; \
	SHRL  $6, AX;         \
	ANDL  $0x03030303, AX; \
	SHLL  $4, AX;         \
	ORL   AX, R11;        \
	MOVL  DX, R12;        \
	SHRL  $4, R12;        \
	ANDL  $0x0f0f0f0f, R12; \
	SHRL  $6, BX;         \
	ANDL  $0x03030303, BX; \
	SHLL  $4, BX;         \
	ORL   BX, R12;        \
	SHLQ  $32, R11;       \
	ORQ   R11, R9;        \
	SHLQ  $32, R12;       \
	ORQ   R12, R10

// KSCALEVEC converts the eight bytes in GPR r to floats times ymul in y.
#define KSCALEVEC(r, x, y, ymul) \
	VMOVQ     r, x;       \
	VPMOVZXBD x, y;       \
	VCVTDQ2PS y, y;       \
	VMULPS    ymul, y, y

// K4HALF accumulates 16 bytes of nibbles at qoff(SI) times the inputs at
// xoff(DI): low nibbles into Y5 (inputs xoff..), high into Y6 (xoff+128..).
#define K4HALF(qoff, xoff) \
	VPMOVZXBD qoff(SI), Y1;     \
	VPMOVZXBD qoff+8(SI), Y2;   \
	VPAND     Y15, Y1, Y3;      \
	VPAND     Y15, Y2, Y4;      \
	VPSRLD    $4, Y1, Y1;       \
	VPSRLD    $4, Y2, Y2;       \
	VCVTDQ2PS Y1, Y1;           \
	VCVTDQ2PS Y2, Y2;           \
	VCVTDQ2PS Y3, Y3;           \
	VCVTDQ2PS Y4, Y4;           \
	VFMADD231PS xoff(DI), Y3, Y5;  \
	VFMADD231PS xoff+32(DI), Y4, Y5; \
	VFMADD231PS xoff+128(DI), Y1, Y6; \
	VFMADD231PS xoff+160(DI), Y2, Y6

// K5HALF is K4HALF for Q5_K: the fifth bit of each quant comes from the qh
// bytes at hoff(SI), moved to bit 4 by lop $ln (low nibbles) and hop $hn
// (high nibbles). Y13 = 16 in every dword.
#define K5HALF(qoff, hoff, xoff, lop, ln, hop, hn) \
	VPMOVZXBD qoff(SI), Y1;     \
	VPMOVZXBD qoff+8(SI), Y2;   \
	VPMOVZXBD hoff(SI), Y9;     \
	VPMOVZXBD hoff+8(SI), Y10;  \
	VPAND     Y15, Y1, Y3;      \
	VPAND     Y15, Y2, Y4;      \
	VPSRLD    $4, Y1, Y1;       \
	VPSRLD    $4, Y2, Y2;       \
	lop       $ln, Y9, Y11;     \
	VPAND     Y13, Y11, Y11;    \
	VPOR      Y11, Y3, Y3;      \
	lop       $ln, Y10, Y11;    \
	VPAND     Y13, Y11, Y11;    \
	VPOR      Y11, Y4, Y4;      \
	hop       $hn, Y9, Y11;     \
	VPAND     Y13, Y11, Y11;    \
	VPOR      Y11, Y1, Y1;      \
	hop       $hn, Y10, Y11;    \
	VPAND     Y13, Y11, Y11;    \
	VPOR      Y11, Y2, Y2;      \
	VCVTDQ2PS Y1, Y1;           \
	VCVTDQ2PS Y2, Y2;           \
	VCVTDQ2PS Y3, Y3;           \
	VCVTDQ2PS Y4, Y4;           \
	VFMADD231PS xoff(DI), Y3, Y5;  \
	VFMADD231PS xoff+32(DI), Y4, Y5; \
	VFMADD231PS xoff+128(DI), Y1, Y6; \
	VFMADD231PS xoff+160(DI), Y2, Y6

// K5CHUNK does chunk c of a Q5_K block: qs at qoff, inputs at xoff, scales
// at so(SP), with the shifts that bring qh bits 2c and 2c+1 to bit 4.
#define K5CHUNK(qoff, xoff, so, lop, ln, hop, hn) \
	VPXOR Y5, Y5, Y5; \
	VPXOR Y6, Y6, Y6; \
	K5HALF(qoff, 16, xoff, lop, ln, hop, hn); \
	K5HALF(qoff+16, 32, xoff+64, lop, ln, hop, hn); \
	VBROADCASTSS so(SP), Y7;   \
	VFMADD231PS  Y7, Y5, Y0;   \
	VBROADCASTSS so+4(SP), Y7; \
	VFMADD231PS  Y7, Y6, Y8

// Q6_K: ql[128], qh[64], int8 scales[16], fp16 d. In half n, element 32k+l
// has low bits from ql[64n+l+32*(k&1)] (low nibble for k<2, high for k>=2),
// high bits from bits 2k..2k+1 of qh[32n+l], value q-32, scale 8n+2k+l/16.
//
// Q6GROUP does sub-blocks (n, k, is) for k = 0..3 of the 16 elements
// l = 16is..16is+15 of half n: ql at qo, qh at ho, inputs at xo (bytes),
// scales at so(SP). Y15 = 15, Y14 = 48, Y13 = 32 in every dword.
#define Q6GROUP(qo, ho, xo, so) \
	VPMOVZXBD qo(SI), Y1;      \
	VPMOVZXBD qo+8(SI), Y2;    \
	VPMOVZXBD qo+32(SI), Y3;   \
	VPMOVZXBD qo+40(SI), Y4;   \
	VPMOVZXBD ho(SI), Y5;      \
	VPMOVZXBD ho+8(SI), Y6;    \
	VPAND     Y15, Y1, Y7;     \
	VPSLLD    $4, Y5, Y8;      \
	VPAND     Y14, Y8, Y8;     \
	VPOR      Y8, Y7, Y7;      \
	VPSUBD    Y13, Y7, Y7;     \
	VCVTDQ2PS Y7, Y7;          \
	VMULPS    xo(DI), Y7, Y9;  \
	VPAND     Y15, Y2, Y7;     \
	VPSLLD    $4, Y6, Y8;      \
	VPAND     Y14, Y8, Y8;     \
	VPOR      Y8, Y7, Y7;      \
	VPSUBD    Y13, Y7, Y7;     \
	VCVTDQ2PS Y7, Y7;          \
	VFMADD231PS xo+32(DI), Y7, Y9; \
	VBROADCASTSS so(SP), Y10;  \
	VFMADD231PS Y10, Y9, Y0;   \
	VPAND     Y15, Y3, Y7;     \
	VPSLLD    $2, Y5, Y8;      \
	VPAND     Y14, Y8, Y8;     \
	VPOR      Y8, Y7, Y7;      \
	VPSUBD    Y13, Y7, Y7;     \
	VCVTDQ2PS Y7, Y7;          \
	VMULPS    xo+128(DI), Y7, Y9; \
	VPAND     Y15, Y4, Y7;     \
	VPSLLD    $2, Y6, Y8;      \
	VPAND     Y14, Y8, Y8;     \
	VPOR      Y8, Y7, Y7;      \
	VPSUBD    Y13, Y7, Y7;     \
	VCVTDQ2PS Y7, Y7;          \
	VFMADD231PS xo+160(DI), Y7, Y9; \
	VBROADCASTSS so+8(SP), Y10; \
	VFMADD231PS Y10, Y9, Y11;  \
	VPSRLD    $4, Y1, Y7;      \
	VPAND     Y14, Y5, Y8;     \
	VPOR      Y8, Y7, Y7;      \
	VPSUBD    Y13, Y7, Y7;     \
	VCVTDQ2PS Y7, Y7;          \
	VMULPS    xo+256(DI), Y7, Y9; \
	VPSRLD    $4, Y2, Y7;      \
	VPAND     Y14, Y6, Y8;     \
	VPOR      Y8, Y7, Y7;      \
	VPSUBD    Y13, Y7, Y7;     \
	VCVTDQ2PS Y7, Y7;          \
	VFMADD231PS xo+288(DI), Y7, Y9; \
	VBROADCASTSS so+16(SP), Y10; \
	VFMADD231PS Y10, Y9, Y0;   \
	VPSRLD    $4, Y3, Y7;      \
	VPSRLD    $2, Y5, Y8;      \
	VPAND     Y14, Y8, Y8;     \
	VPOR      Y8, Y7, Y7;      \
	VPSUBD    Y13, Y7, Y7;     \
	VCVTDQ2PS Y7, Y7;          \
	VMULPS    xo+384(DI), Y7, Y9; \
	VPSRLD    $4, Y4, Y7;      \
	VPSRLD    $2, Y6, Y8;      \
	VPAND     Y14, Y8, Y8;     \
	VPOR      Y8, Y7, Y7;      \
	VPSUBD    Y13, Y7, Y7;     \
	VCVTDQ2PS Y7, Y7;          \
	VFMADD231PS xo+416(DI), Y7, Y9; \
	VBROADCASTSS so+24(SP), Y10; \
	VFMADD231PS Y10, Y9, Y11

// LOADF32, LOADF16 and LOADBF16 load the eight weights at mem into reg
// as float32.
#define LOADF32(mem, reg) VMOVUPS mem, reg
#define LOADF16(mem, reg) VCVTPH2PS mem, reg
#define LOADBF16(mem, reg) VPMOVZXWD mem, reg; VPSLLD $16, reg, reg

// DOTFLOAT is the dot product of n weights of eb bytes each (a number, not
// an immediate, n a multiple of 8), loaded by load, with n float32 inputs:
// two FMA chains, the even groups of 8 elements into Y0 and the odd ones
// into Y1 (a last even group into Y0), added, then HSUM. Every float-route
// kernel of the plain float types (ROWSX4FLOAT too) sums each (row,
// input) in exactly this order, so that an input's products are the same
// bit for bit whatever the batch around it (TestBatchInvariance). The
// kernels take one row at a time, which the CPU's prefetcher follows (four
// rows at once it did not): two chains keep up with memory for one input,
// four inputs' eight chains with the FMA ports.
#define DOTFLOAT(load, eb) \
	MOVQ   w+0(FP), SI;          \
	MOVQ   x+8(FP), DI;          \
	MOVQ   n+16(FP), CX;         \
	VXORPS Y0, Y0, Y0;           \
	VXORPS Y1, Y1, Y1;           \
loop16:                          \
	CMPQ        CX, $16;         \
	JLT         last8;           \
	load((SI), Y4);              \
	load(eb*8(SI), Y5);          \
	VFMADD231PS (DI), Y4, Y0;    \
	VFMADD231PS 32(DI), Y5, Y1;  \
	ADDQ        $(eb*16), SI;    \
	ADDQ        $64, DI;         \
	SUBQ        $16, CX;         \
	JMP         loop16;          \
last8:                           \
	CMPQ        CX, $8;          \
	JLT         done;            \
	load((SI), Y4);              \
	VFMADD231PS (DI), Y4, Y0;    \
done:                            \
	VADDPS Y1, Y0, Y0;           \
	HSUM(Y0, X0, X1);            \
	VZEROUPPER;                  \
	MOVSS  X0, ret+24(FP);       \
	RET

// func cpuidECX1() uint32
TEXT ·cpuidECX1(SB), NOSPLIT, $0-4
	MOVL $1, AX
	XORL CX, CX
	CPUID
	MOVL CX, ret+0(FP)
	RET

// func dotF32AVX2(w *byte, x *float32, n int) float32
// n must be a multiple of 8.
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	DOTFLOAT(LOADF32, 4)

// func dotF16AVX2(w *byte, x *float32, n int) float32
// n must be a multiple of 8.
TEXT ·dotF16AVX2(SB), NOSPLIT, $0-28
	DOTFLOAT(LOADF16, 2)

// func dotBF16AVX2(w *byte, x *float32, n int) float32
// n must be a multiple of 8.
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-28
	DOTFLOAT(LOADBF16, 2)

// func dotQ8_0AVX2(w *byte, x *float32, nb int) float32
TEXT ·dotQ8_0AVX2(SB), NOSPLIT, $0-28
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y6, Y6, Y6

q80loop2:
	CMPQ CX, $2
	JLT  q80loop1
	HALF((SI), X5, Y5)
	Q8BLOCK
	DOT32((DI), 32(DI), 64(DI), 96(DI), Y0)
	ADDQ $34, SI
	ADDQ $128, DI
	HALF((SI), X5, Y5)
	Q8BLOCK
	DOT32((DI), 32(DI), 64(DI), 96(DI), Y6)
	ADDQ $34, SI
	ADDQ $128, DI
	SUBQ $2, CX
	JMP  q80loop2

q80loop1:
	TESTQ CX, CX
	JZ    q80done
	HALF((SI), X5, Y5)
	Q8BLOCK
	DOT32((DI), 32(DI), 64(DI), 96(DI), Y0)

q80done:
	VADDPS Y6, Y0, Y0
	HSUM(Y0, X0, X1)
	VZEROUPPER
	MOVSS  X0, ret+24(FP)
	RET

// func dotQ8_0x4AVX2(w *byte, x *float32, stride int, nb int, out *[4]float32)
TEXT ·dotQ8_0x4AVX2(SB), NOSPLIT, $0-40
	X4SETUP

q80x4loop:
	TESTQ CX, CX
	JZ    q80x4done
	HALF((SI), X5, Y5)
	Q8BLOCK
	X4DOTS
	ADDQ  $34, SI
	ADDQ  $128, DI
	DECQ  CX
	JMP   q80x4loop

q80x4done:
	X4STORE
	RET

// func dotQ4_0AVX2(w *byte, x *float32, nb int) float32
TEXT ·dotQ4_0AVX2(SB), NOSPLIT, $0-28
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   nb+16(FP), CX
	BCASTD($15, X15, Y15)
	BCASTD($8, X14, Y14)
	VXORPS Y0, Y0, Y0
	VXORPS Y6, Y6, Y6

q40loop2:
	CMPQ CX, $2
	JLT  q40loop1
	HALF((SI), X5, Y5)
	Q4BLOCK
	DOT32((DI), 32(DI), 64(DI), 96(DI), Y0)
	ADDQ $18, SI
	ADDQ $128, DI
	HALF((SI), X5, Y5)
	Q4BLOCK
	DOT32((DI), 32(DI), 64(DI), 96(DI), Y6)
	ADDQ $18, SI
	ADDQ $128, DI
	SUBQ $2, CX
	JMP  q40loop2

q40loop1:
	TESTQ CX, CX
	JZ    q40done
	HALF((SI), X5, Y5)
	Q4BLOCK
	DOT32((DI), 32(DI), 64(DI), 96(DI), Y0)

q40done:
	VADDPS Y6, Y0, Y0
	HSUM(Y0, X0, X1)
	VZEROUPPER
	MOVSS  X0, ret+24(FP)
	RET

// func dotQ4_0x4AVX2(w *byte, x *float32, stride int, nb int, out *[4]float32)
TEXT ·dotQ4_0x4AVX2(SB), NOSPLIT, $0-40
	X4SETUP
	BCASTD($15, X15, Y15)
	BCASTD($8, X14, Y14)

q40x4loop:
	TESTQ CX, CX
	JZ    q40x4done
	HALF((SI), X5, Y5)
	Q4BLOCK
	X4DOTS
	ADDQ  $18, SI
	ADDQ  $128, DI
	DECQ  CX
	JMP   q40x4loop

q40x4done:
	X4STORE
	RET

// func dotQ4KAVX2(w *byte, x *float32, xsum *float32, nb int) float32
TEXT ·dotQ4KAVX2(SB), NOSPLIT, $32-36
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   xsum+16(FP), R13
	MOVQ   nb+24(FP), CX
	BCASTD($15, X15, Y15)
	VXORPS Y0, Y0, Y0
	VXORPS Y8, Y8, Y8
	VXORPS Y14, Y14, Y14

q4kloop:
	TESTQ CX, CX
	JZ    q4kdone
	HALF((SI), X12, Y12)
	HALF(2(SI), X13, Y13)
	KSCALES(4)
	KSCALEVEC(R9, X1, Y1, Y12)
	VMOVUPS Y1, (SP)
	KSCALEVEC(R10, X2, Y2, Y13)
	VFMADD231PS (R13), Y2, Y14

	// chunk 0: bytes 16..47, inputs 0..63, scales 0 and 1
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	K4HALF(16, 0)
	K4HALF(32, 64)
	VBROADCASTSS 0(SP), Y7
	VFMADD231PS  Y7, Y5, Y0
	VBROADCASTSS 4(SP), Y7
	VFMADD231PS  Y7, Y6, Y8

	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	K4HALF(48, 256)
	K4HALF(64, 320)
	VBROADCASTSS 8(SP), Y7
	VFMADD231PS  Y7, Y5, Y0
	VBROADCASTSS 12(SP), Y7
	VFMADD231PS  Y7, Y6, Y8

	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	K4HALF(80, 512)
	K4HALF(96, 576)
	VBROADCASTSS 16(SP), Y7
	VFMADD231PS  Y7, Y5, Y0
	VBROADCASTSS 20(SP), Y7
	VFMADD231PS  Y7, Y6, Y8

	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	K4HALF(112, 768)
	K4HALF(128, 832)
	VBROADCASTSS 24(SP), Y7
	VFMADD231PS  Y7, Y5, Y0
	VBROADCASTSS 28(SP), Y7
	VFMADD231PS  Y7, Y6, Y8

	ADDQ $144, SI
	ADDQ $1024, DI
	ADDQ $32, R13
	DECQ CX
	JMP  q4kloop

q4kdone:
	VADDPS Y8, Y0, Y0
	VSUBPS Y14, Y0, Y0
	HSUM(Y0, X0, X1)
	VZEROUPPER
	MOVSS  X0, ret+32(FP)
	RET

// func dotQ6KAVX2(w *byte, x *float32, nb int) float32
TEXT ·dotQ6KAVX2(SB), NOSPLIT, $64-28
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   nb+16(FP), CX
	BCASTD($15, X15, Y15)
	BCASTD($48, X14, Y14)
	BCASTD($32, X13, Y13)
	VXORPS Y0, Y0, Y0
	VXORPS Y11, Y11, Y11

q6kloop:
	TESTQ CX, CX
	JZ    q6kdone
	HALF(208(SI), X12, Y12)
	VPMOVSXBD 192(SI), Y1
	VCVTDQ2PS Y1, Y1
	VMULPS    Y12, Y1, Y1
	VMOVUPS   Y1, (SP)
	VPMOVSXBD 200(SI), Y1
	VCVTDQ2PS Y1, Y1
	VMULPS    Y12, Y1, Y1
	VMOVUPS   Y1, 32(SP)
	Q6GROUP(0, 128, 0, 0)
	Q6GROUP(16, 144, 64, 4)
	Q6GROUP(64, 160, 512, 32)
	Q6GROUP(80, 176, 576, 36)
	ADDQ $210, SI
	ADDQ $1024, DI
	DECQ CX
	JMP  q6kloop

q6kdone:
	VADDPS Y11, Y0, Y0
	HSUM(Y0, X0, X1)
	VZEROUPPER
	MOVSS  X0, ret+24(FP)
	RET

// func dotQ5KAVX2(w *byte, x *float32, xsum *float32, nb int) float32
TEXT ·dotQ5KAVX2(SB), NOSPLIT, $32-36
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   xsum+16(FP), R13
	MOVQ   nb+24(FP), CX
	BCASTD($15, X15, Y15)
	VXORPS Y0, Y0, Y0
	VXORPS Y8, Y8, Y8
	VXORPS Y14, Y14, Y14

q5kloop:
	TESTQ CX, CX
	JZ    q5kdone
	KSCALES(4)
	HALF((SI), X12, Y12)
	KSCALEVEC(R9, X1, Y1, Y12)
	VMOVUPS Y1, (SP)
	HALF(2(SI), X12, Y12)
	KSCALEVEC(R10, X2, Y2, Y12)
	VFMADD231PS (R13), Y2, Y14
	BCASTD($16, X13, Y13)
	K5CHUNK(48, 0, 0, VPSLLD, 4, VPSLLD, 3)
	K5CHUNK(80, 256, 8, VPSLLD, 2, VPSLLD, 1)
	K5CHUNK(112, 512, 16, VPSLLD, 0, VPSRLD, 1)
	K5CHUNK(144, 768, 24, VPSRLD, 2, VPSRLD, 3)
	ADDQ $176, SI
	ADDQ $1024, DI
	ADDQ $32, R13
	DECQ CX
	JMP  q5kloop

q5kdone:
	VADDPS Y8, Y0, Y0
	VSUBPS Y14, Y0, Y0
	HSUM(Y0, X0, X1)
	VZEROUPPER
	MOVSS  X0, ret+32(FP)
	RET

// func dotF32x4RowsAVX2(w *byte, rb, rows int, x *float32, xstride, n int, out *float32, ostride int)
TEXT ·dotF32x4RowsAVX2(SB), NOSPLIT, $0-64
	ROWSX4FLOAT(LOADF32, 4)

// func dotF16x4RowsAVX2(w *byte, rb, rows int, x *float32, xstride, n int, out *float32, ostride int)
TEXT ·dotF16x4RowsAVX2(SB), NOSPLIT, $0-64
	ROWSX4FLOAT(LOADF16, 2)

// func dotBF16x4RowsAVX2(w *byte, rb, rows int, x *float32, xstride, n int, out *float32, ostride int)
TEXT ·dotBF16x4RowsAVX2(SB), NOSPLIT, $0-64
	ROWSX4FLOAT(LOADBF16, 2)
