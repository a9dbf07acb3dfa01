//go:build amd64 && !purego

#include "textflag.h"
#include "vnni_amd64.h"

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
// the low and high int16 halves of dword i. 0x80 bytes give zeros. The
// pkkmin controls are 64 bytes for the 512-bit kernel; the 256-bit ones
// read their first 32.
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
DATA pkkmin0<>+32(SB)/8, $0x8005800180048000
DATA pkkmin0<>+40(SB)/8, $0x8007800380068002
DATA pkkmin0<>+48(SB)/8, $0x8005800180048000
DATA pkkmin0<>+56(SB)/8, $0x8007800380068002
GLOBL pkkmin0<>(SB), RODATA|NOPTR, $64

DATA pkkmin1<>+0(SB)/8, $0x800d8009800c8008
DATA pkkmin1<>+8(SB)/8, $0x800f800b800e800a
DATA pkkmin1<>+16(SB)/8, $0x800d8009800c8008
DATA pkkmin1<>+24(SB)/8, $0x800f800b800e800a
DATA pkkmin1<>+32(SB)/8, $0x800d8009800c8008
DATA pkkmin1<>+40(SB)/8, $0x800f800b800e800a
DATA pkkmin1<>+48(SB)/8, $0x800d8009800c8008
DATA pkkmin1<>+56(SB)/8, $0x800f800b800e800a
GLOBL pkkmin1<>(SB), RODATA|NOPTR, $64

// pkkdw<j> shuffles, in each 16-byte lane, byte 4j+i (sub-block j or j+4
// of row i of the lane) into dword i, zero-extended: the rows' scales of a
// sub-block as vpmulld multiplies the 512-bit kernel's int32 sums by them.
DATA pkkdw0<>+0(SB)/8, $0x8080800180808000
DATA pkkdw0<>+8(SB)/8, $0x8080800380808002
DATA pkkdw0<>+16(SB)/8, $0x8080800180808000
DATA pkkdw0<>+24(SB)/8, $0x8080800380808002
DATA pkkdw0<>+32(SB)/8, $0x8080800180808000
DATA pkkdw0<>+40(SB)/8, $0x8080800380808002
DATA pkkdw0<>+48(SB)/8, $0x8080800180808000
DATA pkkdw0<>+56(SB)/8, $0x8080800380808002
GLOBL pkkdw0<>(SB), RODATA|NOPTR, $64

DATA pkkdw1<>+0(SB)/8, $0x8080800580808004
DATA pkkdw1<>+8(SB)/8, $0x8080800780808006
DATA pkkdw1<>+16(SB)/8, $0x8080800580808004
DATA pkkdw1<>+24(SB)/8, $0x8080800780808006
DATA pkkdw1<>+32(SB)/8, $0x8080800580808004
DATA pkkdw1<>+40(SB)/8, $0x8080800780808006
DATA pkkdw1<>+48(SB)/8, $0x8080800580808004
DATA pkkdw1<>+56(SB)/8, $0x8080800780808006
GLOBL pkkdw1<>(SB), RODATA|NOPTR, $64

DATA pkkdw2<>+0(SB)/8, $0x8080800980808008
DATA pkkdw2<>+8(SB)/8, $0x8080800b8080800a
DATA pkkdw2<>+16(SB)/8, $0x8080800980808008
DATA pkkdw2<>+24(SB)/8, $0x8080800b8080800a
DATA pkkdw2<>+32(SB)/8, $0x8080800980808008
DATA pkkdw2<>+40(SB)/8, $0x8080800b8080800a
DATA pkkdw2<>+48(SB)/8, $0x8080800980808008
DATA pkkdw2<>+56(SB)/8, $0x8080800b8080800a
GLOBL pkkdw2<>(SB), RODATA|NOPTR, $64

DATA pkkdw3<>+0(SB)/8, $0x8080800d8080800c
DATA pkkdw3<>+8(SB)/8, $0x8080800f8080800e
DATA pkkdw3<>+16(SB)/8, $0x8080800d8080800c
DATA pkkdw3<>+24(SB)/8, $0x8080800f8080800e
DATA pkkdw3<>+32(SB)/8, $0x8080800d8080800c
DATA pkkdw3<>+40(SB)/8, $0x8080800f8080800e
DATA pkkdw3<>+48(SB)/8, $0x8080800d8080800c
DATA pkkdw3<>+56(SB)/8, $0x8080800f8080800e
GLOBL pkkdw3<>(SB), RODATA|NOPTR, $64

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

// PKK4BLOCK and PKK4END begin and end a block of the four-input AVX2
// kernels (packedQ4Kx4AVX2, packedQ5Kx4AVX2). They stand before the first
// TEXT because go vet reads their frame offsets as those of the function
// above them.

