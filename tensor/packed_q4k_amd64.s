//go:build amd64 && !purego

#include "textflag.h"

// Kernels of packed Q4_K matrices (see packed_q4k.go for the layout). As in
// the packed Q4_0 kernels, each int32 lane of a vector is one of a group's
// eight rows. Per sub-block of 32, eight vpmaddubsw products of unsigned
// nibbles with broadcast input quants are summed in int16 (each is at most
// 2*15*128, eight stay below 32767), and one vpmaddwd against the rows'
// scales (each in both int16 halves of its lane) adds sc*sum(q*qx) to the
// block's int32 sum. The minimums' term sum_s m_s*sum(qx) takes four
// vpmaddwd of the pairs (m_2p, m_2p+1) with a broadcast pair of input sums
// of 32 (pairwise sums of the Q8_K sums of 16). One conversion of each sum
// and two multiply-adds by d*dx and dmin*dx finish the block for all eight
// rows.

// pkk0f and pkk30 mask the low nibbles and bits 4-5 of each byte.
// pkksc<j> shuffles, in each 16-byte half, byte 4j+i (sub-block j or j+4 of
// row i of the half) into both int16 halves of dword i; pkkmin<q> puts
// bytes 8q+i and 8q+4+i (sub-blocks 2q and 2q+1, or 2q+4 and 2q+5) into
// the low and high int16 halves of dword i. 0x80 bytes give zeros.
DATA pkk0f<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA pkk0f<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA pkk0f<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA pkk0f<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL pkk0f<>(SB), RODATA|NOPTR, $32

DATA pkk30<>+0(SB)/8, $0x3030303030303030
DATA pkk30<>+8(SB)/8, $0x3030303030303030
DATA pkk30<>+16(SB)/8, $0x3030303030303030
DATA pkk30<>+24(SB)/8, $0x3030303030303030
GLOBL pkk30<>(SB), RODATA|NOPTR, $32

DATA pkksc0<>+0(SB)/8, $0x8001800180008000
DATA pkksc0<>+8(SB)/8, $0x8003800380028002
DATA pkksc0<>+16(SB)/8, $0x8001800180008000
DATA pkksc0<>+24(SB)/8, $0x8003800380028002
GLOBL pkksc0<>(SB), RODATA|NOPTR, $32

DATA pkksc1<>+0(SB)/8, $0x8005800580048004
DATA pkksc1<>+8(SB)/8, $0x8007800780068006
DATA pkksc1<>+16(SB)/8, $0x8005800580048004
DATA pkksc1<>+24(SB)/8, $0x8007800780068006
GLOBL pkksc1<>(SB), RODATA|NOPTR, $32

DATA pkksc2<>+0(SB)/8, $0x8009800980088008
DATA pkksc2<>+8(SB)/8, $0x800b800b800a800a
DATA pkksc2<>+16(SB)/8, $0x8009800980088008
DATA pkksc2<>+24(SB)/8, $0x800b800b800a800a
GLOBL pkksc2<>(SB), RODATA|NOPTR, $32

DATA pkksc3<>+0(SB)/8, $0x800d800d800c800c
DATA pkksc3<>+8(SB)/8, $0x800f800f800e800e
DATA pkksc3<>+16(SB)/8, $0x800d800d800c800c
DATA pkksc3<>+24(SB)/8, $0x800f800f800e800e
GLOBL pkksc3<>(SB), RODATA|NOPTR, $32

DATA pkkmin0<>+0(SB)/8, $0x8005800180048000
DATA pkkmin0<>+8(SB)/8, $0x8007800380068002
DATA pkkmin0<>+16(SB)/8, $0x8005800180048000
DATA pkkmin0<>+24(SB)/8, $0x8007800380068002
GLOBL pkkmin0<>(SB), RODATA|NOPTR, $32

DATA pkkmin1<>+0(SB)/8, $0x800d8009800c8008
DATA pkkmin1<>+8(SB)/8, $0x800f800b800e800a
DATA pkkmin1<>+16(SB)/8, $0x800d8009800c8008
DATA pkkmin1<>+24(SB)/8, $0x800f800b800e800a
GLOBL pkkmin1<>(SB), RODATA|NOPTR, $32

