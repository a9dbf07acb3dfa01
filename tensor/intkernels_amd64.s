//go:build amd64 && !purego

#include "textflag.h"

// Integer-route kernels for AVX2 (see intdot.go for the arithmetic). Each
// loops over rows itself: w is the first weight row, rb the bytes from one
// row to the next, rows the row count and nb the blocks per row, so that
// one call covers a worker's whole range. Inputs are quantized activations
// in qacts' layout: int8 quants y, float32 block scales yd, and per format
// the block sums ys (Q8_0: d*sum(q)) or the int16 sums of 16 bs (Q8_K).
//
// Quants are multiplied with vpmaddubsw, which takes one unsigned and one
// signed operand: unsigned weight quants (Q4_0, K-quants) go in directly,
// their offset being subtracted through the input sums; signed ones (Q8_0)
// use the sign trick, |w| times y*sign(w). vpmaddwd then widens the pairs
// to int32, with ones or with the sub-block scales.

// HSUM leaves the sum of the eight lanes of y in lane 0 of x (x is y's low
// half), using tmp.
#define HSUM(y, x, tmp) \
	VEXTRACTF128 $1, y, tmp; \
	VADDPS       tmp, x, x;  \
	VHADDPS      x, x, x;    \
	VHADDPS      x, x, x

// BCASTD broadcasts the 32-bit constant c to all dword lanes of y.
#define BCASTD(c, xt, y) \
	MOVL         c, AX;  \
	VMOVD        AX, xt; \
	VPBROADCASTD xt, y

// SCALE leaves in y the fp16 weight scale at wmem times the float32 input
// scale at dmem, in every lane, using yt.
#define SCALE(wmem, dmem, x, y, yt) \
	VPBROADCASTW wmem, x; \
	VCVTPH2PS    x, y;    \
	VBROADCASTSS dmem, yt;   \
	VMULPS       yt, y, y

// ROWSETUP loads the common arguments of the one-input row kernels: R8
// first row, R9 row stride, R10 rows, R14 out.
#define ROWSETUP \
	MOVQ w+0(FP), R8;     \
	MOVQ rb+8(FP), R9;    \
	MOVQ rows+16(FP), R10; \
	MOVQ out+56(FP), R14

// Q80I leaves in dst eight int32 lanes summing to the integer dot of the
// Q8_0 weight block at wo(SI) with the input quants at yo(DI): |w| times
// y*sign(w), which is w*y (and right for w = -128, whose |w| is 128 as an
// unsigned byte). Y15 = int16 ones.
#define Q80I(wo, yo, dst) \
	VMOVDQU    wo+2(SI), Y2;   \
	VMOVDQU    yo(DI), Y3;     \
	VPSIGNB    Y2, Y2, Y4;     \
	VPSIGNB    Y2, Y3, Y3;     \
	VPMADDUBSW Y3, Y4, Y4;     \
	VPMADDWD   Y15, Y4, dst

// Q40I is Q80I for a Q4_0 block with its unsigned nibbles q (not q-8): the
// 16 bytes go to both halves, the upper half shifted right by 4 (Y13 =
// qword shift counts 0, 0, 4, 4). Y14 = 0x0f bytes, Y15 = int16 ones.
#define Q40I(wo, yo, dst) \
	VBROADCASTI128 wo+2(SI), Y2; \
	VPSRLVQ        Y13, Y2, Y2;  \
	VPAND          Y14, Y2, Y2;  \
	VPMADDUBSW  yo(DI), Y2, Y2; \
	VPMADDWD    Y15, Y2, dst

// PHADD4 reduces the int32 vectors a, b, c, d to a = [sum a, sum b, sum c,
// sum d] in each 128-bit half (each half holding half of each sum), using
// b, c, d and Y12 as scratch. Unpacks and adds: vphaddd, 3-4 µops on Zen
// 3, measured slower.
#define PHADD4(a, b, c, d) \
	VPUNPCKLDQ  b, a, Y12; \
	VPUNPCKHDQ  b, a, b;   \
	VPADDD      b, Y12, a; \
	VPUNPCKLDQ  d, c, Y12; \
	VPUNPCKHDQ  d, c, d;   \
	VPADDD      d, Y12, c; \
	VPUNPCKLQDQ c, a, Y12; \
	VPUNPCKHQDQ c, a, c;   \
	VPADDD      c, Y12, a

// DW4 gathers the fp16 scales of four blocks bb bytes apart, at 0, o1, o2,
// o3 (SI), as float32 in X5, via AX and R11.
#define DW4(o1, o2, o3) \
	MOVWLZX   (SI), AX;   \
	MOVWLZX   o1(SI), R11; \
	SHLL      $16, R11;   \
	ORL       R11, AX;    \
	MOVWLZX   o2(SI), R11; \
	SHLQ      $32, R11;   \
	ORQ       R11, AX;    \
	MOVWLZX   o3(SI), R11; \
	SHLQ      $48, R11;   \
	ORQ       R11, AX;    \
	VMOVQ     AX, X5;     \
	VCVTPH2PS X5, X5

// SCALE4 accumulates into Y0 the float32 of the four block sums in the
// halves of Y8 times their weight scales (X5) and input scales at (BX).
#define SCALE4 \
	VCVTDQ2PS   Y8, Y8;        \
	VMULPS      (BX), X5, X5;  \
	VINSERTF128 $1, X5, Y5, Y5; \
	VFMADD231PS Y5, Y8, Y0

// SCALE1 accumulates into Y1 the float32 of the block sum in Y8 times the
// block's weight scale at (SI) and input scale at (BX).
#define SCALE1 \
	VCVTDQ2PS   Y8, Y8;         \
	SCALE((SI), (BX), X5, Y5, Y6); \
	VFMADD231PS Y5, Y8, Y1

// OFFSET4 subtracts off times the four input block sums at (R12) from the
// first half of Y8 (shift = log2 off); OFFSET1 does one block.
#define OFFSET4(shift) \
	VMOVDQU (R12), X6;       \
	VPSLLD  $shift, X6, X6;  \
	VPSUBD  Y6, Y8, Y8

#define OFFSET1(shift) \
	VMOVD   (R12), X6;       \
	VPSLLD  $shift, X6, X6;  \
	VPSUBD  Y6, Y8, Y8

// RSTART points SI, DI, BX, R12, CX at the row's first block, the input
// quants, scales and sums, and clears the accumulators Y0, Y1.
#define RSTART \
	MOVQ   R8, SI;         \
	MOVQ   y+32(FP), DI;   \
	MOVQ   yd+40(FP), BX;  \
	MOVQ   is+48(FP), R12; \
	MOVQ   nb+24(FP), CX;  \
	VXORPS Y0, Y0, Y0;     \
	VXORPS Y1, Y1, Y1

// REND stores the row's sum (Y0 + Y1) and moves to the next row.
#define REND \
	VADDPS Y1, Y0, Y0; \
	HSUM(Y0, X0, X1);  \
	MOVSS  X0, (R14);  \
	ADDQ   $4, R14;    \
	ADDQ   R9, R8;     \
	DECQ   R10

// X4ROWSETUP loads the arguments of the four-input row kernels: R8 first
// row, R9 row stride, R10 rows, R14 out, R15 output stride, DX input
// stride, R11 three input strides (strides in bytes).
#define X4ROWSETUP \
	MOVQ w+0(FP), R8;          \
	MOVQ rb+8(FP), R9;         \
	MOVQ rows+16(FP), R10;     \
	MOVQ out+64(FP), R14;      \
	MOVQ ostride+72(FP), R15;  \
	MOVQ ystride+40(FP), DX;   \
	LEAQ (DX)(DX*2), R11

// X4ROWSTART points SI, DI, BX, R12, CX at the row's first block, the
// inputs, their interleaved scales and sums, and clears Y0.
#define X4ROWSTART \
	MOVQ   R8, SI;         \
	MOVQ   y+32(FP), DI;   \
	MOVQ   d4+48(FP), BX;  \
	MOVQ   is4+56(FP), R12; \
	MOVQ   nb+24(FP), CX;  \
	VXORPS Y0, Y0, Y0

// X4SCALE accumulates into Y0 the float32 of the four inputs' block sums
// in the halves of Y8 times the weight scale at (SI) and the inputs'
// scales at (BX).
#define X4SCALE \
	VCVTDQ2PS      Y8, Y8;  \
	VPBROADCASTW   (SI), X6; \
	VCVTPH2PS      X6, Y6;  \
	VBROADCASTF128 (BX), Y7; \
	VMULPS         Y7, Y6, Y6; \
	VFMADD231PS    Y6, Y8, Y0

// X4ROWEND stores the four sums (the halves of Y0 added) and moves to the
// next row.
#define X4ROWEND \
	VEXTRACTF128 $1, Y0, X1;        \
	VADDPS       X1, X0, X0;        \
	MOVSS        X0, (R14);         \
	VEXTRACTPS   $1, X0, (R14)(R15*1); \
	LEAQ         (R14)(R15*2), AX;  \
	VEXTRACTPS   $2, X0, (AX);      \
	VEXTRACTPS   $3, X0, (AX)(R15*1); \
	ADDQ         $4, R14;           \
	ADDQ         R9, R8;            \
	DECQ         R10

// X8ROWSETUP loads the arguments of the eight-input row kernels: R8 first
// row, R9 row stride, R10 rows, R14 out, R15 output stride, DX input
// stride, R11 three input strides, R13 the distance from the first
// group's interleaved scales and sums to the second's (strides in bytes).
#define X8ROWSETUP \
	MOVQ w+0(FP), R8;          \
	MOVQ rb+8(FP), R9;         \
	MOVQ rows+16(FP), R10;     \
	MOVQ out+72(FP), R14;      \
	MOVQ ostride+80(FP), R15;  \
	MOVQ ystride+40(FP), DX;   \
	MOVQ gstride+64(FP), R13;  \
	LEAQ (DX)(DX*2), R11

// X8ROWSTART points SI, DI, AX, BX, R12, CX at the row's first block, the
// first and fifth inputs, the first group's interleaved scales and sums,
// and clears the accumulators Y0 (inputs 0-3) and Y1 (inputs 4-7).
#define X8ROWSTART \
	MOVQ   R8, SI;          \
	MOVQ   y+32(FP), DI;    \
	LEAQ   (DI)(DX*4), AX;  \
	MOVQ   d4+48(FP), BX;   \
	MOVQ   is4+56(FP), R12; \
	MOVQ   nb+24(FP), CX;   \
	VXORPS Y0, Y0, Y0;      \
	VXORPS Y1, Y1, Y1

// X8SCALE accumulates into acc the float32 of four inputs' block sums in
// the halves of Y8 times the weight scale in Y3 and the inputs' scales at
// dmem, as X4SCALE does.
#define X8SCALE(dmem, acc) \
	VCVTDQ2PS      Y8, Y8;     \
	VBROADCASTF128 dmem, Y7;   \
	VMULPS         Y7, Y3, Y7; \
	VFMADD231PS    Y7, Y8, acc

// X8ROWEND stores the eight sums (the halves of Y0 and Y1 added) and
// moves to the next row.
#define X8ROWEND \
	VEXTRACTF128 $1, Y0, X2;           \
	VADDPS       X2, X0, X0;           \
	VEXTRACTF128 $1, Y1, X2;           \
	VADDPS       X2, X1, X1;           \
	MOVQ         R14, AX;              \
	MOVSS        X0, (AX);             \
	VEXTRACTPS   $1, X0, (AX)(R15*1);  \
	VEXTRACTPS   $2, X0, (AX)(R15*2);  \
	LEAQ         (AX)(R15*2), AX;      \
	VEXTRACTPS   $3, X0, (AX)(R15*1);  \
	MOVSS        X1, (AX)(R15*2);      \
	LEAQ         (AX)(R15*2), AX;      \
	VEXTRACTPS   $1, X1, (AX)(R15*1);  \
	VEXTRACTPS   $2, X1, (AX)(R15*2);  \
	LEAQ         (AX)(R15*2), AX;      \
	VEXTRACTPS   $3, X1, (AX)(R15*1);  \
	ADDQ         $4, R14;              \
	ADDQ         R9, R8;               \
	DECQ         R10

// X4Q80 leaves in Yd the integer dot of the Q8_0 weights (|w| in Y4, w in
// Y5) with the input at ymem.
#define X4Q80(ymem, yd) \
	VMOVDQU    ymem, Y7;    \
	VPSIGNB    Y5, Y7, Y7;  \
	VPMADDUBSW Y7, Y4, Y7;  \
	VPMADDWD   Y15, Y7, yd

