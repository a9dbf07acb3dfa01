//go:build amd64 && !purego

#include "textflag.h"

// Tiled four-input integer kernels (see tiled.go): one weight row of
// unpacked blocks times four inputs, the rows back to back. Each block's
// four integer dot products are reduced together to one vector holding
// each input's sum in two lanes, [A B C D | A B C D] (one lane per 128-bit
// half), matched by the interleaved input scales (d8, or the k4 records),
// so that one conversion and one multiply-add scale the whole block; the
// two halves are added when the row is done.
//
// Registers: SI the row's unpacked quants (Q4_0: R13 its float32 scales),
// DI input 0's quants (inputs 1-3 at +DX, +2DX, +R11), BX the input scale
// records, R12 the o8 records, CX blocks left, R10 rows left, R14 out, R15
// output stride; Y0 the row's sums, Y15 int16 ones (Q4_0).

// TSETUP loads the arguments common to the tiled kernels.
#define TSETUP \
	MOVQ q+0(FP), SI;         \
	MOVQ dw+8(FP), R13;       \
	MOVQ rows+16(FP), R10;    \
	MOVQ ystride+40(FP), DX;  \
	LEAQ (DX)(DX*2), R11;     \
	MOVL $0x00010001, AX;     \
	VMOVD AX, X15;            \
	VPBROADCASTD X15, Y15

// TROWSTART points DI, BX and CX at the inputs, their scales and the
// row's block count, and clears Y0.
#define TROWSTART \
	MOVQ   y+32(FP), DI;  \
	MOVQ   d8+48(FP), BX; \
	MOVQ   nb+24(FP), CX; \
	VXORPS Y0, Y0, Y0

// TROWEND adds the halves of Y0 and stores the four sums to (R14) and 1,
// 2, 3 output strides on, then moves to the next row.
#define TROWEND \
	VEXTRACTF128 $1, Y0, X1;            \
	VADDPS       X1, X0, X0;            \
	MOVSS        X0, (R14);             \
	VEXTRACTPS   $1, X0, (R14)(R15*1);  \
	LEAQ         (R14)(R15*2), AX;      \
	VEXTRACTPS   $2, X0, (AX);          \
	VEXTRACTPS   $3, X0, (AX)(R15*1);   \
	ADDQ         $4, R14;               \
	DECQ         R10

// TFLOAT converts the int32 sums in Y5 ([A B C D | A B C D]) and adds them
// times the row's block scale at (R13) and the inputs' at (BX) to Y0.
#define TFLOAT \
	VBROADCASTSS (R13), Y10;     \
	VCVTDQ2PS    Y5, Y5;         \
	VMULPS       (BX), Y10, Y10; \
	VFMADD231PS  Y10, Y5, Y0

// func idotQ4_0x4TAVX2(q *byte, dw *float32, rows, nb int, y *int8, ystride int, d8 *float32, o8 *int32, out *float32, ostride int)
// The unsigned nibbles times an input are at most 15*127 per byte, so the
// int16 pair sums of vpmaddubsw can be added four at a time without
// overflow: the two inputs of a pair are folded together by 64-bit
// unpacks before one vpmaddwd widens both, and a dword shuffle then adds
// each input's remaining two lanes per half. The nibbles' offset 8 is
// taken off through o8 (4 times the block sum in each of an input's two
// lanes).
TEXT ·idotQ4_0x4TAVX2(SB), NOSPLIT, $0-80
	TSETUP
	MOVQ out+64(FP), R14
	MOVQ ostride+72(FP), R15

q4trow:
	TESTQ R10, R10
	JZ    q4tend
	TROWSTART
	MOVQ  o8+56(FP), R12