// PKKPF is how far ahead of a block's start its lines are prefetched: the
// next block's eighteen lines are requested while this one is computed, a
// few per chunk. Without them, decoding from DRAM ran at 12-14 GB/s on
// one core and 13-23 on two, against 14-16 and 24-27 with them; 576 and
// 1728 measured the same as 1152 within the noise. They go into L1:
// prefetched into L2, as the Q4_0 and Q8_0 kernels' are (see
// prefetchDistance), 8-sequence decode steps of Qwen3-0.6B Q4_K ran 15%
// slower.
#define PKKPF 1152

// PKKPREF prefetches line a of the weights ahead.
#define PKKPREF(a) PREFETCHT0 (PKKPF+64*(a))(SI)

// PKKSCALES rebuilds the 6-bit scales and minimums of the block at SI:
// Y4 (sub-blocks 0-3) and Y5 (4-7) the scales, Y6 and Y7 the minimums,
// byte p(r, j) of each. m is the 0x0f mask; uses Y0 and Y2.
#define PKKSCALES(m) \
	VMOVDQU 32(SI), Y4;           \
	VMOVDQU 64(SI), Y6;           \
	VMOVDQU 96(SI), Y2;           \
	VPSRLW  $4, Y4, Y5;           \
	VPSRLW  $4, Y6, Y7;           \
	VPAND   m, Y4, Y4;            \
	VPAND   m, Y5, Y5;            \
	VPAND   m, Y6, Y6;            \
	VPAND   m, Y7, Y7;            \
	VPSLLW  $4, Y2, Y0;           \
	VPAND   pkk30<>(SB), Y0, Y0;  \
	VPOR    Y0, Y4, Y4;           \
	VPSLLW  $2, Y2, Y0;           \
	VPAND   pkk30<>(SB), Y0, Y0;  \
	VPOR    Y0, Y5, Y5;           \
	VPAND   pkk30<>(SB), Y2, Y0;  \
	VPOR    Y0, Y6, Y6;           \
	VPSRLW  $2, Y2, Y0;           \
	VPAND   pkk30<>(SB), Y0, Y0;  \
	VPOR    Y0, Y7, Y7

// PKKMINS computes sum_s m_s*sum(qx) of each row into dst from the input
// sums of 16 at bsp and the minimums in Y6 and Y7; uses Y12, Y13, Y14.
#define PKKMINS(bsp, dst) \
	VBROADCASTI128 (bsp), Y12;             \
	VBROADCASTI128 16(bsp), Y13;           \
	VPHADDW        Y13, Y12, Y12;          \
	VPSHUFB        pkkmin0<>(SB), Y6, Y14; \
	VPSHUFD        $0x00, Y12, Y13;        \
	VPMADDWD       Y14, Y13, dst;          \
	VPSHUFB        pkkmin1<>(SB), Y6, Y14; \
	VPSHUFD        $0x55, Y12, Y13;        \
	VPMADDWD       Y14, Y13, Y13;          \
	VPADDD         Y13, dst, dst;          \
	VPSHUFB        pkkmin0<>(SB), Y7, Y14; \
	VPSHUFD        $0xaa, Y12, Y13;        \
	VPMADDWD       Y14, Y13, Y13;          \
	VPADDD         Y13, dst, dst;          \
	VPSHUFB        pkkmin1<>(SB), Y7, Y14; \
	VPSHUFD        $0xff, Y12, Y13;        \
	VPMADDWD       Y14, Y13, Y13;          \
	VPADDD         Y13, dst, dst

// PKK1STEP multiplies run k of chunk c (both nibbles) with the input at
// DI into the int16 sums Y12 (sub-block 2c) and Y13 (2c+1); Y3 is the
// 0x0f mask.
#define PKK1STEP(c, k) \
	VMOVDQU      (128+256*c+32*k)(SI), Y0; \
	VPSRLW       $4, Y0, Y1;               \
	VPAND        Y3, Y0, Y0;               \
	VPAND        Y3, Y1, Y1;               \
	VPBROADCASTD (64*c+4*k)(DI), Y15;      \
	VPMADDUBSW   Y15, Y0, Y0;              \
	VPADDW       Y0, Y12, Y12;             \
	VPBROADCASTD (64*c+32+4*k)(DI), Y2;    \
	VPMADDUBSW   Y2, Y1, Y1;               \
	VPADDW       Y1, Y13, Y13