// X4Q40 leaves in Yd the integer dot of the unsigned nibbles in Y2 with
// the input at ymem.
#define X4Q40(ymem, yd) \
	VPMADDUBSW ymem, Y2, Y7; \
	VPMADDWD   Y15, Y7, yd

// X8Q40W leaves in Yd the int16 pair sums of the unsigned nibbles in Y2
// times the input at ymem (at most 2*15*127 in magnitude).
#define X8Q40W(ymem, yd) \
	VPMADDUBSW ymem, Y2, yd

// PHADD4W is PHADD4 for int16 pair sums, reduced in int16 before one
// widening vpmaddwd (Y15 = int16 ones): three fewer instructions per four
// inputs. Each int16 lane ends up summing four pair sums, at most
// 8*15*127 = 15240 for Q4_0, so nothing saturates; the int32 results are
// the same exact sums PHADD4 gives.
#define PHADD4W(a, b, c, d) \
	VPUNPCKLDQ  b, a, Y12; \
	VPUNPCKHDQ  b, a, b;   \
	VPADDW      b, Y12, a; \
	VPUNPCKLDQ  d, c, Y12; \
	VPUNPCKHDQ  d, c, d;   \
	VPADDW      d, Y12, c; \
	VPUNPCKLQDQ c, a, Y12; \
	VPUNPCKHQDQ c, a, c;   \
	VPADDW      c, Y12, a; \
	VPMADDWD    Y15, a, a

// KX4SETUP loads the arguments of the four-input K-quant kernels: R8 first
// row, R9 row stride, R10 rows, R14 out, DX input stride.
#define KX4SETUP \
	MOVQ w+0(FP), R8;       \
	MOVQ rb+8(FP), R9;      \
	MOVQ rows+16(FP), R10;  \
	MOVQ out+56(FP), R14;   \
	MOVQ ystride+40(FP), DX

// KX4ROWSTART points SI, DI, BX, CX at the row's first block, the inputs
// and their k4 records, and clears Y0.
#define KX4ROWSTART \
	MOVQ   R8, SI;        \
	MOVQ   y+32(FP), DI;  \
	MOVQ   k4+48(FP), BX; \
	MOVQ   nb+24(FP), CX; \
	VXORPS Y0, Y0, Y0

// KX4MUL adds to Yacc the unsigned quants in Yq times the input at ymem,
// pairs weighted by the int16 scales in Ys.
#define KX4MUL(ymem, yq, ys, acc) \
	VPMADDUBSW ymem, yq, Y12; \
	VPMADDWD   ys, Y12, Y12;  \
	VPADDD     Y12, acc, acc

// KX4ALL runs KX4MUL for the four inputs at yo.
#define KX4ALL(yo, yq, ys) \
	KX4MUL(yo(DI), yq, ys, Y1);        \
	KX4MUL(yo(DI)(DX*1), yq, ys, Y2);  \
	KX4MUL(yo(DI)(DX*2), yq, ys, Y3);  \
	KX4MUL(yo(DI)(R11*1), yq, ys, Y4)

// K4X4CHUNK does chunk c of a Q4_K block for four inputs (see K4CHUNK).
#define K4X4CHUNK(qo, yo, so) \
	VMOVDQU qo(SI), Y5;   \
	VPAND   Y14, Y5, Y6;  \
	VPSRLW  $4, Y5, Y5;   \
	VPAND   Y14, Y5, Y5;  \
	VPSHUFB kshuf<>+so(SB), Y9, Y7;    \
	VPSHUFB kshuf<>+so+32(SB), Y9, Y8; \
	KX4ALL(yo, Y6, Y7);   \
	KX4ALL(yo+32, Y5, Y8)

// KX4FLOAT accumulates into Y0 (or subtracts, op VFNMADD231PS) the int32
// sums in the halves of Y1 times the fp16 weight scale at wmem and the
// inputs' scales in Y10.
#define KX4FLOAT(wmem, op) \
	VCVTDQ2PS    Y1, Y1;       \
	VPBROADCASTW wmem, X11;    \
	VCVTPH2PS    X11, Y11;     \
	VMULPS       Y10, Y11, Y11; \
	op           Y11, Y1, Y0

// Q6X4GROUP does sub-blocks (n, k) of a Q6_K block for four inputs: the
// quants built in Y10 from ql (Y5 or Y8, shifted by lsh) and qh (Y9,
// shifted by hop $hn), scales from the int8 scales in X6 with the pattern
// at q6shuf<>+so. Y14 = 0x0f bytes, Y13 = 0x30 bytes.
#define Q6X4GROUP(yl, lsh, hop, hn, yo, so) \
	VPSRLW    $lsh, yl, Y10;   \
	VPAND     Y14, Y10, Y10;   \
	hop       $hn, Y9, Y12;    \
	VPAND     Y13, Y12, Y12;   \
	VPOR      Y12, Y10, Y10;   \
	VPSHUFB   q6shuf<>+so(SB), X6, X11; \
	VPMOVSXBW X11, Y11;        \
	KX4ALL(yo, Y10, Y11)

// Q6X4HALF does half n of a Q6_K block for four inputs.
#define Q6X4HALF(qo, ho, yo, so) \
	VMOVDQU qo(SI), Y5;     \
	VMOVDQU qo+32(SI), Y8;  \
	VMOVDQU ho(SI), Y9;     \
	Q6X4GROUP(Y5, 0, VPSLLW, 4, yo, so);       \
	Q6X4GROUP(Y8, 0, VPSLLW, 2, yo+32, so+16); \
	Q6X4GROUP(Y5, 4, VPSRLW, 0, yo+64, so+32); \
	Q6X4GROUP(Y8, 4, VPSRLW, 2, yo+96, so+48)

// K5BITS ORs the fifth bits of a Q5_K chunk into the nibbles in lo and
// hi: bits k and k+1 of the qh bytes in Y10 moved to bit 4 by lop $ln and
// hop $hn (word shifts: for the shifts used no bit crosses into bit 4 of
// another byte), masked with Y13 = 0x10 bytes, using Y3.
#define K5BITS(lo, hi, lop, ln, hop, hn) \
	lop  $ln, Y10, Y3; \
	VPAND Y13, Y3, Y3; \
	VPOR  Y3, lo, lo;  \
	hop  $hn, Y10, Y3; \
	VPAND Y13, Y3, Y3; \
	VPOR  Y3, hi, hi

// K5CHUNK is K4CHUNK for Q5_K (nibbles at qo, qh bits via K5BITS).
#define K5CHUNK(qo, yo, so, lop, ln, hop, hn) \
	VMOVDQU      qo(SI), Y1;   \
	VPAND        Y14, Y1, Y2;  \
	VPSRLW       $4, Y1, Y1;   \
	VPAND        Y14, Y1, Y1;  \
	K5BITS(Y2, Y1, lop, ln, hop, hn); \
	VPMADDUBSW   yo(DI), Y2, Y2; \
	VPSHUFB      kshuf<>+so(SB), Y9, Y3; \
	VPMADDWD     Y3, Y2, Y2;   \
	VPADDD       Y2, Y8, Y8;   \
	VPMADDUBSW   yo+32(DI), Y1, Y1; \
	VPSHUFB      kshuf<>+so+32(SB), Y9, Y3; \
	VPMADDWD     Y3, Y1, Y1;   \
	VPADDD       Y1, Y8, Y8

// K5X4CHUNK is K4X4CHUNK for Q5_K: qh bytes in Y13, 0x10 bytes in Y15,
// Y11 scratch.
#define K5X4CHUNK(qo, yo, so, lop, ln, hop, hn) \
	VMOVDQU qo(SI), Y5;   \
	VPAND   Y14, Y5, Y6;  \
	VPSRLW  $4, Y5, Y5;   \
	VPAND   Y14, Y5, Y5;  \
	lop     $ln, Y13, Y11; \
	VPAND   Y15, Y11, Y11; \
	VPOR    Y11, Y6, Y6;   \
	hop     $hn, Y13, Y11; \
	VPAND   Y15, Y11, Y11; \
	VPOR    Y11, Y5, Y5;   \
	VPSHUFB kshuf<>+so(SB), Y9, Y7;    \
	VPSHUFB kshuf<>+so+32(SB), Y9, Y8; \
	KX4ALL(yo, Y6, Y7);   \
	KX4ALL(yo+32, Y5, Y8)

// qhsel<> and qhbit<> expand the 32 fifth bits of a Q5_0/Q5_1 block:
// after a dword broadcast, vpshufb by qhsel<> puts the byte holding bit j
// in byte j, and comparing its bit j%8 (qhbit<>) gives 0xff where set.
DATA qhsel<>+0(SB)/8, $0x0000000000000000
DATA qhsel<>+8(SB)/8, $0x0101010101010101
DATA qhsel<>+16(SB)/8, $0x0202020202020202
DATA qhsel<>+24(SB)/8, $0x0303030303030303
GLOBL qhsel<>(SB), RODATA|NOPTR, $32

DATA qhbit<>+0(SB)/8, $0x8040201008040201
DATA qhbit<>+8(SB)/8, $0x8040201008040201
DATA qhbit<>+16(SB)/8, $0x8040201008040201
DATA qhbit<>+24(SB)/8, $0x8040201008040201
GLOBL qhbit<>(SB), RODATA|NOPTR, $32

DATA bit4<>+0(SB)/8, $0x1010101010101010
DATA bit4<>+8(SB)/8, $0x1010101010101010
DATA bit4<>+16(SB)/8, $0x1010101010101010
DATA bit4<>+24(SB)/8, $0x1010101010101010
GLOBL bit4<>(SB), RODATA|NOPTR, $32

// DECNIB leaves in Y2 the 32 unsigned nibbles at qo(SI) in element order
// (Y13 = nibshift<>, Y14 = 0x0f bytes).
#define DECNIB(qo) \
	VBROADCASTI128 qo(SI), Y2; \
	VPSRLVQ        Y13, Y2, Y2; \
	VPAND          Y14, Y2, Y2

// QHBITS ORs into Y2 the fifth bits of the 32 quants from the 32-bit word
// at ho(SI), using Y3.
#define QHBITS(ho) \
	VPBROADCASTD ho(SI), Y3;      \
	VPSHUFB      qhsel<>(SB), Y3, Y3; \
	VPAND        qhbit<>(SB), Y3, Y3; \
	VPCMPEQB     qhbit<>(SB), Y3, Y3; \
	VPAND        bit4<>(SB), Y3, Y3;  \
	VPOR         Y3, Y2, Y2

// QDOT leaves in dst the int32 lanes of the unsigned quants in Y2 times
// the input quants at ymem (Y15 = int16 ones).
#define QDOT(ymem, dst) \
	VPMADDUBSW ymem, Y2, Y2; \
	VPMADDWD   Y15, Y2, dst

// QDOTX4 is QDOT keeping Y2, with Y7 as scratch.
#define QDOTX4(ymem, dst) \
	VPMADDUBSW ymem, Y2, Y7; \
	VPMADDWD   Y15, Y7, dst

// MINS4 adds to Y1 the fp16 minimums of four blocks at o0..o3(SI) times
// the input Q8_1 sums at (R12).
#define MINS4(o0, o1, o2, o3) \
	MOVWLZX   o0(SI), AX;   \
	MOVWLZX   o1(SI), R11;  \
	SHLL      $16, R11;     \
	ORL       R11, AX;      \
	MOVWLZX   o2(SI), R11;  \
	SHLQ      $32, R11;     \
	ORQ       R11, AX;      \
	MOVWLZX   o3(SI), R11;  \
	SHLQ      $48, R11;     \
	ORQ       R11, AX;      \
	VMOVQ     AX, X5;       \
	VCVTPH2PS X5, X5;       \
	VMULPS    (R12), X5, X5; \
	VADDPS    Y5, Y1, Y1

// MINS1 adds to Y1 one block's fp16 minimum at o(SI) times its input sum.
#define MINS1(o) \
	MOVWLZX   o(SI), AX;     \
	VMOVD     AX, X5;        \
	VCVTPH2PS X5, X5;        \
	VMULSS    (R12), X5, X5; \
	VADDPS    Y5, Y1, Y1