q4tblk:
	VMOVDQU     (SI), Y8
	VPMADDUBSW  (DI), Y8, Y1
	VPMADDUBSW  (DI)(DX*1), Y8, Y2
	VPMADDUBSW  (DI)(DX*2), Y8, Y3
	VPMADDUBSW  (DI)(R11*1), Y8, Y4
	VPUNPCKLQDQ Y2, Y1, Y5
	VPUNPCKHQDQ Y2, Y1, Y6
	VPADDW      Y6, Y5, Y5
	VPUNPCKLQDQ Y4, Y3, Y6
	VPUNPCKHQDQ Y4, Y3, Y7
	VPADDW      Y7, Y6, Y6
	VPMADDWD    Y15, Y5, Y5
	VPMADDWD    Y15, Y6, Y6
	VSHUFPS     $0x88, Y6, Y5, Y7
	VSHUFPS     $0xdd, Y6, Y5, Y5
	VPADDD      Y7, Y5, Y5
	VPSUBD      (R12), Y5, Y5
	TFLOAT
	ADDQ $32, SI
	ADDQ $4, R13
	ADDQ $32, DI
	ADDQ $32, BX
	ADDQ $32, R12
	DECQ CX
	JNZ  q4tblk
	TROWEND
	JMP  q4trow

q4tend:
	VZEROUPPER
	RET

// PHADD4T reduces the int32 vectors a, b, c, d to a = [sum a, sum b, sum c,
// sum d] in each 128-bit half (each half holding half of each sum), using
// Y12 as scratch.
#define PHADD4T(a, b, c, d) \
	VPUNPCKLDQ  b, a, Y12; \
	VPUNPCKHDQ  b, a, b;   \
	VPADDD      b, Y12, a; \
	VPUNPCKLDQ  d, c, Y12; \
	VPUNPCKHDQ  d, c, d;   \
	VPADDD      d, Y12, c; \
	VPUNPCKLQDQ c, a, Y12; \
	VPUNPCKHQDQ c, a, c;   \
	VPADDD      c, Y12, a

// K4SUB adds sub-block s of an unpacked Q4_K record times the four inputs
// to Y1-Y4, pairs weighted by the sub-block's scale.
#define K4SUB(s) \
	VMOVDQU      (32*s)(SI), Y5;         \
	VPBROADCASTW (256+2*s)(SI), Y6;      \
	VPMADDUBSW   (32*s)(DI), Y5, Y12;    \
	VPMADDWD     Y6, Y12, Y12;           \
	VPADDD       Y12, Y1, Y1;            \
	VPMADDUBSW   (32*s)(DI)(DX*1), Y5, Y12; \
	VPMADDWD     Y6, Y12, Y12;           \
	VPADDD       Y12, Y2, Y2;            \
	VPMADDUBSW   (32*s)(DI)(DX*2), Y5, Y12; \
	VPMADDWD     Y6, Y12, Y12;           \
	VPADDD       Y12, Y3, Y3;            \
	VPMADDUBSW   (32*s)(DI)(R11*1), Y5, Y12; \
	VPMADDWD     Y6, Y12, Y12;           \
	VPADDD       Y12, Y4, Y4

// func idotQ4Kx4TAVX2(q *byte, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)
// Unpacked Q4_K records (see unpackQ4K) times four Q8_K inputs with their
// k4 records: per block, d*dx times the scaled integer sums less dmin*dx
// times the mins times the input sums, as the one-row kernels do.
TEXT ·idotQ4Kx4TAVX2(SB), NOSPLIT, $0-64
	MOVQ q+0(FP), SI
	MOVQ rows+8(FP), R10
	MOVQ ystride+32(FP), DX
	LEAQ (DX)(DX*2), R11
	MOVQ out+48(FP), R14
	MOVQ ostride+56(FP), R15

q4ktrow:
	TESTQ R10, R10
	JZ    q4ktend
	MOVQ   y+24(FP), DI
	MOVQ   k4+40(FP), BX
	MOVQ   nb+16(FP), CX
	VXORPS Y0, Y0, Y0