// PKK1CHUNK adds chunk c's sub-blocks to Y8, their scales being those of
// v chosen by the shuffles lo and hi.
#define PKK1CHUNK(c, v, lo, hi) \
	VPXOR      Y12, Y12, Y12; \
	VPXOR      Y13, Y13, Y13; \
	PKK1STEP(c, 0);           \
	PKK1STEP(c, 1);           \
	PKK1STEP(c, 2);           \
	PKK1STEP(c, 3);           \
	PKK1STEP(c, 4);           \
	PKK1STEP(c, 5);           \
	PKK1STEP(c, 6);           \
	PKK1STEP(c, 7);           \
	VPSHUFB    lo, v, Y14;    \
	VPMADDWD   Y14, Y12, Y12; \
	VPADDD     Y12, Y8, Y8;   \
	VPSHUFB    hi, v, Y14;    \
	VPMADDWD   Y14, Y13, Y13; \
	VPADDD     Y13, Y8, Y8

// func packedQ4KAVX2(w *byte, groups, nb int, y *int8, yd *float32, bs *int16, out *float32)
TEXT ·packedQ4KAVX2(SB), NOSPLIT, $0-56
	MOVQ    w+0(FP), SI
	MOVQ    groups+8(FP), R10
	MOVQ    out+48(FP), R14
	VMOVDQU pkk0f<>(SB), Y3

pkk1group:
	MOVQ   y+24(FP), DI
	MOVQ   yd+32(FP), BX
	MOVQ   bs+40(FP), R12
	MOVQ   nb+16(FP), CX
	VXORPS Y9, Y9, Y9

pkk1block:
	PKKPREF(0)
	PKKPREF(1)
	PKKPREF(2)
	PKKPREF(3)
	PKKPREF(4)
	PKKSCALES(Y3)
	VPXOR Y8, Y8, Y8
	PKK1CHUNK(0, Y4, pkksc0<>(SB), pkksc1<>(SB))
	PKKPREF(5)
	PKKPREF(6)
	PKKPREF(7)
	PKKPREF(8)
	PKKPREF(9)
	PKK1CHUNK(1, Y4, pkksc2<>(SB), pkksc3<>(SB))
	PKKPREF(10)
	PKKPREF(11)
	PKKPREF(12)
	PKKPREF(13)
	PKK1CHUNK(2, Y5, pkksc0<>(SB), pkksc1<>(SB))
	PKKPREF(14)
	PKKPREF(15)
	PKKPREF(16)
	PKKPREF(17)
	PKK1CHUNK(3, Y5, pkksc2<>(SB), pkksc3<>(SB))
	PKKMINS(R12, Y10)
	VCVTPH2PS    (SI), Y0
	VCVTPH2PS    16(SI), Y1
	VBROADCASTSS (BX), Y15
	VMULPS       Y15, Y0, Y0
	VMULPS       Y15, Y1, Y1
	VCVTDQ2PS    Y8, Y8
	VCVTDQ2PS    Y10, Y10
	VFMADD231PS  Y0, Y8, Y9
	VFNMADD231PS Y1, Y10, Y9
	ADDQ         $1152, SI
	ADDQ         $256, DI
	ADDQ         $4, BX
	ADDQ         $32, R12
	DECQ         CX
	JNZ          pkk1block

	VMOVUPS Y9, (R14)
	ADDQ    $32, R14
	DECQ    R10
	JNZ     pkk1group
	VZEROUPPER
	RET

// PKK4LO and PKK4HI decode the low or high nibbles of chunk c's eight runs
// into Y0..Y7. The mask is loaded into Y15 (free until the inputs come)
// rather than read from memory by each vpand: with 32 broadcasts a
// sub-block already, the loads measured 10-30% slower.
#define PKK4LO1(c, k, r) \
	VMOVDQU (128+256*c+32*k)(SI), r; \
	VPAND   Y15, r, r

#define PKK4HI1(c, k, r) \
	VMOVDQU (128+256*c+32*k)(SI), r; \
	VPSRLW  $4, r, r;                \
	VPAND   Y15, r, r

#define PKK4LO(c) \
	VMOVDQU pkk0f<>(SB), Y15; \
	PKK4LO1(c, 0, Y0); \
	PKK4LO1(c, 1, Y1); \
	PKK4LO1(c, 2, Y2); \
	PKK4LO1(c, 3, Y3); \
	PKK4LO1(c, 4, Y4); \
	PKK4LO1(c, 5, Y5); \
	PKK4LO1(c, 6, Y6); \
	PKK4LO1(c, 7, Y7)