// PKK4START loads the four-input AVX2 kernels' arguments and starts a
// group at label group: the inputs' quant pointers, the records, the block
// count and the four float sums in the frame cleared.
#define PKK4START(group) \
	MOVQ    w+0(FP), SI;         \
	MOVQ    groups+8(FP), R10;   \
	MOVQ    ystride+32(FP), DX;  \
	MOVQ    out+48(FP), R14;     \
	MOVQ    ostride+56(FP), R15; \
	LEAQ    (R15)(R15*2), R11;   \
group:                           \
	MOVQ    y+24(FP), DI;        \
	LEAQ    (DI)(DX*1), R8;      \
	LEAQ    (DI)(DX*2), R9;      \
	LEAQ    (R8)(DX*2), AX;      \
	MOVQ    k4+40(FP), BX;       \
	MOVQ    nb+16(FP), CX;       \
	VXORPS  Y0, Y0, Y0;          \
	VMOVUPS Y0, 128(SP);         \
	VMOVUPS Y0, 160(SP);         \
	VMOVUPS Y0, 192(SP);         \
	VMOVUPS Y0, 224(SP)

// PKK4BLOCK starts a block: its scales and minimums rebuilt into the
// frame, the four inputs' int32 sums cleared.
#define PKK4BLOCK \
	PKKSCALES(pkk0f<>(SB)); \
	VMOVDQU Y4, 0(SP);      \
	VMOVDQU Y5, 32(SP);     \
	VMOVDQU Y6, 64(SP);     \
	VMOVDQU Y7, 96(SP);     \
	VPXOR   Y8, Y8, Y8;     \
	VPXOR   Y9, Y9, Y9;     \
	VPXOR   Y10, Y10, Y10;  \
	VPXOR   Y11, Y11, Y11

// PKK4END ends a block of bb bytes of the four-input AVX2 kernels (the
// minimums' terms and the float sums, PKK4FIN), loops to block while
// blocks remain, then stores the group's outputs and loops to group.
#define PKK4END(bb, block, group) \
	VMOVDQU   64(SP), Y6;                 \
	VMOVDQU   96(SP), Y7;                 \
	VPSHUFB   pkkmin0<>(SB), Y6, Y2;      \
	VPSHUFB   pkkmin1<>(SB), Y6, Y3;      \
	VPSHUFB   pkkmin0<>(SB), Y7, Y4;      \
	VPSHUFB   pkkmin1<>(SB), Y7, Y5;      \
	VCVTPH2PS (SI), Y6;                   \
	VCVTPH2PS 16(SI), Y7;                 \
	PKK4FIN(0, Y8, 128);                  \
	PKK4FIN(1, Y9, 160);                  \
	PKK4FIN(2, Y10, 192);                 \
	PKK4FIN(3, Y11, 224);                 \
	ADDQ      bb, SI;                     \
	ADDQ      $256, DI;                   \
	ADDQ      $256, R8;                   \
	ADDQ      $256, R9;                   \
	ADDQ      $256, AX;                   \
	ADDQ      $144, BX;                   \
	DECQ      CX;                         \
	JNZ       block;                      \
	VMOVUPS   128(SP), Y0;                \
	VMOVUPS   160(SP), Y1;                \
	VMOVUPS   192(SP), Y2;                \
	VMOVUPS   224(SP), Y3;                \
	VMOVUPS   Y0, (R14);                  \
	VMOVUPS   Y1, (R14)(R15*1);           \
	VMOVUPS   Y2, (R14)(R15*2);           \
	VMOVUPS   Y3, (R14)(R11*1);           \
	ADDQ      $32, R14;                   \
	DECQ      R10;                        \
	JNZ       group;                      \
	VZEROUPPER;                           \
	RET

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

// The one-input Q5_K kernel is packedQ4KAVX2 with a fifth bit per quant
// (see packed_q5k.go): run k of high bits sits at 1152+32k of the block,
// and bit s of its bytes goes to bit 4 of sub-block s's quants. Products of
// 5-bit quants reach 2*31*127 per int16 lane, so a sub-block's runs are
// summed in int16 four at a time (at most 31496) before vpmaddwd.

DATA pk5k10<>+0(SB)/8, $0x1010101010101010
DATA pk5k10<>+8(SB)/8, $0x1010101010101010
DATA pk5k10<>+16(SB)/8, $0x1010101010101010
DATA pk5k10<>+24(SB)/8, $0x1010101010101010
GLOBL pk5k10<>(SB), RODATA|NOPTR, $32

// P5KPREF prefetches line a of the next block (1408 bytes ahead).
#define P5KPREF(a) PREFETCHT0 (1408+64*(a))(SI)

// P5SH<s> moves bit s of the bytes of src to bit 4 of dst (other bits
// are masked off after).
#define P5SH0(src, dst) VPSLLW $4, src, dst
#define P5SH1(src, dst) VPSLLW $3, src, dst
#define P5SH2(src, dst) VPSLLW $2, src, dst
#define P5SH3(src, dst) VPSLLW $1, src, dst
#define P5SH4(src, dst) VPSLLW $0, src, dst
#define P5SH5(src, dst) VPSRLW $1, src, dst
#define P5SH6(src, dst) VPSRLW $2, src, dst
#define P5SH7(src, dst) VPSRLW $3, src, dst

