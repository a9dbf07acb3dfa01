//go:build amd64 && !purego

#include "textflag.h"
#include "vnni_amd64.h"

// Kernels of packed Q6_K matrices (see packed_q6k.go for the layout). Each
// int32 lane of a vector is one of a group's eight rows. Three 32-byte runs
// of a chunk (low bits j and j+4, high bits j) rebuild four vectors of
// unsigned 6-bit quants, four elements of each of the chunk's four
// sub-blocks per row; vpmaddubsw multiplies each with four broadcast input
// quants. Each product pair is at most 2*63*127 = 16002, so only two runs'
// products are summed in int16 before vpmaddwd multiplies them by the
// rows' signed scales (each in both int16 halves of its lane) into the
// block's int32 sum. The -32 offset is sum_s sc_s*sum(qx) times 32, from
// pairs of scales against broadcast pairs of the Q8_K sums of 16. One
// conversion and one multiply-add by d*dx finish the block for all eight
// rows.

// p6k0f and p6k30 mask the low nibbles and bits 4-5 of each byte.
DATA p6k0f<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA p6k0f<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA p6k0f<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA p6k0f<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL p6k0f<>(SB), RODATA|NOPTR, $32

DATA p6k30<>+0(SB)/8, $0x3030303030303030
DATA p6k30<>+8(SB)/8, $0x3030303030303030
DATA p6k30<>+16(SB)/8, $0x3030303030303030
DATA p6k30<>+24(SB)/8, $0x3030303030303030
GLOBL p6k30<>(SB), RODATA|NOPTR, $32

// p6ksc<t> shuffles, in each 16-byte half of a scale vector, byte 4t+i
// (sub-block t of the vector's four, row i of the half) into the high
// bytes of both int16 halves of dword i, so that an arithmetic shift
// right by 8 leaves the signed scale in both. p6kpair<q> puts sub-blocks
// 2q and 2q+1 in the low and high halves the same way (64 bytes, for the
// 512-bit kernels too). 0x80 bytes give zeros.
DATA p6ksc0<>+0(SB)/8, $0x0180018000800080
DATA p6ksc0<>+8(SB)/8, $0x0380038002800280
DATA p6ksc0<>+16(SB)/8, $0x0180018000800080
DATA p6ksc0<>+24(SB)/8, $0x0380038002800280
GLOBL p6ksc0<>(SB), RODATA|NOPTR, $32

DATA p6ksc1<>+0(SB)/8, $0x0580058004800480
DATA p6ksc1<>+8(SB)/8, $0x0780078006800680
DATA p6ksc1<>+16(SB)/8, $0x0580058004800480
DATA p6ksc1<>+24(SB)/8, $0x0780078006800680
GLOBL p6ksc1<>(SB), RODATA|NOPTR, $32

DATA p6ksc2<>+0(SB)/8, $0x0980098008800880
DATA p6ksc2<>+8(SB)/8, $0x0b800b800a800a80
DATA p6ksc2<>+16(SB)/8, $0x0980098008800880
DATA p6ksc2<>+24(SB)/8, $0x0b800b800a800a80
GLOBL p6ksc2<>(SB), RODATA|NOPTR, $32

DATA p6ksc3<>+0(SB)/8, $0x0d800d800c800c80
DATA p6ksc3<>+8(SB)/8, $0x0f800f800e800e80
DATA p6ksc3<>+16(SB)/8, $0x0d800d800c800c80
DATA p6ksc3<>+24(SB)/8, $0x0f800f800e800e80
GLOBL p6ksc3<>(SB), RODATA|NOPTR, $32

DATA p6kpair0<>+0(SB)/8, $0x0580018004800080
DATA p6kpair0<>+8(SB)/8, $0x0780038006800280
DATA p6kpair0<>+16(SB)/8, $0x0580018004800080
DATA p6kpair0<>+24(SB)/8, $0x0780038006800280
DATA p6kpair0<>+32(SB)/8, $0x0580018004800080
DATA p6kpair0<>+40(SB)/8, $0x0780038006800280
DATA p6kpair0<>+48(SB)/8, $0x0580018004800080
DATA p6kpair0<>+56(SB)/8, $0x0780038006800280
GLOBL p6kpair0<>(SB), RODATA|NOPTR, $64

DATA p6kpair1<>+0(SB)/8, $0x0d8009800c800880
DATA p6kpair1<>+8(SB)/8, $0x0f800b800e800a80
DATA p6kpair1<>+16(SB)/8, $0x0d8009800c800880
DATA p6kpair1<>+24(SB)/8, $0x0f800b800e800a80
DATA p6kpair1<>+32(SB)/8, $0x0d8009800c800880
DATA p6kpair1<>+40(SB)/8, $0x0f800b800e800a80
DATA p6kpair1<>+48(SB)/8, $0x0d8009800c800880
DATA p6kpair1<>+56(SB)/8, $0x0f800b800e800a80
GLOBL p6kpair1<>(SB), RODATA|NOPTR, $64