// Q3SCALES leaves in X6 the sixteen Q3_K scales (6 bits, minus 32) as
// int8, from the 12 bytes at 96(SI): the low four bits of scale s are
// nibble s/8 of byte s%8, the high two bits 2*(s/4) of byte 8+s%4. Uses
// AX, R11, R12, R13.
#define Q3SCALES \
	MOVQ    96(SI), AX;          \
	MOVQ    $0x0f0f0f0f0f0f0f0f, R13; \
	MOVQ    AX, R11;             \
	ANDQ    R13, R11;            \
	SHRQ    $4, AX;              \
	ANDQ    R13, AX;             \
	MOVL    104(SI), R12;        \
	MOVL    R12, R13;            \
	ANDL    $0x03030303, R13;    \
	SHLQ    $4, R13;             \
	ORQ     R13, R11;            \
	MOVL    R12, R13;            \
	SHRL    $2, R13;             \
	ANDL    $0x03030303, R13;    \
	SHLQ    $36, R13;            \
	ORQ     R13, R11;            \
	MOVL    R12, R13;            \
	SHRL    $4, R13;             \
	ANDL    $0x03030303, R13;    \
	SHLQ    $4, R13;             \
	ORQ     R13, AX;             \
	SHRL    $6, R12;             \
	ANDL    $0x03030303, R12;    \
	SHLQ    $36, R12;            \
	ORQ     R12, AX;             \
	VMOVQ   R11, X6;             \
	VPINSRQ $1, AX, X6, X6;      \
	VPSUBB  c32b<>(SB), X6, X6

DATA c32b<>+0(SB)/8, $0x2020202020202020
DATA c32b<>+8(SB)/8, $0x2020202020202020
GLOBL c32b<>(SB), RODATA|NOPTR, $16

// Q2Q leaves in Y9 the 2-bit quants (shift sh) of the 32 bytes in Y5 (Y13
// = 0x03 bytes).
#define Q2Q(sh) \
	VPSRLW $sh, Y5, Y9; \
	VPAND  Y13, Y9, Y9

// Q3Q is Q2Q plus bit 2 from the hmask bytes in hm (moved by hop $hn, Y15
// = 0x04 bytes), using Y12: the unsigned quant q+4 of Q3_K.
#define Q3Q(sh, hop, hn, hm) \
	Q2Q(sh);            \
	hop   $hn, hm, Y12; \
	VPAND Y15, Y12, Y12; \
	VPOR  Y12, Y9, Y9

// QX4G adds the quants in Y9 times the four inputs at yo, weighted by the
// scale pair at q6shuf<>+so of the int8 scales in X6 (uses Y10, Y11 for
// copies: KX4ALL takes the quants in Y10 and scales in Y11).
#define QX4G(yo, so) \
	VMOVDQA   Y9, Y10;          \
	VPSHUFB   q6shuf<>+so(SB), X6, X11; \
	VPMOVSXBW X11, Y11;         \
	KX4ALL(yo, Y10, Y11)

// KROWSTART points SI, DI, BX, DX, CX at the row's first block, the
// inputs, their scales and sums of 16, and clears the accumulator Y0.
#define KROWSTART \
	MOVQ   R8, SI;         \
	MOVQ   y+32(FP), DI;   \
	MOVQ   yd+40(FP), BX;  \
	MOVQ   bs+48(FP), DX;  \
	MOVQ   nb+24(FP), CX;  \
	VXORPS Y0, Y0, Y0

// KROWEND stores the row's sum and moves to the next row.
#define KROWEND \
	HSUM(Y0, X0, X1); \
	MOVSS X0, (R14);  \
	ADDQ  $4, R14;    \
	ADDQ  R9, R8;     \
	DECQ  R10

// Q4_K: fp16 d, fp16 dmin, 12 bytes of packed 6-bit scales and mins, 128
// bytes of nibbles; chunk c (64 elements) uses bytes 32c..32c+31, low nibbles
// for sub-block 2c, high for 2c+1.
//
// KSCALES unpacks the eight 6-bit scales and the eight mins from the 12
// bytes at off(SI), as scaleMinK4 does, four sub-blocks per 32-bit word:
// the scales as int16 into both halves of Y9, the mins as int16 into X6.
#define KSCALES(off) \
	MOVL        off(SI), AX;        \
	MOVL        off+4(SI), R11;     \
	MOVL        off+8(SI), R12;     \
	MOVL        R12, R13;           \
	ANDL        $0x0f0f0f0f, R13;   \
	MOVL        AX, R15;            \
	SHRL        $6, R15;            \
	ANDL        $0x03030303, R15;   \
	SHLL        $4, R15;            \
	ORL         R15, R13;           \
	ANDL        $0x3f3f3f3f, AX;    \
	SHRL        $4, R12;            \
	ANDL        $0x0f0f0f0f, R12;   \
	MOVL        R11, R15;           \
	SHRL        $6, R15;            \
	ANDL        $0x03030303, R15;   \
	SHLL        $4, R15;            \
	ORL         R15, R12;           \
	ANDL        $0x3f3f3f3f, R11;   \
	SHLQ        $32, R13;           \
	ORQ         R13, AX;            \
	SHLQ        $32, R12;           \
	ORQ         R12, R11;           \
	VMOVQ       AX, X9;             \
	VPMOVZXBW   X9, X9;             \
	VINSERTI128 $1, X9, Y9, Y9;     \
	VMOVQ       R11, X6;            \
	VPMOVZXBW   X6, X6

// KMINS leaves in Y7 eight int32 lanes summing to sum_k m_k*(bs_2k+bs_2k+1),
// the mins in X6 times the input sums of 32 from the sums of 16 at bmem.
#define KMINS(bmem) \
	VPUNPCKLWD  X6, X6, X7;     \
	VPUNPCKHWD  X6, X6, X6;     \
	VINSERTI128 $1, X6, Y7, Y7; \
	VPMADDWD    bmem, Y7, Y7