// P51STEP is PKK1STEP for Q5_K: shlo and shhi place the fifth bits of
// sub-blocks 2c and 2c+1 from high-bit run k.
#define P51STEP(c, k, shlo, shhi) \
	VMOVDQU      (128+256*c+32*k)(SI), Y0; \
	VMOVDQU      (1152+32*k)(SI), Y11;     \
	VPSRLW       $4, Y0, Y1;               \
	VPAND        Y3, Y0, Y0;               \
	VPAND        Y3, Y1, Y1;               \
	shlo(Y11, Y14);                        \
	VPAND        pk5k10<>(SB), Y14, Y14;   \
	VPOR         Y14, Y0, Y0;              \
	shhi(Y11, Y14);                        \
	VPAND        pk5k10<>(SB), Y14, Y14;   \
	VPOR         Y14, Y1, Y1;              \
	VPBROADCASTD (64*c+4*k)(DI), Y15;      \
	VPMADDUBSW   Y15, Y0, Y0;              \
	VPADDW       Y0, Y12, Y12;             \
	VPBROADCASTD (64*c+32+4*k)(DI), Y2;    \
	VPMADDUBSW   Y2, Y1, Y1;               \
	VPADDW       Y1, Y13, Y13

// P51SCALE adds the int16 sums Y12 (sub-block 2c) and Y13 (2c+1), times
// their scales in v chosen by lo and hi, to Y8 and clears them.
#define P51SCALE(v, lo, hi) \
	VPSHUFB  lo, v, Y14;   \
	VPMADDWD Y14, Y12, Y12; \
	VPADDD   Y12, Y8, Y8;   \
	VPSHUFB  hi, v, Y14;   \
	VPMADDWD Y14, Y13, Y13; \
	VPADDD   Y13, Y8, Y8;   \
	VPXOR    Y12, Y12, Y12; \
	VPXOR    Y13, Y13, Y13

// P51CHUNK adds chunk c's sub-blocks to Y8 (Y12 and Y13 clear on entry and
// exit).
#define P51CHUNK(c, v, lo, hi, shlo, shhi) \
	P51STEP(c, 0, shlo, shhi); \
	P51STEP(c, 1, shlo, shhi); \
	P51STEP(c, 2, shlo, shhi); \
	P51STEP(c, 3, shlo, shhi); \
	P51SCALE(v, lo, hi);       \
	P51STEP(c, 4, shlo, shhi); \
	P51STEP(c, 5, shlo, shhi); \
	P51STEP(c, 6, shlo, shhi); \
	P51STEP(c, 7, shlo, shhi); \
	P51SCALE(v, lo, hi)

// func packedQ5KAVX2(w *byte, groups, nb int, y *int8, yd *float32, bs *int16, out *float32)
TEXT ·packedQ5KAVX2(SB), NOSPLIT, $0-56
	MOVQ    w+0(FP), SI
	MOVQ    groups+8(FP), R10
	MOVQ    out+48(FP), R14
	VMOVDQU pkk0f<>(SB), Y3

pk51group:
	MOVQ   y+24(FP), DI
	MOVQ   yd+32(FP), BX
	MOVQ   bs+40(FP), R12
	MOVQ   nb+16(FP), CX
	VXORPS Y9, Y9, Y9

pk51block:
	P5KPREF(0)
	P5KPREF(1)
	P5KPREF(2)
	P5KPREF(3)
	P5KPREF(4)
	P5KPREF(5)
	PKKSCALES(Y3)
	VPXOR Y8, Y8, Y8
	VPXOR Y12, Y12, Y12
	VPXOR Y13, Y13, Y13
	P51CHUNK(0, Y4, pkksc0<>(SB), pkksc1<>(SB), P5SH0, P5SH1)
	P5KPREF(6)
	P5KPREF(7)
	P5KPREF(8)
	P5KPREF(9)
	P5KPREF(10)
	P5KPREF(11)
	P51CHUNK(1, Y4, pkksc2<>(SB), pkksc3<>(SB), P5SH2, P5SH3)
	P5KPREF(12)
	P5KPREF(13)
	P5KPREF(14)
	P5KPREF(15)
	P5KPREF(16)
	P51CHUNK(2, Y5, pkksc0<>(SB), pkksc1<>(SB), P5SH4, P5SH5)
	P5KPREF(17)
	P5KPREF(18)
	P5KPREF(19)
	P5KPREF(20)
	P5KPREF(21)
	P51CHUNK(3, Y5, pkksc2<>(SB), pkksc3<>(SB), P5SH6, P5SH7)
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
	ADDQ         $1408, SI
	ADDQ         $256, DI
	ADDQ         $4, BX
	ADDQ         $32, R12
	DECQ         CX
	JNZ          pk51block

	VMOVUPS Y9, (R14)
	ADDQ    $32, R14
	DECQ    R10
	JNZ     pk51group
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
	PKK4START(pkk4group)