// p6kdw<t> shuffles, in each 16-byte lane, byte 4t+i (sub-block t of the
// vector's four, row i of the lane) into the top byte of dword i, so that
// an arithmetic shift right by 24 leaves the signed scale as an int32, what
// the 512-bit kernels' vpmulld takes.
DATA p6kdw0<>+0(SB)/8, $0x0180808000808080
DATA p6kdw0<>+8(SB)/8, $0x0380808002808080
DATA p6kdw0<>+16(SB)/8, $0x0180808000808080
DATA p6kdw0<>+24(SB)/8, $0x0380808002808080
DATA p6kdw0<>+32(SB)/8, $0x0180808000808080
DATA p6kdw0<>+40(SB)/8, $0x0380808002808080
DATA p6kdw0<>+48(SB)/8, $0x0180808000808080
DATA p6kdw0<>+56(SB)/8, $0x0380808002808080
GLOBL p6kdw0<>(SB), RODATA|NOPTR, $64

DATA p6kdw1<>+0(SB)/8, $0x0580808004808080
DATA p6kdw1<>+8(SB)/8, $0x0780808006808080
DATA p6kdw1<>+16(SB)/8, $0x0580808004808080
DATA p6kdw1<>+24(SB)/8, $0x0780808006808080
DATA p6kdw1<>+32(SB)/8, $0x0580808004808080
DATA p6kdw1<>+40(SB)/8, $0x0780808006808080
DATA p6kdw1<>+48(SB)/8, $0x0580808004808080
DATA p6kdw1<>+56(SB)/8, $0x0780808006808080
GLOBL p6kdw1<>(SB), RODATA|NOPTR, $64

DATA p6kdw2<>+0(SB)/8, $0x0980808008808080
DATA p6kdw2<>+8(SB)/8, $0x0b8080800a808080
DATA p6kdw2<>+16(SB)/8, $0x0980808008808080
DATA p6kdw2<>+24(SB)/8, $0x0b8080800a808080
DATA p6kdw2<>+32(SB)/8, $0x0980808008808080
DATA p6kdw2<>+40(SB)/8, $0x0b8080800a808080
DATA p6kdw2<>+48(SB)/8, $0x0980808008808080
DATA p6kdw2<>+56(SB)/8, $0x0b8080800a808080
GLOBL p6kdw2<>(SB), RODATA|NOPTR, $64

DATA p6kdw3<>+0(SB)/8, $0x0d8080800c808080
DATA p6kdw3<>+8(SB)/8, $0x0f8080800e808080
DATA p6kdw3<>+16(SB)/8, $0x0d8080800c808080
DATA p6kdw3<>+24(SB)/8, $0x0f8080800e808080
DATA p6kdw3<>+32(SB)/8, $0x0d8080800c808080
DATA p6kdw3<>+40(SB)/8, $0x0f8080800e808080
DATA p6kdw3<>+48(SB)/8, $0x0d8080800c808080
DATA p6kdw3<>+56(SB)/8, $0x0f8080800e808080
GLOBL p6kdw3<>(SB), RODATA|NOPTR, $64

// P6KPF is how far ahead of a block's start its lines are prefetched: the
// next block's lines (1680 bytes, up to 28 lines as blocks are not
// line-aligned) are requested while this one is computed, seven per chunk.
#define P6KPF 1680

#define P6KPREF(a) PREFETCHT0 (P6KPF+64*(a))(SI)

#define P6KPREF7(a) \
	P6KPREF(a);   \
	P6KPREF(a+1); \
	P6KPREF(a+2); \
	P6KPREF(a+3); \
	P6KPREF(a+4); \
	P6KPREF(a+5); \
	P6KPREF(a+6)

// P6KSET and P6KADD start and continue a sub-block's int16 sums.
#define P6KSET(x, p) VMOVDQA x, p
#define P6KADD(x, p) VPADDW x, p, p