// kshuf<> holds at 32j, for each j in 0..7, the vpshufb pattern that
// spreads int16 word j of each 128-bit lane over the lane.
DATA kshuf<>+0(SB)/8, $0x0100010001000100
DATA kshuf<>+8(SB)/8, $0x0100010001000100
DATA kshuf<>+16(SB)/8, $0x0100010001000100
DATA kshuf<>+24(SB)/8, $0x0100010001000100
DATA kshuf<>+32(SB)/8, $0x0302030203020302
DATA kshuf<>+40(SB)/8, $0x0302030203020302
DATA kshuf<>+48(SB)/8, $0x0302030203020302
DATA kshuf<>+56(SB)/8, $0x0302030203020302
DATA kshuf<>+64(SB)/8, $0x0504050405040504
DATA kshuf<>+72(SB)/8, $0x0504050405040504
DATA kshuf<>+80(SB)/8, $0x0504050405040504
DATA kshuf<>+88(SB)/8, $0x0504050405040504
DATA kshuf<>+96(SB)/8, $0x0706070607060706
DATA kshuf<>+104(SB)/8, $0x0706070607060706
DATA kshuf<>+112(SB)/8, $0x0706070607060706
DATA kshuf<>+120(SB)/8, $0x0706070607060706
DATA kshuf<>+128(SB)/8, $0x0908090809080908
DATA kshuf<>+136(SB)/8, $0x0908090809080908
DATA kshuf<>+144(SB)/8, $0x0908090809080908
DATA kshuf<>+152(SB)/8, $0x0908090809080908
DATA kshuf<>+160(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA kshuf<>+168(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA kshuf<>+176(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA kshuf<>+184(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA kshuf<>+192(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA kshuf<>+200(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA kshuf<>+208(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA kshuf<>+216(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA kshuf<>+224(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA kshuf<>+232(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA kshuf<>+240(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA kshuf<>+248(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL kshuf<>(SB), RODATA|NOPTR, $256

// K4CHUNK adds to Y8 chunk c of a Q4_K block: 32 bytes of nibbles at qo(SI)
// times the inputs at yo(DI) (low nibbles) and yo+32(DI) (high), with the
// int16 scales 2c and 2c+1 of Y9 picked by the patterns at kshuf<>+so and
// so+32. Y14 = 0x0f bytes.
#define K4CHUNK(qo, yo, so) \
	VMOVDQU      qo(SI), Y1;   \
	VPAND        Y14, Y1, Y2;  \
	VPSRLW       $4, Y1, Y1;   \
	VPAND        Y14, Y1, Y1;  \
	VPMADDUBSW   yo(DI), Y2, Y2; \
	VPSHUFB      kshuf<>+so(SB), Y9, Y3; \
	VPMADDWD     Y3, Y2, Y2;   \
	VPADDD       Y2, Y8, Y8;   \
	VPMADDUBSW   yo+32(DI), Y1, Y1; \
	VPSHUFB      kshuf<>+so+32(SB), Y9, Y3; \
	VPMADDWD     Y3, Y1, Y1;   \
	VPADDD       Y1, Y8, Y8

// Q6_K: ql[128], qh[64], int8 scales[16], fp16 d. In half n, element 32k+l
// has low bits from ql[64n+l+32*(k&1)] (low nibble for k<2, high for k>=2),
// high bits from bits 2k..2k+1 of qh[32n+l], value q-32, scale 8n+2k+l/16.
//
// q6shuf<> holds, for each pair p = 4n+k of sub-blocks, the vpshufb pattern
// that spreads scale byte 2p over the low eight bytes and 2p+1 over the
// high eight.
DATA q6shuf<>+0(SB)/8, $0x0000000000000000
DATA q6shuf<>+8(SB)/8, $0x0101010101010101
DATA q6shuf<>+16(SB)/8, $0x0202020202020202
DATA q6shuf<>+24(SB)/8, $0x0303030303030303
DATA q6shuf<>+32(SB)/8, $0x0404040404040404
DATA q6shuf<>+40(SB)/8, $0x0505050505050505
DATA q6shuf<>+48(SB)/8, $0x0606060606060606
DATA q6shuf<>+56(SB)/8, $0x0707070707070707
DATA q6shuf<>+64(SB)/8, $0x0808080808080808
DATA q6shuf<>+72(SB)/8, $0x0909090909090909
DATA q6shuf<>+80(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA q6shuf<>+88(SB)/8, $0x0b0b0b0b0b0b0b0b
DATA q6shuf<>+96(SB)/8, $0x0c0c0c0c0c0c0c0c
DATA q6shuf<>+104(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA q6shuf<>+112(SB)/8, $0x0e0e0e0e0e0e0e0e
DATA q6shuf<>+120(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL q6shuf<>(SB), RODATA|NOPTR, $128

// Q6KMUL adds to Y8 a pair of sub-blocks: the 6-bit quants in Y9 times the
// inputs at yo(DI), with the scale pair whose pattern is at q6shuf<>+so
// taken from the int8 scales in X6.
#define Q6KMUL(yo, so) \
	VPMADDUBSW yo(DI), Y9, Y9;             \
	VPSHUFB    q6shuf<>+so(SB), X6, X10;   \
	VPMOVSXBW  X10, Y10;                   \
	VPMADDWD   Y10, Y9, Y9;                \
	VPADDD     Y9, Y8, Y8

// Q6HALF does half n: ql at qo(SI), qh at ho(SI), inputs at yo(DI), scale
// patterns from q6shuf<>+so. Y14 = 0x0f bytes, Y13 = 0x30 bytes.
#define Q6HALF(qo, ho, yo, so) \
	VMOVDQU qo(SI), Y1;        \
	VMOVDQU qo+32(SI), Y2;     \
	VMOVDQU ho(SI), Y5;        \
	VPAND   Y14, Y1, Y9;       \
	VPSLLW  $4, Y5, Y10;       \
	VPAND   Y13, Y10, Y10;     \
	VPOR    Y10, Y9, Y9;       \
	Q6KMUL(yo, so);             \
	VPAND   Y14, Y2, Y9;       \
	VPSLLW  $2, Y5, Y10;       \
	VPAND   Y13, Y10, Y10;     \
	VPOR    Y10, Y9, Y9;       \
	Q6KMUL(yo+32, so+16);        \
	VPSRLW  $4, Y1, Y9;        \
	VPAND   Y14, Y9, Y9;       \
	VPAND   Y13, Y5, Y10;      \
	VPOR    Y10, Y9, Y9;       \
	Q6KMUL(yo+64, so+32);        \
	VPSRLW  $4, Y2, Y9;        \
	VPAND   Y14, Y9, Y9;       \
	VPSRLW  $2, Y5, Y10;       \
	VPAND   Y13, Y10, Y10;     \
	VPOR    Y10, Y9, Y9;       \
	Q6KMUL(yo+96, so+48)

// The eight-input K-quant kernels decode each super-block once for two
// groups of four inputs, the second group's k4 records gstride bytes after
// the first's. Eight int32 accumulators, the quants, the scale patterns
// and the constants fill the sixteen ymm registers, so the two groups'
// float32 sums live in the frame (0(SP) and 32(SP)), touched once per
// super-block.

// KX8ALL runs KX4MUL for the eight inputs at yo: DI, AX the first and
// fifth, DX the input stride, R11 three strides; a0..a7 the accumulators.
#define KX8ALL(yo, yq, ys, a0, a1, a2, a3, a4, a5, a6, a7) \
	KX4MUL(yo(DI), yq, ys, a0);        \
	KX4MUL(yo(DI)(DX*1), yq, ys, a1);  \
	KX4MUL(yo(DI)(DX*2), yq, ys, a2);  \
	KX4MUL(yo(DI)(R11*1), yq, ys, a3); \
	KX4MUL(yo(AX), yq, ys, a4);        \
	KX4MUL(yo(AX)(DX*1), yq, ys, a5);  \
	KX4MUL(yo(AX)(DX*2), yq, ys, a6);  \
	KX4MUL(yo(AX)(R11*1), yq, ys, a7)

// KX8SET is KX8ALL storing the products into the accumulators instead of
// adding them, for a super-block's first sub-block (no clearing needed).
#define KX8SET(yo, yq, ys, a0, a1, a2, a3, a4, a5, a6, a7) \
	VPMADDUBSW yo(DI), yq, Y12;        VPMADDWD ys, Y12, a0; \
	VPMADDUBSW yo(DI)(DX*1), yq, Y12;  VPMADDWD ys, Y12, a1; \
	VPMADDUBSW yo(DI)(DX*2), yq, Y12;  VPMADDWD ys, Y12, a2; \
	VPMADDUBSW yo(DI)(R11*1), yq, Y12; VPMADDWD ys, Y12, a3; \
	VPMADDUBSW yo(AX), yq, Y12;        VPMADDWD ys, Y12, a4; \
	VPMADDUBSW yo(AX)(DX*1), yq, Y12;  VPMADDWD ys, Y12, a5; \
	VPMADDUBSW yo(AX)(DX*2), yq, Y12;  VPMADDWD ys, Y12, a6; \
	VPMADDUBSW yo(AX)(R11*1), yq, Y12; VPMADDWD ys, Y12, a7

// KX8WS leaves in ws the fp16 weight scale at wmem as float32 in every
// lane, using tx, for KX8FLOAT to share between the two groups.
#define KX8WS(wmem, tx, ws) \
	VPBROADCASTW wmem, tx; \
	VCVTPH2PS    tx, ws

// KX8FLOAT is KX4FLOAT for one group, its float32 sums at off(SP), with
// op the 213 form of KX4FLOAT's (one rounding either way): the same
// products in the same order, so each input's result is bit for bit the
// four-input kernel's. tz is scratch.
#define KX8FLOAT(isum, ws, dmem, off, op, tz) \
	VCVTDQ2PS      isum, isum;   \
	VBROADCASTF128 dmem, tz;     \
	VMULPS         tz, ws, tz;   \
	op             off(SP), tz, isum; \
	VMOVUPS        isum, off(SP)

// KX8SETUP loads the arguments of the eight-input K-quant kernels: R8
// first row, R9 row stride, R10 rows, R14 out, DX input stride.
#define KX8SETUP \
	MOVQ w+0(FP), R8;       \
	MOVQ rb+8(FP), R9;      \
	MOVQ rows+16(FP), R10;  \
	MOVQ out+64(FP), R14;   \
	MOVQ ystride+40(FP), DX

// KX8ROWSTART points SI, DI, BX, CX at the row's first block, the first
// input and the first group's k4 records, and clears the float32 sums.
#define KX8ROWSTART \
	MOVQ    R8, SI;        \
	MOVQ    y+32(FP), DI;  \
	MOVQ    k4+48(FP), BX; \
	MOVQ    nb+24(FP), CX; \
	VXORPS  Y0, Y0, Y0;    \
	VMOVUPS Y0, 0(SP);     \
	VMOVUPS Y0, 32(SP)

// KX8ROWEND stores the row's eight sums from the frame (see X8ROWEND).
#define KX8ROWEND \
	MOVQ    ostride+72(FP), R15; \
	VMOVUPS 0(SP), Y0;           \
	VMOVUPS 32(SP), Y1;          \
	X8ROWEND

// K4X8CHUNK is K4X4CHUNK for eight inputs (accumulators Y0-Y4, Y10, Y11,
// Y13), lo KX8SET for the first chunk and KX8ALL for the others.
#define K4X8CHUNK(qo, yo, so, lo) \
	VMOVDQU qo(SI), Y5;   \
	VPAND   Y14, Y5, Y6;  \
	VPSRLW  $4, Y5, Y5;   \
	VPAND   Y14, Y5, Y5;  \
	VPSHUFB kshuf<>+so(SB), Y9, Y7;    \
	VPSHUFB kshuf<>+so+32(SB), Y9, Y8; \
	lo(yo, Y6, Y7, Y0, Y1, Y2, Y3, Y4, Y10, Y11, Y13); \
	KX8ALL(yo+32, Y5, Y8, Y0, Y1, Y2, Y3, Y4, Y10, Y11, Y13)

// K5X8CHUNK is K5X4CHUNK for eight inputs (accumulators as K4X8CHUNK):
// the qh bytes reloaded into Y8 before it takes a scale pattern, 0x10
// bytes in Y15.
#define K5X8CHUNK(qo, yo, so, lop, ln, hop, hn, lo) \
	VMOVDQU qo(SI), Y5;    \
	VPAND   Y14, Y5, Y6;   \
	VPSRLW  $4, Y5, Y5;    \
	VPAND   Y14, Y5, Y5;   \
	VMOVDQU 16(SI), Y8;    \
	lop     $ln, Y8, Y7;   \
	VPAND   Y15, Y7, Y7;   \
	VPOR    Y7, Y6, Y6;    \
	hop     $hn, Y8, Y7;   \
	VPAND   Y15, Y7, Y7;   \
	VPOR    Y7, Y5, Y5;    \
	VPSHUFB kshuf<>+so(SB), Y9, Y7;    \
	VPSHUFB kshuf<>+so+32(SB), Y9, Y8; \
	lo(yo, Y6, Y7, Y0, Y1, Y2, Y3, Y4, Y10, Y11, Y13); \
	KX8ALL(yo+32, Y5, Y8, Y0, Y1, Y2, Y3, Y4, Y10, Y11, Y13)

// Q6X8GROUP is Q6X4GROUP for eight inputs: the low bits reloaded from qo
// (SI) rather than kept, qh in Y9, accumulators Y0-Y5, Y7, Y8.
#define Q6X8GROUP(qo, lsh, hop, hn, yo, so) \
	VMOVDQU   qo(SI), Y10;     \
	VPSRLW    $lsh, Y10, Y10;  \
	VPAND     Y14, Y10, Y10;   \
	hop       $hn, Y9, Y12;    \
	VPAND     Y13, Y12, Y12;   \
	VPOR      Y12, Y10, Y10;   \
	VPSHUFB   q6shuf<>+so(SB), X6, X11; \
	VPMOVSXBW X11, Y11;        \
	KX8ALL(yo, Y10, Y11, Y0, Y1, Y2, Y3, Y4, Y5, Y7, Y8)

// Q6X8HALF does half n of a Q6_K block for eight inputs.
#define Q6X8HALF(qo, ho, yo, so) \
	VMOVDQU ho(SI), Y9;     \
	Q6X8GROUP(qo, 0, VPSLLW, 4, yo, so);          \
	Q6X8GROUP(qo+32, 0, VPSLLW, 2, yo+32, so+16); \
	Q6X8GROUP(qo, 4, VPSRLW, 0, yo+64, so+32);    \
	Q6X8GROUP(qo+32, 4, VPSRLW, 2, yo+96, so+48)

// Q6X8OFF starts accumulator acc at -32 times the scaled input sums at
// bmem (Y10 the int16 scales, Y15 zero).
#define Q6X8OFF(bmem, acc) \
	VPMADDWD bmem, Y10, acc; \
	VPSLLD   $5, acc, acc;   \
	VPSUBD   acc, Y15, acc

// KX4MINS starts a K-quant block of the four-input row kernels: the
// row's scales and minimums (KSCALES), the minimums' products with the
// inputs' sums of 32 taken off the float sums, and the int32 sums Y1..Y4
// cleared for the quants.
#define KX4MINS \
	KSCALES(4);                     \
	LEAQ           (DX)(DX*2), R11; \
	VPUNPCKLWD     X6, X6, X7;      \
	VPUNPCKHWD     X6, X6, X6;      \
	VINSERTI128    $1, X6, Y7, Y7;  \
	VPMADDWD       16(BX), Y7, Y1;  \
	VPMADDWD       48(BX), Y7, Y2;  \
	VPMADDWD       80(BX), Y7, Y3;  \
	VPMADDWD       112(BX), Y7, Y4; \
	PHADD4(Y1, Y2, Y3, Y4);         \
	VBROADCASTF128 (BX), Y10;       \
	KX4FLOAT(2(SI), VFNMADD231PS);  \
	VPXOR          Y1, Y1, Y1;      \
	VPXOR          Y2, Y2, Y2;      \
	VPXOR          Y3, Y3, Y3;      \
	VPXOR          Y4, Y4, Y4

// KX8MINS is KX4MINS for the eight-input row kernels (both groups of four
// inputs, the second gstride bytes into the records), with the minimums'
// scales widened into ws (wx its low half) and tz a scratch register.
#define KX8MINS(wx, ws, tz) \
	KSCALES(4);                                        \
	LEAQ           (DX)(DX*2), R11;                    \
	LEAQ           (DI)(DX*4), AX;                     \
	MOVQ           gstride+56(FP), R13;                \
	VPUNPCKLWD     X6, X6, X7;                         \
	VPUNPCKHWD     X6, X6, X6;                         \
	VINSERTI128    $1, X6, Y7, Y7;                     \
	VPMADDWD       16(BX), Y7, Y0;                     \
	VPMADDWD       48(BX), Y7, Y1;                     \
	VPMADDWD       80(BX), Y7, Y2;                     \
	VPMADDWD       112(BX), Y7, Y3;                    \
	VPMADDWD       16(BX)(R13*1), Y7, Y4;              \
	VPMADDWD       48(BX)(R13*1), Y7, Y10;             \
	VPMADDWD       80(BX)(R13*1), Y7, Y11;             \
	VPMADDWD       112(BX)(R13*1), Y7, Y13;            \
	PHADD4(Y0, Y1, Y2, Y3);                            \
	PHADD4(Y4, Y10, Y11, Y13);                         \
	KX8WS(2(SI), wx, ws);                              \
	KX8FLOAT(Y0, ws, (BX), 0, VFNMADD213PS, tz);       \
	KX8FLOAT(Y4, ws, (BX)(R13*1), 32, VFNMADD213PS, tz)

// func idotQ4KRowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, bs *int16, out *float32)
TEXT ·idotQ4KRowsAVX2(SB), NOSPLIT, $0-64
	ROWSETUP
	BCASTD($0x0f0f0f0f, X14, Y14)

q4krow:
	TESTQ R10, R10
	JZ    q4kend
	KROWSTART

q4kblk:
	PREFETCHT0 1024(SI)
	PREFETCHT0 1088(SI)
	KSCALES(4)
	KMINS((DX))
	VPXOR   Y8, Y8, Y8
	K4CHUNK(16, 0, 0)
	K4CHUNK(48, 64, 64)
	K4CHUNK(80, 128, 128)
	K4CHUNK(112, 192, 192)
	SCALE((SI), (BX), X4, Y4, Y5)
	VCVTDQ2PS    Y8, Y8
	VFMADD231PS  Y4, Y8, Y0
	SCALE(2(SI), (BX), X4, Y4, Y5)
	VCVTDQ2PS    Y7, Y7
	VFNMADD231PS Y4, Y7, Y0
	ADDQ         $144, SI
	ADDQ         $256, DI
	ADDQ         $4, BX
	ADDQ         $32, DX
	DECQ         CX
	JNZ          q4kblk
	KROWEND
	JMP          q4krow

q4kend:
	VZEROUPPER
	RET

// func idotQ6KRowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, bs *int16, out *float32)
// The offset 32 is taken off through the input sums of 16: sum_j sc_j *
// 32 * bs_j per block.
TEXT ·idotQ6KRowsAVX2(SB), NOSPLIT, $0-64
	ROWSETUP
	BCASTD($0x0f0f0f0f, X14, Y14)
	BCASTD($0x30303030, X13, Y13)

q6krow:
	TESTQ R10, R10
	JZ    q6kend
	KROWSTART

q6kblk:
	PREFETCHT0   1024(SI)
	PREFETCHT0   1088(SI)
	PREFETCHT0   1152(SI)
	VMOVDQU      192(SI), X6
	VPMOVSXBW    X6, Y7
	VPMADDWD     (DX), Y7, Y7
	VPSLLD       $5, Y7, Y7
	VPXOR        Y8, Y8, Y8
	VPSUBD       Y7, Y8, Y8
	Q6HALF(0, 128, 0, 0)
	Q6HALF(64, 160, 128, 64)
	SCALE(208(SI), (BX), X4, Y4, Y5)
	VCVTDQ2PS    Y8, Y8
	VFMADD231PS  Y4, Y8, Y0
	ADDQ         $210, SI
	ADDQ         $256, DI
	ADDQ         $4, BX
	ADDQ         $32, DX
	DECQ         CX
	JNZ          q6kblk
	KROWEND
	JMP          q6krow

q6kend:
	VZEROUPPER
	RET

// nibshift<> shifts the upper 128 bits of a vector right by 4 under
// vpsrlvq, the lower not at all: low nibbles below, high nibbles above.
DATA nibshift<>+0(SB)/8, $0
DATA nibshift<>+8(SB)/8, $0
DATA nibshift<>+16(SB)/8, $4
DATA nibshift<>+24(SB)/8, $4
GLOBL nibshift<>(SB), RODATA|NOPTR, $32

// permq8<> is the vpermd pattern that restores element order after the
// in-lane vpackssdw/vpacksswb of four vectors of eight int32.
DATA permq8<>+0(SB)/4, $0
DATA permq8<>+4(SB)/4, $4
DATA permq8<>+8(SB)/4, $1
DATA permq8<>+12(SB)/4, $5
DATA permq8<>+16(SB)/4, $2
DATA permq8<>+20(SB)/4, $6
DATA permq8<>+24(SB)/4, $3
DATA permq8<>+28(SB)/4, $7
GLOBL permq8<>(SB), RODATA|NOPTR, $32

// func idotQ8_0RowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, is *int32, out *float32)
// Blocks go four at a time: their integer sums are reduced together into
// one vector, so that one conversion and one multiply-add scale all four.
TEXT ·idotQ8_0RowsAVX2(SB), NOSPLIT, $0-64
	ROWSETUP
	BCASTD($0x00010001, X15, Y15)

q80row:
	TESTQ R10, R10
	JZ    q80end
	RSTART

q80b4:
	CMPQ CX, $4
	JLT  q80b1
	PREFETCHT1 1024(SI)
	PREFETCHT1 1088(SI)
	Q80I(0, 0, Y8)
	Q80I(34, 32, Y9)
	Q80I(68, 64, Y10)
	Q80I(102, 96, Y11)
	PHADD4(Y8, Y9, Y10, Y11)
	DW4(34, 68, 102)
	SCALE4
	ADDQ $136, SI
	ADDQ $128, DI
	ADDQ $16, BX
	SUBQ $4, CX
	JMP  q80b4

q80b1:
	TESTQ CX, CX
	JZ    q80rowend
	Q80I(0, 0, Y8)
	SCALE1
	ADDQ  $34, SI
	ADDQ  $32, DI
	ADDQ  $4, BX
	DECQ  CX
	JMP   q80b1

q80rowend:
	REND
	JMP q80row

q80end:
	VZEROUPPER
	RET

// func idotQ4_0RowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, is *int32, out *float32)
// The nibbles q multiply the inputs unsigned; 8 times the input block sums
// is then taken off each block's integer sum.
TEXT ·idotQ4_0RowsAVX2(SB), NOSPLIT, $0-64
	ROWSETUP
	BCASTD($0x00010001, X15, Y15)
	BCASTD($0x0f0f0f0f, X14, Y14)
	VMOVDQU nibshift<>(SB), Y13

q40row:
	TESTQ R10, R10
	JZ    q40end
	RSTART

q40b4:
	CMPQ CX, $4
	JLT  q40b1
	PREFETCHT1 1024(SI)
	Q40I(0, 0, Y8)
	Q40I(18, 32, Y9)
	Q40I(36, 64, Y10)
	Q40I(54, 96, Y11)
	PHADD4(Y8, Y9, Y10, Y11)
	OFFSET4(3)
	DW4(18, 36, 54)
	SCALE4
	ADDQ $72, SI
	ADDQ $128, DI
	ADDQ $16, BX
	ADDQ $16, R12
	SUBQ $4, CX
	JMP  q40b4

q40b1:
	TESTQ CX, CX
	JZ    q40rowend
	Q40I(0, 0, Y8)
	OFFSET1(3)
	SCALE1
	ADDQ  $18, SI
	ADDQ  $32, DI
	ADDQ  $4, BX
	ADDQ  $4, R12
	DECQ  CX
	JMP   q40b1

q40rowend:
	REND
	JMP q40row

q40end:
	VZEROUPPER
	RET

// func idotQ8_0x4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride int)
// Each weight block is decoded once for the four inputs, whose integer
// sums are reduced together and scaled with one multiply-add.
TEXT ·idotQ8_0x4RowsAVX2(SB), NOSPLIT, $0-80
	X4ROWSETUP
	BCASTD($0x00010001, X15, Y15)

q80x4row:
	TESTQ R10, R10
	JZ    q80x4end
	X4ROWSTART

q80x4blk:
	VMOVDQU 2(SI), Y5
	VPSIGNB Y5, Y5, Y4
	X4Q80((DI), Y8)
	X4Q80((DI)(DX*1), Y9)
	X4Q80((DI)(DX*2), Y10)
	X4Q80((DI)(R11*1), Y11)
	PHADD4(Y8, Y9, Y10, Y11)
	X4SCALE
	ADDQ    $34, SI
	ADDQ    $32, DI
	ADDQ    $16, BX
	DECQ    CX
	JNZ     q80x4blk
	X4ROWEND
	JMP     q80x4row

q80x4end:
	VZEROUPPER
	RET

// func idotQ4_0x4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride int)
TEXT ·idotQ4_0x4RowsAVX2(SB), NOSPLIT, $0-80
	X4ROWSETUP
	BCASTD($0x00010001, X15, Y15)
	BCASTD($0x0f0f0f0f, X14, Y14)
	VMOVDQU nibshift<>(SB), Y13

q40x4row:
	TESTQ R10, R10
	JZ    q40x4end
	X4ROWSTART

q40x4blk:
	VBROADCASTI128 2(SI), Y2
	VPSRLVQ     Y13, Y2, Y2
	VPAND       Y14, Y2, Y2
	X4Q40((DI), Y8)
	X4Q40((DI)(DX*1), Y9)
	X4Q40((DI)(DX*2), Y10)
	X4Q40((DI)(R11*1), Y11)
	PHADD4(Y8, Y9, Y10, Y11)
	OFFSET4(3)
	X4SCALE
	ADDQ        $18, SI
	ADDQ        $32, DI
	ADDQ        $16, BX
	ADDQ        $16, R12
	DECQ        CX
	JNZ         q40x4blk
	X4ROWEND
	JMP         q40x4row

q40x4end:
	VZEROUPPER
	RET

// func quantQ8AVX2(x *float32, nb int, qs *int8, d *float32, is *int32, s *float32, q81 bool)
// Quantizes nb blocks of 32 to Q8_0 (or Q8_1) as llama.cpp's AVX2
// quantize_row_q8_0/q8_1 do; see quantActQ8 for the rule and qacts for
// is and s (s written only for Q8_1).
TEXT ·quantQ8AVX2(SB), NOSPLIT, $0-49
	MOVQ    x+0(FP), SI
	MOVQ    nb+8(FP), CX
	MOVQ    qs+16(FP), DI
	MOVQ    d+24(FP), BX
	MOVQ    is+32(FP), R9
	MOVQ    s+40(FP), DX
	MOVBLZX q81+48(FP), R8
	BCASTD($0x7fffffff, X15, Y15)
	BCASTD($0x42fe0000, X14, Y14) // 127.0
	VMOVDQU permq8<>(SB), Y13
	BCASTD($0x01010101, X12, Y12)
	BCASTD($0x00010001, X11, Y11)

q8qloop:
	TESTQ        CX, CX
	JZ           q8qdone
	VMOVUPS      (SI), Y0
	VMOVUPS      32(SI), Y1
	VMOVUPS      64(SI), Y2
	VMOVUPS      96(SI), Y3
	VANDPS       Y15, Y0, Y4
	VANDPS       Y15, Y1, Y5
	VMAXPS       Y5, Y4, Y4
	VANDPS       Y15, Y2, Y5
	VMAXPS       Y5, Y4, Y4
	VANDPS       Y15, Y3, Y5
	VMAXPS       Y5, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS       X5, X4, X4
	VMOVHLPS     X4, X4, X5
	VMAXPS       X5, X4, X4
	VMOVSHDUP    X4, X5
	VMAXSS       X5, X4, X4
	VDIVSS       X14, X4, X5 // d = amax/127
	VXORPS       X6, X6, X6
	VUCOMISS     X6, X4
	JEQ          q8qzero
	VDIVSS       X4, X14, X6 // id = 127/amax

q8qzero:
	VBROADCASTSS X6, Y6
	VMULPS       Y6, Y0, Y0
	VMULPS       Y6, Y1, Y1
	VMULPS       Y6, Y2, Y2
	VMULPS       Y6, Y3, Y3
	VROUNDPS     $0, Y0, Y0
	VROUNDPS     $0, Y1, Y1
	VROUNDPS     $0, Y2, Y2
	VROUNDPS     $0, Y3, Y3
	VCVTPS2DQ    Y0, Y0
	VCVTPS2DQ    Y1, Y1
	VCVTPS2DQ    Y2, Y2
	VCVTPS2DQ    Y3, Y3
	VPACKSSDW    Y1, Y0, Y0
	VPACKSSDW    Y3, Y2, Y2
	VPACKSSWB    Y2, Y0, Y0
	VPERMD       Y0, Y13, Y0
	VMOVDQU      Y0, (DI)
	VCVTPS2PH    $0, X5, X7
	VCVTPH2PS    X7, X7
	VMOVSS       X7, (BX)
	VPMADDUBSW   Y0, Y12, Y8
	VPMADDWD     Y11, Y8, Y8
	VEXTRACTI128 $1, Y8, X9
	VPADDD       X9, X8, X8
	VPSHUFD      $0x4e, X8, X9
	VPADDD       X9, X8, X8
	VPSHUFD      $0xb1, X8, X9
	VPADDD       X9, X8, X8
	VMOVD        X8, (R9)
	TESTQ        R8, R8
	JZ           q8qnext
	VCVTDQ2PS    X8, X8
	VMULSS       X5, X8, X8
	VCVTPS2PH    $0, X8, X8
	VCVTPH2PS    X8, X8
	VMOVSS       X8, (DX)

q8qnext:
	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $4, BX
	ADDQ $4, R9
	ADDQ $4, DX
	DECQ CX
	JMP  q8qloop

q8qdone:
	VZEROUPPER
	RET

// func idotQ4Kx4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)
// Four inputs per weight block: the scales and nibbles are unpacked once,
// each input's integer sums reduced together as in the Q8_0 kernels.
TEXT ·idotQ4Kx4RowsAVX2(SB), NOSPLIT, $0-72
	KX4SETUP
	BCASTD($0x0f0f0f0f, X14, Y14)

q4kx4row:
	TESTQ R10, R10
	JZ    q4kx4end
	KX4ROWSTART

q4kx4blk:
	KX4MINS
	K4X4CHUNK(16, 0, 0)
	K4X4CHUNK(48, 64, 64)
	K4X4CHUNK(80, 128, 128)
	K4X4CHUNK(112, 192, 192)
	PHADD4(Y1, Y2, Y3, Y4)
	KX4FLOAT((SI), VFMADD231PS)
	ADDQ           $144, SI
	ADDQ           $256, DI
	ADDQ           $144, BX
	DECQ           CX
	JNZ            q4kx4blk
	MOVQ           ostride+64(FP), R15
	X4ROWEND
	JMP            q4kx4row

q4kx4end:
	VZEROUPPER
	RET

// func idotQ6Kx4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)
TEXT ·idotQ6Kx4RowsAVX2(SB), NOSPLIT, $0-72
	KX4SETUP
	LEAQ (DX)(DX*2), R11
	MOVQ ostride+64(FP), R15
	BCASTD($0x0f0f0f0f, X14, Y14)
	BCASTD($0x30303030, X13, Y13)
	VPXOR Y15, Y15, Y15

q6kx4row:
	TESTQ R10, R10
	JZ    q6kx4end
	KX4ROWSTART

q6kx4blk:
	VMOVDQU   192(SI), X6
	VPMOVSXBW X6, Y7
	VPMADDWD  16(BX), Y7, Y1
	VPMADDWD  48(BX), Y7, Y2
	VPMADDWD  80(BX), Y7, Y3
	VPMADDWD  112(BX), Y7, Y4
	VPSLLD    $5, Y1, Y1
	VPSLLD    $5, Y2, Y2
	VPSLLD    $5, Y3, Y3
	VPSLLD    $5, Y4, Y4
	VPSUBD    Y1, Y15, Y1
	VPSUBD    Y2, Y15, Y2
	VPSUBD    Y3, Y15, Y3
	VPSUBD    Y4, Y15, Y4
	Q6X4HALF(0, 128, 0, 0)
	Q6X4HALF(64, 160, 128, 64)
	PHADD4(Y1, Y2, Y3, Y4)
	VBROADCASTF128 (BX), Y10
	KX4FLOAT(208(SI), VFMADD231PS)
	ADDQ      $210, SI
	ADDQ      $256, DI
	ADDQ      $144, BX
	DECQ      CX
	JNZ       q6kx4blk
	X4ROWEND
	JMP       q6kx4row

q6kx4end:
	VZEROUPPER
	RET

// func idotQ5KRowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, bs *int16, out *float32)
// Q5_K: fp16 d, fp16 dmin, 12 bytes of scales and mins, 32 bytes of fifth
// bits (bit 2c and 2c+1 of byte l for element l of sub-blocks 2c, 2c+1),
// 128 bytes of nibbles as in Q4_K.
TEXT ·idotQ5KRowsAVX2(SB), NOSPLIT, $0-64
	ROWSETUP
	BCASTD($0x0f0f0f0f, X14, Y14)
	BCASTD($0x10101010, X13, Y13)

q5krow:
	TESTQ R10, R10
	JZ    q5kend
	KROWSTART

q5kblk:
	KSCALES(4)
	KMINS((DX))
	VMOVDQU      16(SI), Y10
	VPXOR        Y8, Y8, Y8
	K5CHUNK(48, 0, 0, VPSLLW, 4, VPSLLW, 3)
	K5CHUNK(80, 64, 64, VPSLLW, 2, VPSLLW, 1)
	K5CHUNK(112, 128, 128, VPSLLW, 0, VPSRLW, 1)
	K5CHUNK(144, 192, 192, VPSRLW, 2, VPSRLW, 3)
	SCALE((SI), (BX), X4, Y4, Y5)
	VCVTDQ2PS    Y8, Y8
	VFMADD231PS  Y4, Y8, Y0
	SCALE(2(SI), (BX), X4, Y4, Y5)
	VCVTDQ2PS    Y7, Y7
	VFNMADD231PS Y4, Y7, Y0
	ADDQ         $176, SI
	ADDQ         $256, DI
	ADDQ         $4, BX
	ADDQ         $32, DX
	DECQ         CX
	JNZ          q5kblk
	KROWEND
	JMP          q5krow

q5kend:
	VZEROUPPER
	RET

// func idotQ5Kx4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)
TEXT ·idotQ5Kx4RowsAVX2(SB), NOSPLIT, $0-72
	KX4SETUP
	BCASTD($0x0f0f0f0f, X14, Y14)
	BCASTD($0x10101010, X15, Y15)

q5kx4row:
	TESTQ R10, R10
	JZ    q5kx4end
	KX4ROWSTART

q5kx4blk:
	KX4MINS
	VMOVDQU        16(SI), Y13
	K5X4CHUNK(48, 0, 0, VPSLLW, 4, VPSLLW, 3)
	K5X4CHUNK(80, 64, 64, VPSLLW, 2, VPSLLW, 1)
	K5X4CHUNK(112, 128, 128, VPSLLW, 0, VPSRLW, 1)
	K5X4CHUNK(144, 192, 192, VPSRLW, 2, VPSRLW, 3)
	PHADD4(Y1, Y2, Y3, Y4)
	KX4FLOAT((SI), VFMADD231PS)
	ADDQ           $176, SI
	ADDQ           $256, DI
	ADDQ           $144, BX
	DECQ           CX
	JNZ            q5kx4blk
	MOVQ           ostride+64(FP), R15
	X4ROWEND
	JMP            q5kx4row

q5kx4end:
	VZEROUPPER
	RET

// func idotQ5_0RowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, is *int32, out *float32)
// Q5_0: fp16 d, 32 fifth bits, 16 bytes of nibbles; value q-16, the 16
// taken off through the input block sums.
TEXT ·idotQ5_0RowsAVX2(SB), NOSPLIT, $0-64
	ROWSETUP
	BCASTD($0x00010001, X15, Y15)
	BCASTD($0x0f0f0f0f, X14, Y14)
	VMOVDQU nibshift<>(SB), Y13

idotQ5_0RowsAVX2row:
	TESTQ R10, R10
	JZ    idotQ5_0RowsAVX2end
	RSTART

idotQ5_0RowsAVX2b4:
	CMPQ CX, $4
	JLT  idotQ5_0RowsAVX2b1
	DECNIB(6)
	QHBITS(2)
	QDOT(0(DI), Y8)
	DECNIB(28)
	QHBITS(24)
	QDOT(32(DI), Y9)
	DECNIB(50)
	QHBITS(46)
	QDOT(64(DI), Y10)
	DECNIB(72)
	QHBITS(68)
	QDOT(96(DI), Y11)
	PHADD4(Y8, Y9, Y10, Y11)
	OFFSET4(4)
	DW4(22, 44, 66)
	SCALE4
	ADDQ $88, SI
	ADDQ $128, DI
	ADDQ $16, BX
	ADDQ $16, R12
	SUBQ $4, CX
	JMP  idotQ5_0RowsAVX2b4

idotQ5_0RowsAVX2b1:
	TESTQ CX, CX
	JZ    idotQ5_0RowsAVX2rowend
	DECNIB(6)
	QHBITS(2)
	QDOT((DI), Y8)
	OFFSET1(4)
	SCALE1
	ADDQ  $22, SI
	ADDQ  $32, DI
	ADDQ  $4, BX
	ADDQ  $4, R12
	DECQ  CX
	JMP   idotQ5_0RowsAVX2b1

idotQ5_0RowsAVX2rowend:
	REND
	JMP idotQ5_0RowsAVX2row

idotQ5_0RowsAVX2end:
	VZEROUPPER
	RET

// func idotQ4_1RowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, is *int32, out *float32)
// Q4_1: fp16 d, fp16 m, 16 bytes of nibbles; value d*q + m, m times the
// input's Q8_1 sum s (passed for is).
TEXT ·idotQ4_1RowsAVX2(SB), NOSPLIT, $0-64
	ROWSETUP
	BCASTD($0x00010001, X15, Y15)
	BCASTD($0x0f0f0f0f, X14, Y14)
	VMOVDQU nibshift<>(SB), Y13

idotQ4_1RowsAVX2row:
	TESTQ R10, R10
	JZ    idotQ4_1RowsAVX2end
	RSTART

idotQ4_1RowsAVX2b4:
	CMPQ CX, $4
	JLT  idotQ4_1RowsAVX2b1
	DECNIB(4)
	QDOT(0(DI), Y8)
	DECNIB(24)
	QDOT(32(DI), Y9)
	DECNIB(44)
	QDOT(64(DI), Y10)
	DECNIB(64)
	QDOT(96(DI), Y11)
	PHADD4(Y8, Y9, Y10, Y11)
	DW4(20, 40, 60)
	SCALE4
	MINS4(2, 22, 42, 62)
	ADDQ $80, SI
	ADDQ $128, DI
	ADDQ $16, BX
	ADDQ $16, R12
	SUBQ $4, CX
	JMP  idotQ4_1RowsAVX2b4

idotQ4_1RowsAVX2b1:
	TESTQ CX, CX
	JZ    idotQ4_1RowsAVX2rowend
	DECNIB(4)
	QDOT((DI), Y8)
	SCALE1
	MINS1(2)
	ADDQ  $20, SI
	ADDQ  $32, DI
	ADDQ  $4, BX
	ADDQ  $4, R12
	DECQ  CX
	JMP   idotQ4_1RowsAVX2b1

idotQ4_1RowsAVX2rowend:
	REND
	JMP idotQ4_1RowsAVX2row

idotQ4_1RowsAVX2end:
	VZEROUPPER
	RET

// func idotQ5_1RowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, is *int32, out *float32)
// Q5_1: fp16 d, fp16 m, 32 fifth bits, 16 bytes of nibbles; value d*q + m
// as in Q4_1.
TEXT ·idotQ5_1RowsAVX2(SB), NOSPLIT, $0-64
	ROWSETUP
	BCASTD($0x00010001, X15, Y15)
	BCASTD($0x0f0f0f0f, X14, Y14)
	VMOVDQU nibshift<>(SB), Y13

idotQ5_1RowsAVX2row:
	TESTQ R10, R10
	JZ    idotQ5_1RowsAVX2end
	RSTART

idotQ5_1RowsAVX2b4:
	CMPQ CX, $4
	JLT  idotQ5_1RowsAVX2b1
	DECNIB(8)
	QHBITS(4)
	QDOT(0(DI), Y8)
	DECNIB(32)
	QHBITS(28)
	QDOT(32(DI), Y9)
	DECNIB(56)
	QHBITS(52)
	QDOT(64(DI), Y10)
	DECNIB(80)
	QHBITS(76)
	QDOT(96(DI), Y11)
	PHADD4(Y8, Y9, Y10, Y11)
	DW4(24, 48, 72)
	SCALE4
	MINS4(2, 26, 50, 74)
	ADDQ $96, SI
	ADDQ $128, DI
	ADDQ $16, BX
	ADDQ $16, R12
	SUBQ $4, CX
	JMP  idotQ5_1RowsAVX2b4

idotQ5_1RowsAVX2b1:
	TESTQ CX, CX
	JZ    idotQ5_1RowsAVX2rowend
	DECNIB(8)
	QHBITS(4)
	QDOT((DI), Y8)
	SCALE1
	MINS1(2)
	ADDQ  $24, SI
	ADDQ  $32, DI
	ADDQ  $4, BX
	ADDQ  $4, R12
	DECQ  CX
	JMP   idotQ5_1RowsAVX2b1

idotQ5_1RowsAVX2rowend:
	REND
	JMP idotQ5_1RowsAVX2row

idotQ5_1RowsAVX2end:
	VZEROUPPER
	RET

// func idotQ5_0x4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride int)
// See idotQ5_0RowsAVX2.
TEXT ·idotQ5_0x4RowsAVX2(SB), NOSPLIT, $0-80
	X4ROWSETUP
	BCASTD($0x00010001, X15, Y15)
	BCASTD($0x0f0f0f0f, X14, Y14)
	VMOVDQU nibshift<>(SB), Y13

idotQ5_0x4RowsAVX2row:
	TESTQ R10, R10
	JZ    idotQ5_0x4RowsAVX2end
	X4ROWSTART

idotQ5_0x4RowsAVX2blk:
	DECNIB(6)
	QHBITS(2)
	QDOTX4((DI), Y8)
	QDOTX4((DI)(DX*1), Y9)
	QDOTX4((DI)(DX*2), Y10)
	QDOTX4((DI)(R11*1), Y11)
	PHADD4(Y8, Y9, Y10, Y11)
	OFFSET4(4)
	X4SCALE
	ADDQ $22, SI
	ADDQ $32, DI
	ADDQ $16, BX
	ADDQ $16, R12
	DECQ CX
	JNZ  idotQ5_0x4RowsAVX2blk
	X4ROWEND
	JMP  idotQ5_0x4RowsAVX2row

idotQ5_0x4RowsAVX2end:
	VZEROUPPER
	RET

// func idotQ4_1x4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride int)
// See idotQ4_1RowsAVX2; is4 holds the interleaved Q8_1 sums s.
TEXT ·idotQ4_1x4RowsAVX2(SB), NOSPLIT, $0-80
	X4ROWSETUP
	BCASTD($0x00010001, X15, Y15)
	BCASTD($0x0f0f0f0f, X14, Y14)
	VMOVDQU nibshift<>(SB), Y13

idotQ4_1x4RowsAVX2row:
	TESTQ R10, R10
	JZ    idotQ4_1x4RowsAVX2end
	X4ROWSTART

idotQ4_1x4RowsAVX2blk:
	DECNIB(4)
	QDOTX4((DI), Y8)
	QDOTX4((DI)(DX*1), Y9)
	QDOTX4((DI)(DX*2), Y10)
	QDOTX4((DI)(R11*1), Y11)
	PHADD4(Y8, Y9, Y10, Y11)
	X4SCALE
	VPBROADCASTW 2(SI), X6
	VCVTPH2PS    X6, Y6
	VMOVUPS      (R12), X7
	VFMADD231PS  Y7, Y6, Y0
	ADDQ $20, SI
	ADDQ $32, DI
	ADDQ $16, BX
	ADDQ $16, R12
	DECQ CX
	JNZ  idotQ4_1x4RowsAVX2blk
	X4ROWEND
	JMP  idotQ4_1x4RowsAVX2row

idotQ4_1x4RowsAVX2end:
	VZEROUPPER
	RET

// func idotQ5_1x4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride int)
// See idotQ5_1RowsAVX2; is4 holds the interleaved Q8_1 sums s.
TEXT ·idotQ5_1x4RowsAVX2(SB), NOSPLIT, $0-80
	X4ROWSETUP
	BCASTD($0x00010001, X15, Y15)
	BCASTD($0x0f0f0f0f, X14, Y14)
	VMOVDQU nibshift<>(SB), Y13

idotQ5_1x4RowsAVX2row:
	TESTQ R10, R10
	JZ    idotQ5_1x4RowsAVX2end
	X4ROWSTART

idotQ5_1x4RowsAVX2blk:
	DECNIB(8)
	QHBITS(4)
	QDOTX4((DI), Y8)
	QDOTX4((DI)(DX*1), Y9)
	QDOTX4((DI)(DX*2), Y10)
	QDOTX4((DI)(R11*1), Y11)
	PHADD4(Y8, Y9, Y10, Y11)
	X4SCALE
	VPBROADCASTW 2(SI), X6
	VCVTPH2PS    X6, Y6
	VMOVUPS      (R12), X7
	VFMADD231PS  Y7, Y6, Y0
	ADDQ $24, SI
	ADDQ $32, DI
	ADDQ $16, BX
	ADDQ $16, R12
	DECQ CX
	JNZ  idotQ5_1x4RowsAVX2blk
	X4ROWEND
	JMP  idotQ5_1x4RowsAVX2row

idotQ5_1x4RowsAVX2end:
	VZEROUPPER
	RET

// func idotQ2KRowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, bs *int16, out *float32)
// Q2_K: 16 bytes of 4-bit scales (low nibble) and mins (high), 64 bytes of
// 2-bit quants (half n: bytes 32n..32n+31, shift 2j for elements
// 128n+32j+l, sub-block 8n+2j+l/16), fp16 d, fp16 dmin.
TEXT ·idotQ2KRowsAVX2(SB), NOSPLIT, $0-64
	ROWSETUP
	BCASTD($0x0f0f0f0f, X14, Y14)
	BCASTD($0x03030303, X13, Y13)

q2krow:
	TESTQ R10, R10
	JZ    q2kend
	KROWSTART

q2kblk:
	VMOVDQU      (SI), X6
	VPSRLW       $4, X6, X7
	VPAND        X14, X7, X7
	VPAND        X14, X6, X6
	VPMOVZXBW    X7, Y7
	VPMADDWD     (DX), Y7, Y7
	VPXOR        Y8, Y8, Y8
	VMOVDQU 16(SI), Y5
	Q2Q(0)
	Q6KMUL(0, 0)
	Q2Q(2)
	Q6KMUL(32, 16)
	Q2Q(4)
	Q6KMUL(64, 32)
	Q2Q(6)
	Q6KMUL(96, 48)
	VMOVDQU 48(SI), Y5
	Q2Q(0)
	Q6KMUL(128, 64)
	Q2Q(2)
	Q6KMUL(160, 80)
	Q2Q(4)
	Q6KMUL(192, 96)
	Q2Q(6)
	Q6KMUL(224, 112)
	SCALE(80(SI), (BX), X4, Y4, Y5)
	VCVTDQ2PS    Y8, Y8
	VFMADD231PS  Y4, Y8, Y0
	SCALE(82(SI), (BX), X4, Y4, Y5)
	VCVTDQ2PS    Y7, Y7
	VFNMADD231PS Y4, Y7, Y0
	ADDQ         $84, SI
	ADDQ         $256, DI
	ADDQ         $4, BX
	ADDQ         $32, DX
	DECQ         CX
	JNZ          q2kblk
	KROWEND
	JMP          q2krow

q2kend:
	VZEROUPPER
	RET

// func idotQ3KRowsAVX2(w *byte, rb, rows, nb int, y *int8, yd *float32, bs *int16, out *float32)
// Q3_K: hmask[32], 2-bit quants as in Q2_K, 12 bytes of scales, fp16 d.
// The quant plus 4 (low bits | hmask bit << 2) multiplies unsigned; 4 times
// the scaled input sums of 16 is taken off.
TEXT ·idotQ3KRowsAVX2(SB), NOSPLIT, $0-64
	ROWSETUP
	BCASTD($0x03030303, X13, Y13)
	BCASTD($0x04040404, X15, Y15)

q3krow:
	TESTQ R10, R10
	JZ    q3kend
	KROWSTART

q3kblk:
	Q3SCALES
	VPMOVSXBW    X6, Y7
	VPMADDWD     (DX), Y7, Y7
	VPSLLD       $2, Y7, Y7
	VPXOR        Y8, Y8, Y8
	VPSUBD       Y7, Y8, Y8
	VMOVDQU      (SI), Y11
	VMOVDQU 32(SI), Y5
	Q3Q(0, VPSLLW, 2, Y11)
	Q6KMUL(0, 0)
	Q3Q(2, VPSLLW, 1, Y11)
	Q6KMUL(32, 16)
	Q3Q(4, VPSRLW, 0, Y11)
	Q6KMUL(64, 32)
	Q3Q(6, VPSRLW, 1, Y11)
	Q6KMUL(96, 48)
	VMOVDQU 64(SI), Y5
	Q3Q(0, VPSRLW, 2, Y11)
	Q6KMUL(128, 64)
	Q3Q(2, VPSRLW, 3, Y11)
	Q6KMUL(160, 80)
	Q3Q(4, VPSRLW, 4, Y11)
	Q6KMUL(192, 96)
	Q3Q(6, VPSRLW, 5, Y11)
	Q6KMUL(224, 112)
	SCALE(108(SI), (BX), X4, Y4, Y5)
	VCVTDQ2PS    Y8, Y8
	VFMADD231PS  Y4, Y8, Y0
	ADDQ         $110, SI
	ADDQ         $256, DI
	ADDQ         $4, BX
	ADDQ         $32, DX
	DECQ         CX
	JNZ          q3kblk
	KROWEND
	JMP          q3krow

q3kend:
	VZEROUPPER
	RET

// func idotQ2Kx4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)
TEXT ·idotQ2Kx4RowsAVX2(SB), NOSPLIT, $0-72
	KX4SETUP
	LEAQ (DX)(DX*2), R11
	MOVQ ostride+64(FP), R15
	BCASTD($0x0f0f0f0f, X14, Y14)
	BCASTD($0x03030303, X13, Y13)

q2kx4row:
	TESTQ R10, R10
	JZ    q2kx4end
	KX4ROWSTART

q2kx4blk:
	VMOVDQU        (SI), X6
	VPSRLW         $4, X6, X7
	VPAND          X14, X7, X7
	VPAND          X14, X6, X6
	VPMOVZXBW      X7, Y7
	VPMADDWD       16(BX), Y7, Y1
	VPMADDWD       48(BX), Y7, Y2
	VPMADDWD       80(BX), Y7, Y3
	VPMADDWD       112(BX), Y7, Y4
	PHADD4(Y1, Y2, Y3, Y4)
	VBROADCASTF128 (BX), Y10
	KX4FLOAT(82(SI), VFNMADD231PS)
	VPXOR          Y1, Y1, Y1
	VPXOR          Y2, Y2, Y2
	VPXOR          Y3, Y3, Y3
	VPXOR          Y4, Y4, Y4
	VMOVDQU 16(SI), Y5
	Q2Q(0)
	QX4G(0, 0)
	Q2Q(2)
	QX4G(32, 16)
	Q2Q(4)
	QX4G(64, 32)
	Q2Q(6)
	QX4G(96, 48)
	VMOVDQU 48(SI), Y5
	Q2Q(0)
	QX4G(128, 64)
	Q2Q(2)
	QX4G(160, 80)
	Q2Q(4)
	QX4G(192, 96)
	Q2Q(6)
	QX4G(224, 112)
	PHADD4(Y1, Y2, Y3, Y4)
	VBROADCASTF128 (BX), Y10
	KX4FLOAT(80(SI), VFMADD231PS)
	ADDQ           $84, SI
	ADDQ           $256, DI
	ADDQ           $144, BX
	DECQ           CX
	JNZ            q2kx4blk
	X4ROWEND
	JMP            q2kx4row

q2kx4end:
	VZEROUPPER
	RET

// func idotQ3Kx4RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)
TEXT ·idotQ3Kx4RowsAVX2(SB), NOSPLIT, $0-72
	KX4SETUP
	MOVQ ostride+64(FP), R15
	BCASTD($0x03030303, X13, Y13)
	BCASTD($0x04040404, X15, Y15)

q3kx4row:
	TESTQ R10, R10
	JZ    q3kx4end
	KX4ROWSTART

q3kx4blk:
	Q3SCALES
	LEAQ      (DX)(DX*2), R11
	VPMOVSXBW X6, Y7
	VPMADDWD  16(BX), Y7, Y1
	VPMADDWD  48(BX), Y7, Y2
	VPMADDWD  80(BX), Y7, Y3
	VPMADDWD  112(BX), Y7, Y4
	VPSLLD    $2, Y1, Y1
	VPSLLD    $2, Y2, Y2
	VPSLLD    $2, Y3, Y3
	VPSLLD    $2, Y4, Y4
	VPXOR     Y14, Y14, Y14
	VPSUBD    Y1, Y14, Y1
	VPSUBD    Y2, Y14, Y2
	VPSUBD    Y3, Y14, Y3
	VPSUBD    Y4, Y14, Y4
	VMOVDQU   (SI), Y8
	VMOVDQU 32(SI), Y5
	Q3Q(0, VPSLLW, 2, Y8)
	QX4G(0, 0)
	Q3Q(2, VPSLLW, 1, Y8)
	QX4G(32, 16)
	Q3Q(4, VPSRLW, 0, Y8)
	QX4G(64, 32)
	Q3Q(6, VPSRLW, 1, Y8)
	QX4G(96, 48)
	VMOVDQU 64(SI), Y5
	Q3Q(0, VPSRLW, 2, Y8)
	QX4G(128, 64)
	Q3Q(2, VPSRLW, 3, Y8)
	QX4G(160, 80)
	Q3Q(4, VPSRLW, 4, Y8)
	QX4G(192, 96)
	Q3Q(6, VPSRLW, 5, Y8)
	QX4G(224, 112)
	PHADD4(Y1, Y2, Y3, Y4)
	VBROADCASTF128 (BX), Y10
	KX4FLOAT(108(SI), VFMADD231PS)
	ADDQ      $110, SI
	ADDQ      $256, DI
	ADDQ      $144, BX
	DECQ      CX
	JNZ       q3kx4blk
	X4ROWEND
	JMP       q3kx4row

q3kx4end:
	VZEROUPPER
	RET

// func quantQ8KAVX2(x *float32, nb int, qs *int8, d *float32, bs *int16)
// Quantizes nb blocks of 256 to Q8_K as ggml's quantize_row_q8_K_ref does
// (see quantActQ8K): the first element of largest magnitude sets iscale =
// -127/x_m; q = min(127, nearest_int(iscale*x)) with nearest_int's
// 1.5*2^23 addition (round half to even), d = 1/iscale, and the sums of 16.
TEXT ·quantQ8KAVX2(SB), NOSPLIT, $0-40
	MOVQ    x+0(FP), SI
	MOVQ    nb+8(FP), CX
	MOVQ    qs+16(FP), DI
	MOVQ    d+24(FP), BX
	MOVQ    bs+32(FP), DX
	BCASTD($0x7fffffff, X15, Y15)
	BCASTD($0x4b400000, X14, Y14) // 12582912.0
	BCASTD($0x007fffff, X13, Y13)
	BCASTD($0x00400000, X12, Y12)
	BCASTD($0x0000007f, X11, Y11)
	VMOVDQU permq8<>(SB), Y10

q8kqblock:
	TESTQ CX, CX
	JZ    q8kqdone

	// amax over the 256 elements.
	VXORPS Y4, Y4, Y4
	XORQ   AX, AX

q8kqmax:
	VANDPS  (SI)(AX*1), Y15, Y5
	VMAXPS  Y4, Y5, Y4
	ADDQ    $32, AX
	CMPQ    AX, $1024
	JLT     q8kqmax
	VEXTRACTF128 $1, Y4, X5
	VMAXPS       X5, X4, X4
	VMOVHLPS     X4, X4, X5
	VMAXPS       X5, X4, X4
	VMOVSHDUP    X4, X5
	VMAXSS       X5, X4, X4
	VXORPS       X5, X5, X5
	VUCOMISS     X5, X4
	JNE          q8kqfind
	JP           q8kqfind

	// All zero: d = 0, quants and sums 0.
	MOVL    $0, (BX)
	VPXOR   Y0, Y0, Y0
	XORQ    AX, AX

q8kqzero:
	VMOVDQU Y0, (DI)(AX*1)
	ADDQ    $32, AX
	CMPQ    AX, $256
	JLT     q8kqzero
	VMOVDQU Y0, (DX)
	JMP     q8kqnext

q8kqfind:
	// The first element whose magnitude equals amax gives x_m.
	VBROADCASTSS X4, Y4
	XORQ         AX, AX

q8kqscan:
	VANDPS    (SI)(AX*1), Y15, Y5
	VCMPPS    $0, Y4, Y5, Y5
	VMOVMSKPS Y5, R8
	TESTL     R8, R8
	JNZ       q8kqfound
	ADDQ      $32, AX
	JMP       q8kqscan

q8kqfound:
	BSFL   R8, R8
	LEAQ   (AX)(R8*4), AX
	VMOVSS (SI)(AX*1), X5       // x_m
	MOVL   $0xc2fe0000, R8      // -127.0
	VMOVD  R8, X6
	VDIVSS X5, X6, X6           // iscale = -127/x_m
	MOVL   $0x3f800000, R8      // 1.0
	VMOVD  R8, X7
	VDIVSS X6, X7, X7           // d = 1/iscale
	VMOVSS X7, (BX)
	VBROADCASTSS X6, Y6
	XORQ   AX, AX               // element offset in bytes / 4 = quant offset
	XORQ   R9, R9               // quant offset

q8kqquant:
	VMULPS    (SI)(AX*1), Y6, Y0
	VMULPS    32(SI)(AX*1), Y6, Y1
	VMULPS    64(SI)(AX*1), Y6, Y2
	VMULPS    96(SI)(AX*1), Y6, Y3
	VADDPS    Y14, Y0, Y0
	VADDPS    Y14, Y1, Y1
	VADDPS    Y14, Y2, Y2
	VADDPS    Y14, Y3, Y3
	VPAND     Y13, Y0, Y0
	VPAND     Y13, Y1, Y1
	VPAND     Y13, Y2, Y2
	VPAND     Y13, Y3, Y3
	VPSUBD    Y12, Y0, Y0
	VPSUBD    Y12, Y1, Y1
	VPSUBD    Y12, Y2, Y2
	VPSUBD    Y12, Y3, Y3
	VPMINSD   Y11, Y0, Y0
	VPMINSD   Y11, Y1, Y1
	VPMINSD   Y11, Y2, Y2
	VPMINSD   Y11, Y3, Y3
	// Sums of elements 0-15 and 16-31 of this group of 32.
	VPADDD    Y1, Y0, Y8
	VPADDD    Y3, Y2, Y9
	VPHADDD   Y9, Y8, Y8
	VPHADDD   Y8, Y8, Y8
	VEXTRACTI128 $1, Y8, X9
	VPADDD    X9, X8, X8
	VPACKSSDW X8, X8, X8
	VMOVD     X8, (DX)(R9*1)
	// Pack to int8 in element order.
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKSSWB Y2, Y0, Y0
	VPERMD    Y0, Y10, Y0
	VMOVDQU   Y0, (DI)(R9*8)
	ADDQ      $128, AX
	ADDQ      $4, R9
	CMPQ      R9, $32
	JLT       q8kqquant

q8kqnext:
	ADDQ $1024, SI
	ADDQ $256, DI
	ADDQ $4, BX
	ADDQ $32, DX
	DECQ CX
	JMP  q8kqblock

q8kqdone:
	VZEROUPPER
	RET

// func idotQ8_0x8RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, gstride int, out *float32, ostride int)
// The eight-input form of idotQ8_0x4RowsAVX2 for two groups of four
// inputs: each weight block is loaded, sign-split and its scale converted
// once for all eight, which halves the weight traffic of batched decoding.
TEXT ·idotQ8_0x8RowsAVX2(SB), NOSPLIT, $0-88
	X8ROWSETUP
	BCASTD($0x00010001, X15, Y15)

q80x8row:
	TESTQ R10, R10
	JZ    q80x8end
	X8ROWSTART

q80x8blk:
	VMOVDQU      2(SI), Y5
	VPSIGNB      Y5, Y5, Y4
	VPBROADCASTW (SI), X3
	VCVTPH2PS    X3, Y3
	X4Q80((DI), Y8)
	X4Q80((DI)(DX*1), Y9)
	X4Q80((DI)(DX*2), Y10)
	X4Q80((DI)(R11*1), Y11)
	PHADD4(Y8, Y9, Y10, Y11)
	X8SCALE((BX), Y0)
	X4Q80((AX), Y8)
	X4Q80((AX)(DX*1), Y9)
	X4Q80((AX)(DX*2), Y10)
	X4Q80((AX)(R11*1), Y11)
	PHADD4(Y8, Y9, Y10, Y11)
	X8SCALE((BX)(R13*1), Y1)
	ADDQ         $34, SI
	ADDQ         $32, DI
	ADDQ         $32, AX
	ADDQ         $16, BX
	DECQ         CX
	JNZ          q80x8blk
	X8ROWEND
	JMP          q80x8row

q80x8end:
	VZEROUPPER
	RET

// func idotQ4_0x8RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, d4 *float32, is4 *int32, gstride int, out *float32, ostride int)
// The eight-input form of idotQ4_0x4RowsAVX2: each block's nibbles are
// unpacked and its scale converted once for all eight inputs.
TEXT ·idotQ4_0x8RowsAVX2(SB), NOSPLIT, $0-88
	X8ROWSETUP
	BCASTD($0x00010001, X15, Y15)
	BCASTD($0x0f0f0f0f, X14, Y14)
	VMOVDQU nibshift<>(SB), Y13

q40x8row:
	TESTQ R10, R10
	JZ    q40x8end
	X8ROWSTART

q40x8blk:
	VBROADCASTI128 2(SI), Y2
	VPSRLVQ        Y13, Y2, Y2
	VPAND          Y14, Y2, Y2
	VPBROADCASTW   (SI), X3
	VCVTPH2PS      X3, Y3
	X8Q40W((DI), Y8)
	X8Q40W((DI)(DX*1), Y9)
	X8Q40W((DI)(DX*2), Y10)
	X8Q40W((DI)(R11*1), Y11)
	PHADD4W(Y8, Y9, Y10, Y11)
	OFFSET4(3)
	X8SCALE((BX), Y0)
	X8Q40W((AX), Y8)
	X8Q40W((AX)(DX*1), Y9)
	X8Q40W((AX)(DX*2), Y10)
	X8Q40W((AX)(R11*1), Y11)
	PHADD4W(Y8, Y9, Y10, Y11)
	VMOVDQU        (R12)(R13*1), X6
	VPSLLD         $3, X6, X6
	VPSUBD         Y6, Y8, Y8
	X8SCALE((BX)(R13*1), Y1)
	ADDQ           $18, SI
	ADDQ           $32, DI
	ADDQ           $32, AX
	ADDQ           $16, BX
	ADDQ           $16, R12
	DECQ           CX
	JNZ            q40x8blk
	X8ROWEND
	JMP            q40x8row

q40x8end:
	VZEROUPPER
	RET

// func idotQ4Kx8RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, gstride int, out *float32, ostride int)
TEXT ·idotQ4Kx8RowsAVX2(SB), NOSPLIT, $64-80
	KX8SETUP
	BCASTD($0x0f0f0f0f, X14, Y14)

q4kx8row:
	TESTQ R10, R10
	JZ    q4kx8end
	KX8ROWSTART

q4kx8blk:
	KX8MINS(X15, Y15, Y12)
	K4X8CHUNK(16, 0, 0, KX8SET)
	K4X8CHUNK(48, 64, 64, KX8ALL)
	K4X8CHUNK(80, 128, 128, KX8ALL)
	K4X8CHUNK(112, 192, 192, KX8ALL)
	PHADD4(Y0, Y1, Y2, Y3)
	PHADD4(Y4, Y10, Y11, Y13)
	KX8WS((SI), X15, Y15)
	KX8FLOAT(Y0, Y15, (BX), 0, VFMADD213PS, Y12)
	KX8FLOAT(Y4, Y15, (BX)(R13*1), 32, VFMADD213PS, Y12)
	ADDQ           $144, SI
	ADDQ           $256, DI
	ADDQ           $144, BX
	DECQ           CX
	JNZ            q4kx8blk
	KX8ROWEND
	JMP            q4kx8row

q4kx8end:
	VZEROUPPER
	RET

// func idotQ6Kx8RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, gstride int, out *float32, ostride int)
TEXT ·idotQ6Kx8RowsAVX2(SB), NOSPLIT, $64-80
	KX8SETUP
	LEAQ (DX)(DX*2), R11
	MOVQ gstride+56(FP), R13
	BCASTD($0x0f0f0f0f, X14, Y14)
	BCASTD($0x30303030, X13, Y13)

q6kx8row:
	TESTQ R10, R10
	JZ    q6kx8end
	KX8ROWSTART
	LEAQ  (DI)(DX*4), AX

q6kx8blk:
	VPXOR     Y15, Y15, Y15
	VMOVDQU   192(SI), X6
	VPMOVSXBW X6, Y10
	Q6X8OFF(16(BX), Y0)
	Q6X8OFF(48(BX), Y1)
	Q6X8OFF(80(BX), Y2)
	Q6X8OFF(112(BX), Y3)
	Q6X8OFF(16(BX)(R13*1), Y4)
	Q6X8OFF(48(BX)(R13*1), Y5)
	Q6X8OFF(80(BX)(R13*1), Y7)
	Q6X8OFF(112(BX)(R13*1), Y8)
	Q6X8HALF(0, 128, 0, 0)
	Q6X8HALF(64, 160, 128, 64)
	PHADD4(Y0, Y1, Y2, Y3)
	PHADD4(Y4, Y5, Y7, Y8)
	KX8WS(208(SI), X10, Y10)
	KX8FLOAT(Y0, Y10, (BX), 0, VFMADD213PS, Y11)
	KX8FLOAT(Y4, Y10, (BX)(R13*1), 32, VFMADD213PS, Y11)
	ADDQ      $210, SI
	ADDQ      $256, DI
	ADDQ      $256, AX
	ADDQ      $144, BX
	DECQ      CX
	JNZ       q6kx8blk
	KX8ROWEND
	JMP       q6kx8row

q6kx8end:
	VZEROUPPER
	RET

// func idotQ5Kx8RowsAVX2(w *byte, rb, rows, nb int, y *int8, ystride int, k4 *byte, gstride int, out *float32, ostride int)
TEXT ·idotQ5Kx8RowsAVX2(SB), NOSPLIT, $64-80
	KX8SETUP
	BCASTD($0x0f0f0f0f, X14, Y14)
	BCASTD($0x10101010, X15, Y15)

q5kx8row:
	TESTQ R10, R10
	JZ    q5kx8end
	KX8ROWSTART

q5kx8blk:
	KX8MINS(X5, Y5, Y6)
	K5X8CHUNK(48, 0, 0, VPSLLW, 4, VPSLLW, 3, KX8SET)
	K5X8CHUNK(80, 64, 64, VPSLLW, 2, VPSLLW, 1, KX8ALL)
	K5X8CHUNK(112, 128, 128, VPSLLW, 0, VPSRLW, 1, KX8ALL)
	K5X8CHUNK(144, 192, 192, VPSRLW, 2, VPSRLW, 3, KX8ALL)
	PHADD4(Y0, Y1, Y2, Y3)
	PHADD4(Y4, Y10, Y11, Y13)
	KX8WS((SI), X5, Y5)
	KX8FLOAT(Y0, Y5, (BX), 0, VFMADD213PS, Y6)
	KX8FLOAT(Y4, Y5, (BX)(R13*1), 32, VFMADD213PS, Y6)
	ADDQ           $176, SI
	ADDQ           $256, DI
	ADDQ           $144, BX
	DECQ           CX
	JNZ            q5kx8blk
	KX8ROWEND
	JMP            q5kx8row

q5kx8end:
	VZEROUPPER
	RET