pkk4block:
	PKKPREF(0)
	PKKPREF(1)
	PKKPREF(2)
	PKKPREF(3)
	PKKPREF(4)
	PKK4BLOCK
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
	PKK4END($1152, pkk4block, pkk4group)

// The eight-input VNNI kernel works as the Q4_0 and Q8_0 ones do (see
// packed_amd64.s): two groups of rows in the halves of 512-bit registers,
// one vpdpbusd per input and run. A Q4_K block is eight sub-blocks of
// 32 with a 6-bit scale each, so a sub-block's eight runs give each input
// its int32 sums of products (Z16..Z23, exact: at most 32*15*127), which
// vpmulld multiplies by the rows' scales and adds to the block's int32
// sums (Z24..Z31); these are the integers the 256-bit kernels reach with
// vpmaddubsw and vpmaddwd. The minimums' term takes four vpdpwssd of the
// minimum pairs (m_2p, m_2p+1) with the input's pairs of sums of 32 per
// input. The eight inputs' float sums live in the frame (Z24..Z31 are
// taken): per block and input, d*dx*isum is added and dmin*dx*msum taken
// off in the order of packedQ4KAVX2, so every output is bit for bit the
// 256-bit kernels'. The input records at BX (see qacts.e8) hold per block
// the eight inputs' float32 scales, then per input its four pairs of int16
// sums of 32.

// VKZ8SCALES rebuilds the 6-bit scales and minimums of both groups' block
// (PKKSCALES' steps on 512 bits): Z9 (sub-blocks 0-3) and Z10 (4-7) the
// scales, Z11 and Z12 the minimums. Z15 is the 0x0f mask; uses Z13, Z14.
#define VKZ8SCALES \
	VZ8LOAD(32, Y9, Z9);                  \
	VZ8LOAD(64, Y11, Z11);                \
	VZ8LOAD(96, Y13, Z13);                \
	VPSRLW      $4, Z9, Z10;              \
	VPSRLW      $4, Z11, Z12;             \
	VPANDD      Z15, Z9, Z9;              \
	VPANDD      Z15, Z10, Z10;            \
	VPANDD      Z15, Z11, Z11;            \
	VPANDD      Z15, Z12, Z12;            \
	VPSLLW      $4, Z13, Z14;             \
	VPANDD.BCST pkk30<>(SB), Z14, Z14;    \
	VPORD       Z14, Z9, Z9;              \
	VPSLLW      $2, Z13, Z14;             \
	VPANDD.BCST pkk30<>(SB), Z14, Z14;    \
	VPORD       Z14, Z10, Z10;            \
	VPANDD.BCST pkk30<>(SB), Z13, Z14;    \
	VPORD       Z14, Z11, Z11;            \
	VPSRLW      $2, Z13, Z14;             \
	VPANDD.BCST pkk30<>(SB), Z14, Z14;    \
	VPORD       Z14, Z12, Z12

// VKZ8LO and VKZ8HI decode the low or high nibbles of run k of chunk c of
// both groups into zreg (yreg its low half).
#define VKZ8LO(c, k, yreg, zreg) \
	VZ8LOAD((128+256*c+32*k), yreg, zreg); \
	VPANDD Z15, zreg, zreg

#define VKZ8HI(c, k, yreg, zreg) \
	VZ8LOAD((128+256*c+32*k), yreg, zreg); \
	VPSRLW $4, zreg, zreg;                 \
	VPANDD Z15, zreg, zreg

// VKZ8ADD adds sub-block sums times the scales in Z8 to a block sum.
#define VKZ8ADD(sum, isum) \
	VPMULLD Z8, sum, sum; \
	VPADDD  sum, isum, isum

// VKZSUBSTART starts a sub-block of the eight- and four-input kernels:
// it prefetches the lines p0 and p1 of the block ahead, decodes the
// sub-block's eight runs (dec, as in VKZ8SUB) into Z0..Z7 and clears the
// int32 sums Z16..Z23.
#define VKZSUBSTART(dec, c, p0, p1) \
	VZPREF(p0);        \
	VZPREF(p1);        \
	dec(c, 0, Y0, Z0); \
	dec(c, 1, Y1, Z1); \
	dec(c, 2, Y2, Z2); \
	dec(c, 3, Y3, Z3); \
	dec(c, 4, Y4, Z4); \
	dec(c, 5, Y5, Z5); \
	dec(c, 6, Y6, Z6); \
	dec(c, 7, Y7, Z7); \
	VPXORD Z16, Z16, Z16; \
	VPXORD Z17, Z17, Z17; \
	VPXORD Z18, Z18, Z18; \
	VPXORD Z19, Z19, Z19; \
	VPXORD Z20, Z20, Z20; \
	VPXORD Z21, Z21, Z21; \
	VPXORD Z22, Z22, Z22; \
	VPXORD Z23, Z23, Z23