// P6K1STEP rebuilds the quants of runs j (four elements of each of chunk
// c's sub-blocks per row), multiplies them with the input at DI and adds
// them with op into the int16 sums Y5..Y8. Y13 and Y14 are the masks.
#define P6K1STEP(c, j, op) \
	VMOVDQU      (144+384*c+32*(j))(SI), Y2;     \
	VMOVDQU      (144+384*c+128+32*(j))(SI), Y3; \
	VMOVDQU      (144+384*c+256+32*(j))(SI), Y4; \
	VPAND        Y13, Y2, Y0;                  \
	VPSLLW       $4, Y4, Y1;                   \
	VPAND        Y14, Y1, Y1;                  \
	VPOR         Y1, Y0, Y0;                   \
	VPBROADCASTD (64*c+4*(j))(DI), Y1;           \
	VPMADDUBSW   Y1, Y0, Y0;                   \
	op(Y0, Y5);                                \
	VPAND        Y13, Y3, Y0;                  \
	VPSLLW       $2, Y4, Y1;                   \
	VPAND        Y14, Y1, Y1;                  \
	VPOR         Y1, Y0, Y0;                   \
	VPBROADCASTD (64*c+16+4*(j))(DI), Y1;        \
	VPMADDUBSW   Y1, Y0, Y0;                   \
	op(Y0, Y6);                                \
	VPSRLW       $4, Y2, Y0;                   \
	VPAND        Y13, Y0, Y0;                  \
	VPAND        Y14, Y4, Y1;                  \
	VPOR         Y1, Y0, Y0;                   \
	VPBROADCASTD (64*c+32+4*(j))(DI), Y1;        \
	VPMADDUBSW   Y1, Y0, Y0;                   \
	op(Y0, Y7);                                \
	VPSRLW       $4, Y3, Y0;                   \
	VPAND        Y13, Y0, Y0;                  \
	VPSRLW       $2, Y4, Y1;                   \
	VPAND        Y14, Y1, Y1;                  \
	VPOR         Y1, Y0, Y0;                   \
	VPBROADCASTD (64*c+48+4*(j))(DI), Y1;        \
	VPMADDUBSW   Y1, Y0, Y0;                   \
	op(Y0, Y8)

// P6K1PAIR adds sub-blocks 4c+2q and 4c+2q+1's sc*sum(qx) to Y11 from
// the input sums at R12.
#define P6K1PAIR(c, q, ctl) \
	VPSHUFB      ctl, Y12, Y1;       \
	VPSRAW       $8, Y1, Y1;         \
	VPBROADCASTD (8*c+4*q)(R12), Y0; \
	VPMADDWD     Y0, Y1, Y1;         \
	VPADDD       Y1, Y11, Y11

#define P6K1SCALES \
	VPSHUFB  p6ksc0<>(SB), Y12, Y1; \
	VPSRAW   $8, Y1, Y1;            \
	VPMADDWD Y1, Y5, Y5;            \
	VPADDD   Y5, Y10, Y10;          \
	VPSHUFB  p6ksc1<>(SB), Y12, Y1; \
	VPSRAW   $8, Y1, Y1;            \
	VPMADDWD Y1, Y6, Y6;            \
	VPADDD   Y6, Y10, Y10;          \
	VPSHUFB  p6ksc2<>(SB), Y12, Y1; \
	VPSRAW   $8, Y1, Y1;            \
	VPMADDWD Y1, Y7, Y7;            \
	VPADDD   Y7, Y10, Y10;          \
	VPSHUFB  p6ksc3<>(SB), Y12, Y1; \
	VPSRAW   $8, Y1, Y1;            \
	VPMADDWD Y1, Y8, Y8;            \
	VPADDD   Y8, Y10, Y10

// P6K1CHUNK adds chunk c to Y10 and its offset sums to Y11.
#define P6K1CHUNK(c) \
	P6KPREF7(7*c);                        \
	VMOVDQU (16+32*c)(SI), Y12;           \
	P6K1STEP(c, 0, P6KSET);               \
	P6K1STEP(c, 1, P6KADD);               \
	P6K1SCALES;                           \
	P6K1STEP(c, 2, P6KSET);               \
	P6K1STEP(c, 3, P6KADD);               \
	P6K1SCALES;                           \
	P6K1PAIR(c, 0, p6kpair0<>(SB));       \
	P6K1PAIR(c, 1, p6kpair1<>(SB))

// func packedQ6KAVX2(w *byte, groups, nb int, y *int8, yd *float32, bs *int16, out *float32)
TEXT ·packedQ6KAVX2(SB), NOSPLIT, $0-56
	MOVQ    w+0(FP), SI
	MOVQ    groups+8(FP), R10
	MOVQ    out+48(FP), R14
	VMOVDQU p6k0f<>(SB), Y13
	VMOVDQU p6k30<>(SB), Y14

p6k1group:
	MOVQ   y+24(FP), DI
	MOVQ   yd+32(FP), BX
	MOVQ   bs+40(FP), R12
	MOVQ   nb+16(FP), CX
	VXORPS Y9, Y9, Y9

p6k1block:
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	P6K1CHUNK(0)
	P6K1CHUNK(1)
	P6K1CHUNK(2)
	P6K1CHUNK(3)
	VPSLLD       $5, Y11, Y11
	VPSUBD       Y11, Y10, Y10
	VCVTDQ2PS    Y10, Y10
	VCVTPH2PS    (SI), Y0
	VBROADCASTSS (BX), Y1
	VMULPS       Y1, Y0, Y0
	VFMADD231PS  Y0, Y10, Y9
	ADDQ         $1680, SI
	ADDQ         $256, DI
	ADDQ         $4, BX
	ADDQ         $32, R12
	DECQ         CX
	JNZ          p6k1block

	VMOVUPS Y9, (R14)
	ADDQ    $32, R14
	DECQ    R10
	JNZ     p6k1group
	VZEROUPPER
	RET