#define PKK4HI(c) \
	VMOVDQU pkk0f<>(SB), Y15; \
	PKK4HI1(c, 0, Y0); \
	PKK4HI1(c, 1, Y1); \
	PKK4HI1(c, 2, Y2); \
	PKK4HI1(c, 3, Y3); \
	PKK4HI1(c, 4, Y4); \
	PKK4HI1(c, 5, Y5); \
	PKK4HI1(c, 6, Y6); \
	PKK4HI1(c, 7, Y7)

// PKK4INPUT multiplies the decoded sub-block Y0..Y7 with the input quants
// at yo(p), scales the int16 sums by Y14 and adds them to isum.
#define PKK4INPUT(p, yo, isum) \
	VPBROADCASTD (yo)(p), Y15;      \
	VPMADDUBSW   Y15, Y0, Y12;      \
	VPBROADCASTD (yo+4)(p), Y15;    \
	VPMADDUBSW   Y15, Y1, Y13;      \
	VPADDW       Y13, Y12, Y12;     \
	VPBROADCASTD (yo+8)(p), Y15;    \
	VPMADDUBSW   Y15, Y2, Y13;      \
	VPADDW       Y13, Y12, Y12;     \
	VPBROADCASTD (yo+12)(p), Y15;   \
	VPMADDUBSW   Y15, Y3, Y13;      \
	VPADDW       Y13, Y12, Y12;     \
	VPBROADCASTD (yo+16)(p), Y15;   \
	VPMADDUBSW   Y15, Y4, Y13;      \
	VPADDW       Y13, Y12, Y12;     \
	VPBROADCASTD (yo+20)(p), Y15;   \
	VPMADDUBSW   Y15, Y5, Y13;      \
	VPADDW       Y13, Y12, Y12;     \
	VPBROADCASTD (yo+24)(p), Y15;   \
	VPMADDUBSW   Y15, Y6, Y13;      \
	VPADDW       Y13, Y12, Y12;     \
	VPBROADCASTD (yo+28)(p), Y15;   \
	VPMADDUBSW   Y15, Y7, Y13;      \
	VPADDW       Y13, Y12, Y12;     \
	VPMADDWD     Y14, Y12, Y12;     \
	VPADDD       Y12, isum, isum

// PKK4SUB does one sub-block for the four inputs: its scales are those
// stored at vo(SP) chosen by the shuffle ctl, its input quants at yo.
#define PKK4SUB(vo, ctl, yo) \
	VMOVDQU vo(SP), Y14;       \
	VPSHUFB ctl, Y14, Y14;     \
	PKK4INPUT(DI, yo, Y8);     \
	PKK4INPUT(R8, yo, Y9);     \
	PKK4INPUT(R9, yo, Y10);    \
	PKK4INPUT(AX, yo, Y11)

// PKK4FIN finishes the block for input k: its minimums' term from the
// input sums in the k4 record at BX and the minimum pairs in Y2..Y5, then
// acc(SP) += d*dx*isum - dmin*dx*msum with d, dmin in Y6, Y7.
#define PKK4FIN(k, isum, acc) \
	VBROADCASTI128 (16+32*k)(BX), Y12; \
	VBROADCASTI128 (32+32*k)(BX), Y13; \
	VPHADDW        Y13, Y12, Y12;      \
	VPSHUFD        $0x00, Y12, Y13;    \
	VPMADDWD       Y2, Y13, Y0;        \
	VPSHUFD        $0x55, Y12, Y13;    \
	VPMADDWD       Y3, Y13, Y13;       \
	VPADDD         Y13, Y0, Y0;        \
	VPSHUFD        $0xaa, Y12, Y13;    \
	VPMADDWD       Y4, Y13, Y13;       \
	VPADDD         Y13, Y0, Y0;        \
	VPSHUFD        $0xff, Y12, Y13;    \
	VPMADDWD       Y5, Y13, Y13;       \
	VPADDD         Y13, Y0, Y0;        \
	VCVTDQ2PS      Y0, Y0;             \
	VCVTDQ2PS      isum, isum;         \
	VBROADCASTSS   (4*k)(BX), Y15;     \
	VMULPS         Y15, Y6, Y12;       \
	VMULPS         Y15, Y7, Y13;       \
	VMOVUPS        acc(SP), Y1;        \
	VFMADD231PS    Y12, isum, Y1;      \
	VFNMADD231PS   Y13, Y0, Y1;        \
	VMOVUPS        Y1, acc(SP)