// VKZ8SUB does sub-block 2c (dec VKZ8LO) or 2c+1 (VKZ8HI) for the eight
// inputs, their quants at offset yo of the input block: its scales are
// those of sc chosen by the shuffle ctl. p0 and p1 are two lines of the
// block ahead to prefetch.
#define VKZ8SUB(dec, c, yo, sc, ctl, p0, p1) \
	VKZSUBSTART(dec, c, p0, p1);  \
	VZ8MUL8((yo), Z0);          \
	VZ8MUL8((yo+4), Z1);        \
	VZ8MUL8((yo+8), Z2);        \
	VZ8MUL8((yo+12), Z3);       \
	VZ8MUL8((yo+16), Z4);       \
	VZ8MUL8((yo+20), Z5);       \
	VZ8MUL8((yo+24), Z6);       \
	VZ8MUL8((yo+28), Z7);       \
	VPSHUFB ctl, sc, Z8;        \
	VKZ8ADD(Z16, Z24);          \
	VKZ8ADD(Z17, Z25);          \
	VKZ8ADD(Z18, Z26);          \
	VKZ8ADD(Z19, Z27);          \
	VKZ8ADD(Z20, Z28);          \
	VKZ8ADD(Z21, Z29);          \
	VKZ8ADD(Z22, Z30);          \
	VKZ8ADD(Z23, Z31)

// VKZSUBS runs sub, VKZ8SUB or VKZ4SUB, over a block's eight sub-blocks,
// d0..d7 decoding their runs (VKZ8LO and VKZ8HI for Q4_K, V5D0..V5D7 for
// Q5_K).
#define VKZSUBS(sub, d0, d1, d2, d3, d4, d5, d6, d7) \
	sub(d0, 0, 0, Z9, pkkdw0<>(SB), 0, 64);      \
	sub(d1, 0, 32, Z9, pkkdw1<>(SB), 128, 192);  \
	sub(d2, 1, 64, Z9, pkkdw2<>(SB), 256, 320);  \
	sub(d3, 1, 96, Z9, pkkdw3<>(SB), 384, 448);  \
	sub(d4, 2, 128, Z10, pkkdw0<>(SB), 512, 576); \
	sub(d5, 2, 160, Z10, pkkdw1<>(SB), 640, 704); \
	sub(d6, 3, 192, Z10, pkkdw2<>(SB), 768, 832); \
	sub(d7, 3, 224, Z10, pkkdw3<>(SB), 896, 960)

// VKZ8FINPREP shuffles the minimums into their pairs (Z0..Z3: (m0, m1),
// (m2, m3), (m4, m5), (m6, m7) in each row's lane) and widens both
// groups' d into Z4 and dmin into Z5.
#define VKZ8FINPREP \
	VPSHUFB     pkkmin0<>(SB), Z11, Z0;   \
	VPSHUFB     pkkmin1<>(SB), Z11, Z1;   \
	VPSHUFB     pkkmin0<>(SB), Z12, Z2;   \
	VPSHUFB     pkkmin1<>(SB), Z12, Z3;   \
	VMOVDQU     (SI), X4;                 \
	VINSERTI128 $1, (SI)(AX*1), Y4, Y4;   \
	VCVTPH2PS   Y4, Z4;                   \
	VMOVDQU     16(SI), X5;               \
	VINSERTI128 $1, 16(SI)(AX*1), Y5, Y5; \
	VCVTPH2PS   Y5, Z5

// VKZ8FIN finishes the block for input k, whose block sum is isum and
// float sums are at acc(SP): msum in Z6, then acc += d*dx*isum -
// dmin*dx*msum.
#define VKZ8FIN(k, isum, acc) \
	VPXORD        Z6, Z6, Z6;            \
	VPDPWSSD.BCST (32+16*k)(BX), Z0, Z6; \
	VPDPWSSD.BCST (36+16*k)(BX), Z1, Z6; \
	VPDPWSSD.BCST (40+16*k)(BX), Z2, Z6; \
	VPDPWSSD.BCST (44+16*k)(BX), Z3, Z6; \
	VCVTDQ2PS     isum, isum;            \
	VCVTDQ2PS     Z6, Z6;                \
	VMULPS.BCST   (4*k)(BX), Z4, Z7;     \
	VMULPS.BCST   (4*k)(BX), Z5, Z8;     \
	VMOVUPS       acc(SP), Z14;          \
	VFMADD231PS   Z7, isum, Z14;         \
	VFNMADD231PS  Z8, Z6, Z14;           \
	VMOVUPS       Z14, acc(SP)

// KZ8KERNEL is the eight-input VNNI kernel of Q4_K and Q5_K: blocks of bb
// bytes, pref prefetching the block ahead's lines past its first 1024
// (the sub-blocks prefetch those), d0..d7 decoding the sub-blocks' runs.
#define KZ8KERNEL(bb, pref, d0, d1, d2, d3, d4, d5, d6, d7) \
	VZCONSTS(pkk0f<>(SB));                            \