// The four-input kernel walks a block's four chunks in a loop rather than
// unrolled: unrolled, its body (some 10 KB of instructions with their long
// displacements) ran from the legacy decoders, not the uop cache, and a
// batch of eight ran at 75-90 GFLOP/s against 110-120 for the row kernels.
// In the loop SI points at the chunk's quants, DI, R8, R9 and AX at its
// inputs and DX at its scale vectors in the frame.

// P6K4DEC rebuilds the quants of runs j of the chunk into r0..r3 (its four
// sub-blocks), with the 0x0f mask in Y15; uses Y12, Y13, Y14.
#define P6K4DEC(j, r0, r1, r2, r3) \
	VMOVDQU p6k0f<>(SB), Y15;        \
	VMOVDQU (32*(j))(SI), Y12;       \
	VMOVDQU (256+32*(j))(SI), Y13;   \
	VPAND   Y15, Y12, r0;            \
	VPSLLW  $4, Y13, Y14;            \
	VPAND   p6k30<>(SB), Y14, Y14;   \
	VPOR    Y14, r0, r0;             \
	VPSRLW  $4, Y12, r2;             \
	VPAND   Y15, r2, r2;             \
	VPAND   p6k30<>(SB), Y13, Y14;   \
	VPOR    Y14, r2, r2;             \
	VMOVDQU (128+32*(j))(SI), Y12;   \
	VPAND   Y15, Y12, r1;            \
	VPSLLW  $2, Y13, Y14;            \
	VPAND   p6k30<>(SB), Y14, Y14;   \
	VPOR    Y14, r1, r1;             \
	VPSRLW  $4, Y12, r3;             \
	VPAND   Y15, r3, r3;             \
	VPSRLW  $2, Y13, Y14;            \
	VPAND   p6k30<>(SB), Y14, Y14;   \
	VPOR    Y14, r3, r3

// P6K4SUB adds sub-block t of runs 2h (in a) and 2h+1 (in b) for the
// input at p to isum, scaled by the scales stored for it at DX.
#define P6K4SUB(p, t, h, a, b, isum) \
	VPBROADCASTD (16*t+8*h)(p), Y15;   \
	VPMADDUBSW   Y15, a, Y12;          \
	VPBROADCASTD (16*t+8*h+4)(p), Y15; \
	VPMADDUBSW   Y15, b, Y13;          \
	VPADDW       Y13, Y12, Y12;        \
	VPMADDWD     (32*t)(DX), Y12, Y12; \
	VPADDD       Y12, isum, isum

#define P6K4INPUT(p, h, isum) \
	P6K4SUB(p, 0, h, Y0, Y4, isum); \
	P6K4SUB(p, 1, h, Y1, Y5, isum); \
	P6K4SUB(p, 2, h, Y2, Y6, isum); \
	P6K4SUB(p, 3, h, Y3, Y7, isum)

// P6K4HALF does runs 2h and 2h+1 of the chunk for the four inputs.
#define P6K4HALF(h) \
	P6K4DEC(2*h, Y0, Y1, Y2, Y3);   \
	P6K4DEC(2*h+1, Y4, Y5, Y6, Y7); \
	P6K4INPUT(DI, h, Y8);           \
	P6K4INPUT(R8, h, Y9);           \
	P6K4INPUT(R9, h, Y10);          \
	P6K4INPUT(AX, h, Y11)

// P6K4SCALES stores chunk c's scales for the sub-blocks (128c..) and the
// pairs (512+64c..) in the frame, from the block at SI.
#define P6K4SCALES(c) \
	VMOVDQU (16+32*c)(SI), Y0;      \
	VPSHUFB p6ksc0<>(SB), Y0, Y1;   \
	VPSRAW  $8, Y1, Y1;             \
	VMOVDQU Y1, (128*c)(SP);        \
	VPSHUFB p6ksc1<>(SB), Y0, Y1;   \
	VPSRAW  $8, Y1, Y1;             \
	VMOVDQU Y1, (128*c+32)(SP);     \
	VPSHUFB p6ksc2<>(SB), Y0, Y1;   \
	VPSRAW  $8, Y1, Y1;             \
	VMOVDQU Y1, (128*c+64)(SP);     \
	VPSHUFB p6ksc3<>(SB), Y0, Y1;   \
	VPSRAW  $8, Y1, Y1;             \
	VMOVDQU Y1, (128*c+96)(SP);     \
	VPSHUFB p6kpair0<>(SB), Y0, Y1; \
	VPSRAW  $8, Y1, Y1;             \
	VMOVDQU Y1, (512+64*c)(SP);     \
	VPSHUFB p6kpair1<>(SB), Y0, Y1; \
	VPSRAW  $8, Y1, Y1;             \
	VMOVDQU Y1, (512+64*c+32)(SP)