q4ktblk:
	VMOVDQU        272(SI), Y7
	VPMADDWD       16(BX), Y7, Y1
	VPMADDWD       48(BX), Y7, Y2
	VPMADDWD       80(BX), Y7, Y3
	VPMADDWD       112(BX), Y7, Y4
	PHADD4T(Y1, Y2, Y3, Y4)
	VBROADCASTF128 (BX), Y10
	VCVTDQ2PS      Y1, Y1
	VBROADCASTSS   308(SI), Y11
	VMULPS         Y10, Y11, Y11
	VFNMADD231PS   Y11, Y1, Y0
	VPXOR          Y1, Y1, Y1
	VPXOR          Y2, Y2, Y2
	VPXOR          Y3, Y3, Y3
	VPXOR          Y4, Y4, Y4
	K4SUB(0)
	K4SUB(1)
	K4SUB(2)
	K4SUB(3)
	K4SUB(4)
	K4SUB(5)
	K4SUB(6)
	K4SUB(7)
	PHADD4T(Y1, Y2, Y3, Y4)
	VCVTDQ2PS      Y1, Y1
	VBROADCASTSS   304(SI), Y11
	VMULPS         Y10, Y11, Y11
	VFMADD231PS    Y11, Y1, Y0
	ADDQ           $320, SI
	ADDQ           $256, DI
	ADDQ           $144, BX
	DECQ           CX
	JNZ            q4ktblk
	TROWEND
	JMP            q4ktrow

q4ktend:
	VZEROUPPER
	RET

// K6SUB adds elements 32s..32s+31 of an unpacked Q6_K record times the
// four inputs to Y1-Y4, pairs weighted by the record's int16 scale lanes.
#define K6SUB(s) \
	VMOVDQU      (32*s)(SI), Y5;            \
	VPMADDUBSW   (32*s)(DI), Y5, Y12;       \
	VPMADDWD     (256+32*s)(SI), Y12, Y12;  \
	VPADDD       Y12, Y1, Y1;               \
	VPMADDUBSW   (32*s)(DI)(DX*1), Y5, Y12; \
	VPMADDWD     (256+32*s)(SI), Y12, Y12;  \
	VPADDD       Y12, Y2, Y2;               \
	VPMADDUBSW   (32*s)(DI)(DX*2), Y5, Y12; \
	VPMADDWD     (256+32*s)(SI), Y12, Y12;  \
	VPADDD       Y12, Y3, Y3;               \
	VPMADDUBSW   (32*s)(DI)(R11*1), Y5, Y12; \
	VPMADDWD     (256+32*s)(SI), Y12, Y12;  \
	VPADDD       Y12, Y4, Y4

// func idotQ6Kx4TAVX2(q *byte, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)
// Unpacked Q6_K records (see unpackQ6K) times four Q8_K inputs: the
// integer sums of the scaled unsigned quants less 32 times the scaled
// input sums of 16, times d*dx once per block.
TEXT ·idotQ6Kx4TAVX2(SB), NOSPLIT, $0-64
	MOVQ q+0(FP), SI
	MOVQ rows+8(FP), R10
	MOVQ ystride+32(FP), DX
	LEAQ (DX)(DX*2), R11
	MOVQ out+48(FP), R14
	MOVQ ostride+56(FP), R15

q6ktrow:
	TESTQ R10, R10
	JZ    q6ktend
	MOVQ   y+24(FP), DI
	MOVQ   k4+40(FP), BX
	MOVQ   nb+16(FP), CX
	VXORPS Y0, Y0, Y0

q6ktblk:
	VMOVDQU        512(SI), Y7
	VPMADDWD       16(BX), Y7, Y1
	VPMADDWD       48(BX), Y7, Y2
	VPMADDWD       80(BX), Y7, Y3
	VPMADDWD       112(BX), Y7, Y4
	VPXOR          Y8, Y8, Y8
	VPSUBD         Y1, Y8, Y1
	VPSUBD         Y2, Y8, Y2
	VPSUBD         Y3, Y8, Y3
	VPSUBD         Y4, Y8, Y4
	K6SUB(0)
	K6SUB(1)
	K6SUB(2)
	K6SUB(3)
	K6SUB(4)
	K6SUB(5)
	K6SUB(6)
	K6SUB(7)
	PHADD4T(Y1, Y2, Y3, Y4)
	VBROADCASTF128 (BX), Y10
	VCVTDQ2PS      Y1, Y1
	VBROADCASTSS   544(SI), Y11
	VMULPS         Y10, Y11, Y11
	VFMADD231PS    Y11, Y1, Y0
	ADDQ           $576, SI
	ADDQ           $256, DI
	ADDQ           $144, BX
	DECQ           CX
	JNZ            q6ktblk
	TROWEND
	JMP            q6ktrow

q6ktend:
	VZEROUPPER
	RET