set:                                                  \
	VZSETARGS(bb);                                    \
group:                                                \
	VZ8SINGLE(pair);                                  \
pair:                                                 \
	VZPASSARGS;                                       \
	PK8INPUTS;                                        \
	LEAQ (R13)(AX*1), R12;                            \
	VZ8FRAMECLEAR;                                    \
block:                                                \
	pref;                                             \
	VKZ8SCALES;                                       \
	VPXORD Z24, Z24, Z24;                             \
	VPXORD Z25, Z25, Z25;                             \
	VPXORD Z26, Z26, Z26;                             \
	VPXORD Z27, Z27, Z27;                             \
	VPXORD Z28, Z28, Z28;                             \
	VPXORD Z29, Z29, Z29;                             \
	VPXORD Z30, Z30, Z30;                             \
	VPXORD Z31, Z31, Z31;                             \
	VKZSUBS(VKZ8SUB, d0, d1, d2, d3, d4, d5, d6, d7); \
	VKZ8FINPREP;                                      \
	VKZ8FIN(0, Z24, 0);                               \
	VKZ8FIN(1, Z25, 64);                              \
	VKZ8FIN(2, Z26, 128);                             \
	VKZ8FIN(3, Z27, 192);                             \
	VKZ8FIN(4, Z28, 256);                             \
	VKZ8FIN(5, Z29, 320);                             \
	VKZ8FIN(6, Z30, 384);                             \
	VKZ8FIN(7, Z31, 448);                             \
	ADDQ bb, SI;                                      \
	ADDQ $256, DI;                                    \
	ADDQ $256, R8;                                    \
	ADDQ $256, R9;                                    \
	ADDQ $Q8KRECORD, BX;                              \
	DECQ CX;                                          \
	JNZ  block;                                       \
	VZ8FRAMEEND(group, set)

// K4PREF prefetches the block ahead's lines past its first 1024 bytes.
#define K4PREF \
	VZPREF(1024); \
	VZPREF(1088)

// func packedQ4Kx8VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)
//
// The frame holds the eight inputs' float sums, 64 bytes each.
TEXT ·packedQ4Kx8VNNI(SB), 0, $512-80
	KZ8KERNEL($1152, K4PREF, VKZ8LO, VKZ8HI, VKZ8LO, VKZ8HI, VKZ8LO, VKZ8HI, VKZ8LO, VKZ8HI)

// The four-input VNNI kernel is the eight-input one for the last four
// inputs of a batch (starting a group of eight, whose records' first
// halves it reads). Each input's sub-block sums are two chains (even runs
// in Z16..Z19, odd in Z20..Z23) so that eight are in flight, and its float
// sums stay in Z28..Z31.

// VKZ4SUB is VKZ8SUB for four inputs.
#define VKZ4SUB(dec, c, yo, sc, ctl, p0, p1) \
	VKZSUBSTART(dec, c, p0, p1);                 \
	VZ4MUL4((yo), Z0, Z16, Z17, Z18, Z19);       \
	VZ4MUL4((yo+4), Z1, Z20, Z21, Z22, Z23);     \
	VZ4MUL4((yo+8), Z2, Z16, Z17, Z18, Z19);     \
	VZ4MUL4((yo+12), Z3, Z20, Z21, Z22, Z23);    \
	VZ4MUL4((yo+16), Z4, Z16, Z17, Z18, Z19);    \
	VZ4MUL4((yo+20), Z5, Z20, Z21, Z22, Z23);    \
	VZ4MUL4((yo+24), Z6, Z16, Z17, Z18, Z19);    \
	VZ4MUL4((yo+28), Z7, Z20, Z21, Z22, Z23);    \
	VPADDD  Z20, Z16, Z16;                       \
	VPADDD  Z21, Z17, Z17;                       \
	VPADDD  Z22, Z18, Z18;                       \
	VPADDD  Z23, Z19, Z19;                       \
	VPSHUFB ctl, sc, Z8;                         \
	VKZ8ADD(Z16, Z24);                           \
	VKZ8ADD(Z17, Z25);                           \
	VKZ8ADD(Z18, Z26);                           \
	VKZ8ADD(Z19, Z27)

// VKZ4FIN is VKZ8FIN with the float sums in facc.
#define VKZ4FIN(k, isum, facc) \
	VPXORD        Z6, Z6, Z6;            \
	VPDPWSSD.BCST (32+16*k)(BX), Z0, Z6; \
	VPDPWSSD.BCST (36+16*k)(BX), Z1, Z6; \
	VPDPWSSD.BCST (40+16*k)(BX), Z2, Z6; \
	VPDPWSSD.BCST (44+16*k)(BX), Z3, Z6; \
	VCVTDQ2PS     isum, isum;            \
	VCVTDQ2PS     Z6, Z6;                \
	VMULPS.BCST   (4*k)(BX), Z4, Z7;     \
	VMULPS.BCST   (4*k)(BX), Z5, Z8;     \
	VFMADD231PS   Z7, isum, facc;        \
	VFNMADD231PS  Z8, Z6, facc