// P6K4PAIR adds pair q's sc*sum(qx) for input k of the k4 record at BX to
// Y12.
#define P6K4PAIR(k, q) \
	VPBROADCASTD (16+32*k+4*q)(BX), Y13;   \
	VPMADDWD     (512+32*q)(SP), Y13, Y13; \
	VPADDD       Y13, Y12, Y12

// P6K4FIN finishes the block for input k: isum less 32 times its offset
// sums, then acc(SP) += d*dx*isum with d in Y6.
#define P6K4FIN(k, isum, acc) \
	VPXOR        Y12, Y12, Y12;   \
	P6K4PAIR(k, 0);               \
	P6K4PAIR(k, 1);               \
	P6K4PAIR(k, 2);               \
	P6K4PAIR(k, 3);               \
	P6K4PAIR(k, 4);               \
	P6K4PAIR(k, 5);               \
	P6K4PAIR(k, 6);               \
	P6K4PAIR(k, 7);               \
	VPSLLD       $5, Y12, Y12;    \
	VPSUBD       Y12, isum, isum; \
	VCVTDQ2PS    isum, isum;      \
	VBROADCASTSS (4*k)(BX), Y15;  \
	VMULPS       Y15, Y6, Y14;    \
	VMOVUPS      acc(SP), Y1;     \
	VFMADD231PS  Y14, isum, Y1;   \
	VMOVUPS      Y1, acc(SP)

// func packedQ6Kx4AVX2(w *byte, groups, nb int, y *int8, ystride int, k4 *byte, out *float32, ostride int)
//
// The four inputs' quants are ystride bytes apart, their scales and sums
// of 16 in the k4 records (see qacts); outputs are ostride bytes apart.
// The frame holds the block's sixteen sub-block scale vectors (0..511),
// its eight pair vectors (512..767), the four inputs' float accumulators
// (768..895) and the rows' d (896..927): more than a NOSPLIT function may
// take.
TEXT ·packedQ6Kx4AVX2(SB), 0, $928-64
	MOVQ w+0(FP), SI
	MOVQ groups+8(FP), R10
	MOVQ out+48(FP), R14
	MOVQ ostride+56(FP), R15

p6k4group:
	MOVQ    ystride+32(FP), DX
	MOVQ    y+24(FP), DI
	LEAQ    (DI)(DX*1), R8
	LEAQ    (DI)(DX*2), R9
	LEAQ    (R8)(DX*2), AX
	MOVQ    k4+40(FP), BX
	MOVQ    nb+16(FP), CX
	VXORPS  Y0, Y0, Y0
	VMOVUPS Y0, 768(SP)
	VMOVUPS Y0, 800(SP)
	VMOVUPS Y0, 832(SP)
	VMOVUPS Y0, 864(SP)

p6k4block:
	PREFETCHT0 (P6KPF)(SI)
	PREFETCHT0 (P6KPF+64)(SI)
	PREFETCHT0 (P6KPF+128)(SI)
	P6K4SCALES(0)
	P6K4SCALES(1)
	P6K4SCALES(2)
	P6K4SCALES(3)
	VCVTPH2PS (SI), Y0
	VMOVUPS   Y0, 896(SP)
	VPXOR     Y8, Y8, Y8
	VPXOR     Y9, Y9, Y9
	VPXOR     Y10, Y10, Y10
	VPXOR     Y11, Y11, Y11
	ADDQ      $144, SI
	LEAQ      0(SP), DX
	MOVQ      $4, R13

p6k4chunk:
	// The next block's copy of this chunk, 384 bytes on up to 7 lines.
	PREFETCHT0 (P6KPF)(SI)
	PREFETCHT0 (P6KPF+64)(SI)
	PREFETCHT0 (P6KPF+128)(SI)
	PREFETCHT0 (P6KPF+192)(SI)
	PREFETCHT0 (P6KPF+256)(SI)
	PREFETCHT0 (P6KPF+320)(SI)
	PREFETCHT0 (P6KPF+383)(SI)
	P6K4HALF(0)
	P6K4HALF(1)
	ADDQ $384, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $64, AX
	ADDQ $128, DX
	DECQ R13
	JNZ  p6k4chunk

	VMOVUPS 896(SP), Y6
	P6K4FIN(0, Y8, 768)
	P6K4FIN(1, Y9, 800)
	P6K4FIN(2, Y10, 832)
	P6K4FIN(3, Y11, 864)
	ADDQ    $144, BX
	DECQ    CX
	JNZ     p6k4block

	VMOVUPS 768(SP), Y0
	VMOVUPS 800(SP), Y1
	VMOVUPS 832(SP), Y2
	VMOVUPS 864(SP), Y3
	LEAQ    (R15)(R15*2), R11
	VMOVUPS Y0, (R14)
	VMOVUPS Y1, (R14)(R15*1)
	VMOVUPS Y2, (R14)(R15*2)
	VMOVUPS Y3, (R14)(R11*1)
	ADDQ    $32, R14
	DECQ    R10
	JNZ     p6k4group
	VZEROUPPER
	RET