// func packedQ4Kx4AVX2(w *byte, groups, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)
//
// The four inputs' quants are ystride bytes apart, their scales and sums
// of 16 in the k4 records (see qacts); outputs are ostride bytes apart.
// The frame holds the block's rebuilt scales and minimums (0..127) and the
// four inputs' float accumulators (128..255).
TEXT ·packedQ4Kx4AVX2(SB), NOSPLIT, $256-64
	MOVQ w+0(FP), SI
	MOVQ groups+8(FP), R10
	MOVQ ystride+32(FP), DX
	MOVQ out+48(FP), R14
	MOVQ ostride+56(FP), R15
	LEAQ (R15)(R15*2), R11

pkk4group:
	MOVQ    y+24(FP), DI
	LEAQ    (DI)(DX*1), R8
	LEAQ    (DI)(DX*2), R9
	LEAQ    (R8)(DX*2), AX
	MOVQ    k4+40(FP), BX
	MOVQ    nb+16(FP), CX
	VXORPS  Y0, Y0, Y0
	VMOVUPS Y0, 128(SP)
	VMOVUPS Y0, 160(SP)
	VMOVUPS Y0, 192(SP)
	VMOVUPS Y0, 224(SP)

pkk4block:
	PKKPREF(0)
	PKKPREF(1)
	PKKPREF(2)
	PKKPREF(3)
	PKKPREF(4)
	PKKSCALES(pkk0f<>(SB))
	VMOVDQU Y4, 0(SP)
	VMOVDQU Y5, 32(SP)
	VMOVDQU Y6, 64(SP)
	VMOVDQU Y7, 96(SP)
	VPXOR   Y8, Y8, Y8
	VPXOR   Y9, Y9, Y9
	VPXOR   Y10, Y10, Y10
	VPXOR   Y11, Y11, Y11
	PKK4LO(0)
	PKK4SUB(0, pkksc0<>(SB), 0)
	PKK4HI(0)
	PKK4SUB(0, pkksc1<>(SB), 32)
	PKKPREF(5)
	PKKPREF(6)
	PKKPREF(7)
	PKKPREF(8)
	PKKPREF(9)
	PKK4LO(1)
	PKK4SUB(0, pkksc2<>(SB), 64)
	PKK4HI(1)
	PKK4SUB(0, pkksc3<>(SB), 96)
	PKKPREF(10)
	PKKPREF(11)
	PKKPREF(12)
	PKKPREF(13)
	PKK4LO(2)
	PKK4SUB(32, pkksc0<>(SB), 128)
	PKK4HI(2)
	PKK4SUB(32, pkksc1<>(SB), 160)
	PKKPREF(14)
	PKKPREF(15)
	PKKPREF(16)
	PKKPREF(17)
	PKK4LO(3)
	PKK4SUB(32, pkksc2<>(SB), 192)
	PKK4HI(3)
	PKK4SUB(32, pkksc3<>(SB), 224)

	VMOVDQU   64(SP), Y6
	VMOVDQU   96(SP), Y7
	VPSHUFB   pkkmin0<>(SB), Y6, Y2
	VPSHUFB   pkkmin1<>(SB), Y6, Y3
	VPSHUFB   pkkmin0<>(SB), Y7, Y4
	VPSHUFB   pkkmin1<>(SB), Y7, Y5
	VCVTPH2PS (SI), Y6
	VCVTPH2PS 16(SI), Y7
	PKK4FIN(0, Y8, 128)
	PKK4FIN(1, Y9, 160)
	PKK4FIN(2, Y10, 192)
	PKK4FIN(3, Y11, 224)
	ADDQ      $1152, SI
	ADDQ      $256, DI
	ADDQ      $256, R8
	ADDQ      $256, R9
	ADDQ      $256, AX
	ADDQ      $144, BX
	DECQ      CX
	JNZ       pkk4block

	VMOVUPS 128(SP), Y0
	VMOVUPS 160(SP), Y1
	VMOVUPS 192(SP), Y2
	VMOVUPS 224(SP), Y3
	VMOVUPS Y0, (R14)
	VMOVUPS Y1, (R14)(R15*1)
	VMOVUPS Y2, (R14)(R15*2)
	VMOVUPS Y3, (R14)(R11*1)
	ADDQ    $32, R14
	DECQ    R10
	JNZ     pkk4group
	VZEROUPPER
	RET