// KZ4KERNEL is KZ8KERNEL for four inputs.
#define KZ4KERNEL(bb, pref, d0, d1, d2, d3, d4, d5, d6, d7) \
	VZARGS(bb, pkk0f<>(SB));                          \
group:                                                \
	VZ8SINGLE(pair);                                  \
pair:                                                 \
	VZPASSARGS;                                       \
	VZ4PASS(Z28, Z29, Z30, Z31);                      \
block:                                                \
	pref;                                             \
	VKZ8SCALES;                                       \
	VPXORD Z24, Z24, Z24;                             \
	VPXORD Z25, Z25, Z25;                             \
	VPXORD Z26, Z26, Z26;                             \
	VPXORD Z27, Z27, Z27;                             \
	VKZSUBS(VKZ4SUB, d0, d1, d2, d3, d4, d5, d6, d7); \
	VKZ8FINPREP;                                      \
	VKZ4FIN(0, Z24, Z28);                             \
	VKZ4FIN(1, Z25, Z29);                             \
	VKZ4FIN(2, Z26, Z30);                             \
	VKZ4FIN(3, Z27, Z31);                             \
	ADDQ bb, SI;                                      \
	ADDQ $256, DI;                                    \
	ADDQ $256, R8;                                    \
	ADDQ $Q8KRECORD, BX;                              \
	DECQ CX;                                          \
	JNZ  block;                                       \
	VZ4END(group, Z28, Z29, Z30, Z31)

// func packedQ4Kx4VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)
TEXT ·packedQ4Kx4VNNI(SB), NOSPLIT, $0-72
	KZ4KERNEL($1152, K4PREF, VKZ8LO, VKZ8HI, VKZ8LO, VKZ8HI, VKZ8LO, VKZ8HI, VKZ8LO, VKZ8HI)

// The four-input AVX2 Q5_K kernel is packedQ4Kx4AVX2 with the fifth bit
// (Y12 is free while a chunk's runs are decoded) and, as in the one-input
// kernel, int16 sums of four runs at a time.

// P54LO and P54HI are PKK4LO and PKK4HI for Q5_K: sh places the fifth bit
// of the sub-block they decode.
#define P54FIFTH(k, r, sh) \
	VMOVDQU (1152+32*k)(SI), Y12; \
	sh(Y12, Y12);                 \
	VPAND   pk5k10<>(SB), Y12, Y12; \
	VPOR    Y12, r, r

#define P54LO1(c, k, r, sh) \
	PKK4LO1(c, k, r); \
	P54FIFTH(k, r, sh)

#define P54HI1(c, k, r, sh) \
	PKK4HI1(c, k, r); \
	P54FIFTH(k, r, sh)

#define P54LO(c, sh) \
	VMOVDQU pkk0f<>(SB), Y15; \
	P54LO1(c, 0, Y0, sh);     \
	P54LO1(c, 1, Y1, sh);     \
	P54LO1(c, 2, Y2, sh);     \
	P54LO1(c, 3, Y3, sh);     \
	P54LO1(c, 4, Y4, sh);     \
	P54LO1(c, 5, Y5, sh);     \
	P54LO1(c, 6, Y6, sh);     \
	P54LO1(c, 7, Y7, sh)

#define P54HI(c, sh) \
	VMOVDQU pkk0f<>(SB), Y15; \
	P54HI1(c, 0, Y0, sh);     \
	P54HI1(c, 1, Y1, sh);     \
	P54HI1(c, 2, Y2, sh);     \
	P54HI1(c, 3, Y3, sh);     \
	P54HI1(c, 4, Y4, sh);     \
	P54HI1(c, 5, Y5, sh);     \
	P54HI1(c, 6, Y6, sh);     \
	P54HI1(c, 7, Y7, sh)

// P54HALF adds the products of runs a..a+3 (in the registers r0..r3) with
// the input quants at yo(p), scaled by Y14, to isum.
#define P54HALF(p, yo, r0, r1, r2, r3, isum) \
	VPBROADCASTD (yo)(p), Y15;    \
	VPMADDUBSW   Y15, r0, Y12;    \
	VPBROADCASTD (yo+4)(p), Y15;  \
	VPMADDUBSW   Y15, r1, Y13;    \
	VPADDW       Y13, Y12, Y12;   \
	VPBROADCASTD (yo+8)(p), Y15;  \
	VPMADDUBSW   Y15, r2, Y13;    \
	VPADDW       Y13, Y12, Y12;   \
	VPBROADCASTD (yo+12)(p), Y15; \
	VPMADDUBSW   Y15, r3, Y13;    \
	VPADDW       Y13, Y12, Y12;   \
	VPMADDWD     Y14, Y12, Y12;   \
	VPADDD       Y12, isum, isum