// The eight-input VNNI kernel works as the Q4_K one does (see
// packed_q4k_amd64.s): two groups of rows in the halves of 512-bit
// registers, one vpdpbusd per input and run of four quants, a sub-block's
// int32 sums (Z16..Z23) multiplied by the rows' signed scales with
// vpmulld and added to the block's sums (Z24..Z31). The -32 offset goes in
// through vpdpwssd: pairs of scales times 32 against the input's pairs of
// negated sums of 16. The block's integers are those of the 256-bit
// kernels and the float step is theirs, so the outputs are the same bit
// for bit. A block is walked in a loop over its four chunks (the body of
// one chunk is some 2.5 KB of instructions), SI at the chunk's quants, DI,
// R8 and R9 at its inputs, BX 8 bytes further into the input record per
// chunk, R11 counting; the chunk's scale vector is in Z4, the later ones in
// Z5..Z7, moved down a register per chunk. The rows' d stay in Z13, the
// eight inputs' float sums in the frame.

// V6HI<t> moves the high bits of sub-block t in the high run h to bits 4-5
// of z.
#define V6HI0(h, z) \
	VPSLLW      $4, h, z; \
	VPANDD.BCST p6k30<>(SB), z, z

#define V6HI1(h, z) \
	VPSLLW      $2, h, z; \
	VPANDD.BCST p6k30<>(SB), z, z

#define V6HI2(h, z) \
	VPANDD.BCST p6k30<>(SB), h, z

#define V6HI3(h, z) \
	VPSRLW      $2, h, z; \
	VPANDD.BCST p6k30<>(SB), z, z

// V6LOL and V6LOH load low run k of both groups into z (y its low half) and
// keep its low or high nibbles.
#define V6LOL(k, y, z) \
	VZ8LOAD((32*(k)), y, z); \
	VPANDD Z15, z, z

#define V6LOH(k, y, z) \
	VZ8LOAD((32*(k)), y, z); \
	VPSRLW $4, z, z;       \
	VPANDD Z15, z, z

// V6DEC rebuilds into z the 6-bit quants of low run k (nibbles by lo) and
// high run h (bits by hi): four elements of one sub-block per row.
#define V6DEC(lo, hi, k, h, y, z) \
	lo(k, y, z);     \
	hi(h, Z12);      \
	VPORD Z12, z, z

// V6ADD adds sub-block sums times the scales in Z12 to a block sum.
#define V6ADD(sum, isum) \
	VPMULLD Z12, sum, sum; \
	VPADDD  sum, isum, isum

// V6Z8SUB does sub-block t of the chunk for the eight inputs: its low bits
// are the lo nibbles of low runs k0..k0+3, its high bits those hi takes
// from the high runs in Z8..Z11, its scales those the shuffle ctl picks.
#define V6Z8SUB(lo, hi, t, k0, ctl) \
	V6DEC(lo, hi, k0, Z8, Y0, Z0);     \
	V6DEC(lo, hi, k0+1, Z9, Y1, Z1);   \
	V6DEC(lo, hi, k0+2, Z10, Y2, Z2);  \
	V6DEC(lo, hi, k0+3, Z11, Y3, Z3);  \
	VPXORD  Z16, Z16, Z16;             \
	VPXORD  Z17, Z17, Z17;             \
	VPXORD  Z18, Z18, Z18;             \
	VPXORD  Z19, Z19, Z19;             \
	VPXORD  Z20, Z20, Z20;             \
	VPXORD  Z21, Z21, Z21;             \
	VPXORD  Z22, Z22, Z22;             \
	VPXORD  Z23, Z23, Z23;             \
	VZ8MUL8((16*t), Z0);               \
	VZ8MUL8((16*t+4), Z1);             \
	VZ8MUL8((16*t+8), Z2);             \
	VZ8MUL8((16*t+12), Z3);            \
	VPSHUFB ctl, Z4, Z12;              \
	VPSRAD  $24, Z12, Z12;             \
	V6ADD(Z16, Z24);                   \
	V6ADD(Z17, Z25);                   \
	V6ADD(Z18, Z26);                   \
	V6ADD(Z19, Z27);                   \
	V6ADD(Z20, Z28);                   \
	V6ADD(Z21, Z29);                   \
	V6ADD(Z22, Z30);                   \
	V6ADD(Z23, Z31)

// V6HIGHRUNS loads the chunk's high runs of both groups into Z8..Z11.
#define V6HIGHRUNS \
	VZ8LOAD(256, Y8, Z8);  \
	VZ8LOAD(288, Y9, Z9);  \
	VZ8LOAD(320, Y10, Z10); \
	VZ8LOAD(352, Y11, Z11)

// V6PAIR8 adds, for the eight inputs, pair q of the chunk's sub-blocks'
// 32*sc times the negated input sums of 16 (the record's pairs at
// 160+32k+4q from BX, which moves 8 bytes a chunk) to the block sums.
#define V6PAIR8(q, ctl) \
	VPSHUFB       ctl, Z4, Z12;               \
	VPSRAW        $8, Z12, Z12;               \
	VPSLLW        $5, Z12, Z12;               \
	VPDPWSSD.BCST (160+4*q)(BX), Z12, Z24;    \
	VPDPWSSD.BCST (192+4*q)(BX), Z12, Z25;    \
	VPDPWSSD.BCST (224+4*q)(BX), Z12, Z26;    \
	VPDPWSSD.BCST (256+4*q)(BX), Z12, Z27;    \
	VPDPWSSD.BCST (288+4*q)(BX), Z12, Z28;    \
	VPDPWSSD.BCST (320+4*q)(BX), Z12, Z29;    \
	VPDPWSSD.BCST (352+4*q)(BX), Z12, Z30;    \
	VPDPWSSD.BCST (384+4*q)(BX), Z12, Z31

// V6PREF prefetches the lines of a chunk ahead (384 bytes, on up to
// seven lines), for both groups.
#define V6PREF \
	VZPREF(0);   \
	VZPREF(64);  \
	VZPREF(128); \
	VZPREF(192); \
	VZPREF(256); \
	VZPREF(320); \
	VZPREF(383)

// V6BLOCKSTART widens both groups' d into Z13, loads their four scale
// vectors into Z4..Z7, clears the first four inputs' block sums and moves
// SI to the quants.
#define V6BLOCKSTART \
	VZPREF(0);                            \
	VZPREF(64);                           \
	VZPREF(128);                          \
	VMOVDQU     (SI), X13;                \
	VINSERTI128 $1, (SI)(AX*1), Y13, Y13; \
	VCVTPH2PS   Y13, Z13;                 \
	VZ8LOAD(16, Y4, Z4);                  \
	VZ8LOAD(48, Y5, Z5);                  \
	VZ8LOAD(80, Y6, Z6);                  \
	VZ8LOAD(112, Y7, Z7);                 \
	VPXORD      Z24, Z24, Z24;            \
	VPXORD      Z25, Z25, Z25;            \
	VPXORD      Z26, Z26, Z26;            \
	VPXORD      Z27, Z27, Z27;            \
	ADDQ        $144, SI;                 \
	MOVQ        $4, R11

// V6NEXTCHUNK moves the scale vectors down and the pointers to the next
// chunk.
#define V6NEXTCHUNK \
	VMOVDQA64 Z5, Z4; \
	VMOVDQA64 Z6, Z5; \
	VMOVDQA64 Z7, Z6; \
	ADDQ      $384, SI; \
	ADDQ      $64, DI;  \
	ADDQ      $64, R8;  \
	ADDQ      $64, R9;  \
	ADDQ      $8, BX

// V6Z8FIN adds d*dx*isum of input k to its float sums at acc(SP).
#define V6Z8FIN(k, isum, acc) \
	VCVTDQ2PS   isum, isum;        \
	VMULPS.BCST (4*k)(BX), Z13, Z12; \
	VMOVUPS     acc(SP), Z14;      \
	VFMADD231PS Z12, isum, Z14;    \
	VMOVUPS     Z14, acc(SP)

// func packedQ6Kx8VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)
//
// The frame holds the eight inputs' float sums, 64 bytes each.
TEXT ·packedQ6Kx8VNNI(SB), 0, $512-80
	VZCONSTS(p6k0f<>(SB))

v6k8set:
	VZSETARGS($1680)

v6k8group:
	VZ8SINGLE(v6k8pair)

v6k8pair:
	VZPASSARGS
	PK8INPUTS
	LEAQ    (R13)(AX*1), R12
	VZ8FRAMECLEAR

v6k8block:
	V6BLOCKSTART
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31

v6k8chunk:
	V6PREF
	V6HIGHRUNS
	V6Z8SUB(V6LOL, V6HI0, 0, 0, p6kdw0<>(SB))
	V6Z8SUB(V6LOL, V6HI1, 1, 4, p6kdw1<>(SB))
	V6Z8SUB(V6LOH, V6HI2, 2, 0, p6kdw2<>(SB))
	V6Z8SUB(V6LOH, V6HI3, 3, 4, p6kdw3<>(SB))
	V6PAIR8(0, p6kpair0<>(SB))
	V6PAIR8(1, p6kpair1<>(SB))
	V6NEXTCHUNK
	DECQ R11
	JNZ  v6k8chunk

	SUBQ $32, BX
	V6Z8FIN(0, Z24, 0)
	V6Z8FIN(1, Z25, 64)
	V6Z8FIN(2, Z26, 128)
	V6Z8FIN(3, Z27, 192)
	V6Z8FIN(4, Z28, 256)
	V6Z8FIN(5, Z29, 320)
	V6Z8FIN(6, Z30, 384)
	V6Z8FIN(7, Z31, 448)
	ADDQ $Q8KRECORD, BX
	DECQ CX
	JNZ  v6k8block

	VZ8FRAMEEND(v6k8group, v6k8set)