#define P54INPUT(p, yo, isum) \
	P54HALF(p, yo, Y0, Y1, Y2, Y3, isum); \
	P54HALF(p, yo+16, Y4, Y5, Y6, Y7, isum)

// P54SUB is PKK4SUB for Q5_K.
#define P54SUB(vo, ctl, yo) \
	VMOVDQU vo(SP), Y14;     \
	VPSHUFB ctl, Y14, Y14;   \
	P54INPUT(DI, yo, Y8);    \
	P54INPUT(R8, yo, Y9);    \
	P54INPUT(R9, yo, Y10);   \
	P54INPUT(AX, yo, Y11)

// func packedQ5Kx4AVX2(w *byte, groups, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)
//
// As packedQ4Kx4AVX2, whose frame it has.
TEXT ·packedQ5Kx4AVX2(SB), NOSPLIT, $256-64
	PKK4START(p54group)

p54block:
	P5KPREF(0)
	P5KPREF(1)
	P5KPREF(2)
	P5KPREF(3)
	P5KPREF(4)
	P5KPREF(5)
	PKK4BLOCK
	P54LO(0, P5SH0)
	P54SUB(0, pkksc0<>(SB), 0)
	P54HI(0, P5SH1)
	P54SUB(0, pkksc1<>(SB), 32)
	P5KPREF(6)
	P5KPREF(7)
	P5KPREF(8)
	P5KPREF(9)
	P5KPREF(10)
	P5KPREF(11)
	P54LO(1, P5SH2)
	P54SUB(0, pkksc2<>(SB), 64)
	P54HI(1, P5SH3)
	P54SUB(0, pkksc3<>(SB), 96)
	P5KPREF(12)
	P5KPREF(13)
	P5KPREF(14)
	P5KPREF(15)
	P5KPREF(16)
	P54LO(2, P5SH4)
	P54SUB(32, pkksc0<>(SB), 128)
	P54HI(2, P5SH5)
	P54SUB(32, pkksc1<>(SB), 160)
	P5KPREF(17)
	P5KPREF(18)
	P5KPREF(19)
	P5KPREF(20)
	P5KPREF(21)
	P54LO(3, P5SH6)
	P54SUB(32, pkksc2<>(SB), 192)
	P54HI(3, P5SH7)
	P54SUB(32, pkksc3<>(SB), 224)
	PKK4END($1408, p54block, p54group)

// The Q5_K VNNI kernels are the Q4_K ones with a fifth bit per quant: V5D<s>
// decodes run k of sub-block s (chunk c = s/2) of both groups into z,
// the nibble as VKZ8LO or VKZ8HI does and bit s of high-bit run k
// (1152+32k) as bit 4 (Z13 and Z14 are free while a sub-block's runs are
// decoded). A block is 1408 bytes, 22 lines.
#define V5DEC(c, k, y, z, nib, sh) \
	nib(c, k, y, z);                          \
	VZ8LOAD((1152+32*k), Y13, Z13);           \
	sh(Z13, Z14);                             \
	VPANDD.BCST pk5k10<>(SB), Z14, Z14;       \
	VPORD       Z14, z, z

#define V5D0(c, k, y, z) V5DEC(c, k, y, z, VKZ8LO, P5SH0)
#define V5D1(c, k, y, z) V5DEC(c, k, y, z, VKZ8HI, P5SH1)
#define V5D2(c, k, y, z) V5DEC(c, k, y, z, VKZ8LO, P5SH2)
#define V5D3(c, k, y, z) V5DEC(c, k, y, z, VKZ8HI, P5SH3)
#define V5D4(c, k, y, z) V5DEC(c, k, y, z, VKZ8LO, P5SH4)
#define V5D5(c, k, y, z) V5DEC(c, k, y, z, VKZ8HI, P5SH5)
#define V5D6(c, k, y, z) V5DEC(c, k, y, z, VKZ8LO, P5SH6)
#define V5D7(c, k, y, z) V5DEC(c, k, y, z, VKZ8HI, P5SH7)

// V5PREF is K4PREF for the 22 lines of a Q5_K block.
#define V5PREF \
	VZPREF(1024); \
	VZPREF(1088); \
	VZPREF(1152); \
	VZPREF(1216); \
	VZPREF(1280); \
	VZPREF(1344)

// func packedQ5Kx8VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)
//
// The frame holds the eight inputs' float sums, 64 bytes each.
TEXT ·packedQ5Kx8VNNI(SB), 0, $512-80
	KZ8KERNEL($1408, V5PREF, V5D0, V5D1, V5D2, V5D3, V5D4, V5D5, V5D6, V5D7)

// func packedQ5Kx4VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)
TEXT ·packedQ5Kx4VNNI(SB), NOSPLIT, $0-72
	KZ4KERNEL($1408, V5PREF, V5D0, V5D1, V5D2, V5D3, V5D4, V5D5, V5D6, V5D7)