// The four-input kernel is the eight-input one for the last four inputs
// of a batch (starting a group of eight, whose records' first halves it
// reads), with two chains per input's sub-block sums (even runs in
// Z16..Z19, odd in Z20..Z23) and the float sums in Z28..Z31.

// V6Z4SUB is V6Z8SUB for four inputs.
#define V6Z4SUB(lo, hi, t, k0, ctl) \
	V6DEC(lo, hi, k0, Z8, Y0, Z0);                \
	V6DEC(lo, hi, k0+1, Z9, Y1, Z1);              \
	V6DEC(lo, hi, k0+2, Z10, Y2, Z2);             \
	V6DEC(lo, hi, k0+3, Z11, Y3, Z3);             \
	VPXORD  Z16, Z16, Z16;                        \
	VPXORD  Z17, Z17, Z17;                        \
	VPXORD  Z18, Z18, Z18;                        \
	VPXORD  Z19, Z19, Z19;                        \
	VPXORD  Z20, Z20, Z20;                        \
	VPXORD  Z21, Z21, Z21;                        \
	VPXORD  Z22, Z22, Z22;                        \
	VPXORD  Z23, Z23, Z23;                        \
	VZ4MUL4((16*t), Z0, Z16, Z17, Z18, Z19);      \
	VZ4MUL4((16*t+4), Z1, Z20, Z21, Z22, Z23);    \
	VZ4MUL4((16*t+8), Z2, Z16, Z17, Z18, Z19);    \
	VZ4MUL4((16*t+12), Z3, Z20, Z21, Z22, Z23);   \
	VPADDD  Z20, Z16, Z16;                        \
	VPADDD  Z21, Z17, Z17;                        \
	VPADDD  Z22, Z18, Z18;                        \
	VPADDD  Z23, Z19, Z19;                        \
	VPSHUFB ctl, Z4, Z12;                         \
	VPSRAD  $24, Z12, Z12;                        \
	V6ADD(Z16, Z24);                              \
	V6ADD(Z17, Z25);                              \
	V6ADD(Z18, Z26);                              \
	V6ADD(Z19, Z27)

// V6PAIR4 is V6PAIR8 for four inputs.
#define V6PAIR4(q, ctl) \
	VPSHUFB       ctl, Z4, Z12;            \
	VPSRAW        $8, Z12, Z12;            \
	VPSLLW        $5, Z12, Z12;            \
	VPDPWSSD.BCST (160+4*q)(BX), Z12, Z24; \
	VPDPWSSD.BCST (192+4*q)(BX), Z12, Z25; \
	VPDPWSSD.BCST (224+4*q)(BX), Z12, Z26; \
	VPDPWSSD.BCST (256+4*q)(BX), Z12, Z27

// V6Z4FIN adds d*dx*isum of input k to its float sums facc.
#define V6Z4FIN(k, isum, facc) \
	VCVTDQ2PS   isum, isum;          \
	VMULPS.BCST (4*k)(BX), Z13, Z12; \
	VFMADD231PS Z12, isum, facc

// func packedQ6Kx4VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)
TEXT ·packedQ6Kx4VNNI(SB), NOSPLIT, $0-72
	VZARGS($1680, p6k0f<>(SB))

v6k4group:
	VZ8SINGLE(v6k4pair)

v6k4pair:
	VZPASSARGS
	VZ4PASS(Z28, Z29, Z30, Z31)

v6k4block:
	V6BLOCKSTART

v6k4chunk:
	V6PREF
	V6HIGHRUNS
	V6Z4SUB(V6LOL, V6HI0, 0, 0, p6kdw0<>(SB))
	V6Z4SUB(V6LOL, V6HI1, 1, 4, p6kdw1<>(SB))
	V6Z4SUB(V6LOH, V6HI2, 2, 0, p6kdw2<>(SB))
	V6Z4SUB(V6LOH, V6HI3, 3, 4, p6kdw3<>(SB))
	V6PAIR4(0, p6kpair0<>(SB))
	V6PAIR4(1, p6kpair1<>(SB))
	V6NEXTCHUNK
	DECQ R11
	JNZ  v6k4chunk

	SUBQ $32, BX
	V6Z4FIN(0, Z24, Z28)
	V6Z4FIN(1, Z25, Z29)
	V6Z4FIN(2, Z26, Z30)
	V6Z4FIN(3, Z27, Z31)
	ADDQ $Q8KRECORD, BX
	DECQ CX
	JNZ  v6k4block

	VZ4END(v6k4group, Z28, Z29, Z30, Z31)
