//go:build amd64 && !purego

#include "textflag.h"
#include "vnni_amd64.h"

// Kernels of packed matrices of the 32-element types (see packed.go for the
// layouts), Q4_0's first. Each vector lane is one of a group's eight rows:
// per block, the four 32-byte runs of quants split into eight vectors of
// unsigned nibbles (Y0..Y7, four quants of every row each), vpbroadcastd
// hands the matching four input quants to every lane, and vpmaddubsw
// multiplies them. The eight int16 results are summed in int16 before one
// vpmaddwd widens them: each is at most 2*15*127, so the sum of eight stays
// below 32767. The offset 8 of the nibbles comes off as 8 times the input
// block's sum (is), and one conversion and multiply-add scale all eight
// rows.

DATA pk0f<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA pk0f<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA pk0f<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA pk0f<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL pk0f<>(SB), RODATA|NOPTR, $32

DATA pkones<>+0(SB)/8, $0x0001000100010001
DATA pkones<>+8(SB)/8, $0x0001000100010001
DATA pkones<>+16(SB)/8, $0x0001000100010001
DATA pkones<>+24(SB)/8, $0x0001000100010001
GLOBL pkones<>(SB), RODATA|NOPTR, $32

// PKSCALE converts the int32 block sums in isum to float32 and adds them,
// times the input block's scale at d and the eight rows' scales in scales,
// to facc (tmp is clobbered). Every packed kernel ends a block with it.
#define PKSCALE(isum, d, scales, tmp, facc) \
	VCVTDQ2PS    isum, isum;      \
	VBROADCASTSS d, tmp;          \
	VMULPS       scales, tmp, tmp; \
	VFMADD231PS  tmp, isum, facc

// PK4INPUTS points R8, R9 and AX at the second to fourth inputs of a
// four-input kernel, DX bytes apart from the first at DI.
#define PK4INPUTS \
	LEAQ (DI)(DX*1), R8; \
	LEAQ (DI)(DX*2), R9; \
	LEAQ (R8)(DX*2), AX

// PK4STORE stores a four-input kernel's accumulators for one group at R14,
// the inputs' outputs R15 bytes apart (R11 = 3*R15).
#define PK4STORE(a0, a1, a2, a3) \
	VMOVUPS a0, (R14);        \
	VMOVUPS a1, (R14)(R15*1); \
	VMOVUPS a2, (R14)(R15*2); \
	VMOVUPS a3, (R14)(R11*1)

// PKDECODE splits the block at SI into the eight rows' fp16 scales as
// float32 (Y14) and the nibble vectors Y0..Y7: Yk the low and Y(4+k) the
// high nibbles of the k-th run, elements 4k..4k+3 and 16+4k..16+4k+3.
//
// mask is the 0x0f byte mask, a register where the kernel has one free.
#define PKDECODE(mask) \
	VCVTPH2PS (SI), Y14;       \
	VMOVDQU   16(SI), Y0;      \
	VMOVDQU   48(SI), Y1;      \
	VMOVDQU   80(SI), Y2;      \
	VMOVDQU   112(SI), Y3;     \
	VPSRLW    $4, Y0, Y4;      \
	VPSRLW    $4, Y1, Y5;      \
	VPSRLW    $4, Y2, Y6;      \
	VPSRLW    $4, Y3, Y7;      \
	VPAND     mask, Y0, Y0; \
	VPAND     mask, Y1, Y1; \
	VPAND     mask, Y2, Y2; \
	VPAND     mask, Y3, Y3; \
	VPAND     mask, Y4, Y4; \
	VPAND     mask, Y5, Y5; \
	VPAND     mask, Y6, Y6; \
	VPAND     mask, Y7, Y7

// PK4SUMS leaves in Y12 the int32 products of the nibbles in Y0..Y7 with
// the 32 input quants at register y, using Y13 and Y15; ones holds the
// int16 ones (a register where the kernel has one free, else memory).
#define PK4SUMS(y, ones) \
	VPBROADCASTD 0(y), Y15;        \
	VPMADDUBSW   Y15, Y0, Y12;    \
	VPBROADCASTD 4(y), Y15;        \
	VPMADDUBSW   Y15, Y1, Y13;    \
	VPADDW       Y13, Y12, Y12;   \
	VPBROADCASTD 8(y), Y15;        \
	VPMADDUBSW   Y15, Y2, Y13;    \
	VPADDW       Y13, Y12, Y12;   \
	VPBROADCASTD 12(y), Y15;       \
	VPMADDUBSW   Y15, Y3, Y13;    \
	VPADDW       Y13, Y12, Y12;   \
	VPBROADCASTD 16(y), Y15;       \
	VPMADDUBSW   Y15, Y4, Y13;    \
	VPADDW       Y13, Y12, Y12;   \
	VPBROADCASTD 20(y), Y15;       \
	VPMADDUBSW   Y15, Y5, Y13;    \
	VPADDW       Y13, Y12, Y12;   \
	VPBROADCASTD 24(y), Y15;       \
	VPMADDUBSW   Y15, Y6, Y13;    \
	VPADDW       Y13, Y12, Y12;   \
	VPBROADCASTD 28(y), Y15;       \
	VPMADDUBSW   Y15, Y7, Y13;    \
	VPADDW       Y13, Y12, Y12;   \
	VPMADDWD     ones, Y12, Y12

// PKINPUT multiplies the decoded Q4_0 block with the input block whose
// quants start at register y, whose scale is at d and whose quant sum is
// at s, and adds the eight rows' products to acc, using Y12, Y13 and Y15.
#define PKINPUT(y, d, s, acc, ones) \
	PK4SUMS(y, ones);             \
	VPBROADCASTD s, Y15;          \
	VPSLLD       $3, Y15, Y15;    \
	VPSUBD       Y15, Y12, Y12;   \
	PKSCALE(Y12, d, Y14, Y15, acc)

// Packed Q5_0 (see nibbleLayout): the Q4_0 kernels' decoding with the fifth
// bits merged in, an offset of 16, and the pairs' int16 sums widened after
// every four runs instead of eight: a pair is at most 2*31*128 = 7936 in
// magnitude, so four stay below 32767 and eight might not.

DATA pk10<>+0(SB)/8, $0x1010101010101010
DATA pk10<>+8(SB)/8, $0x1010101010101010
DATA pk10<>+16(SB)/8, $0x1010101010101010
DATA pk10<>+24(SB)/8, $0x1010101010101010
GLOBL pk10<>(SB), RODATA|NOPTR, $32

// PK5HIGH merges the fifth bits at 144(SI) into the nibble vectors Y0..Y7
// that PKDECODE left: a 16-bit shift brings vector k's bit (bit k of each
// byte for Yk, bit 4+k for Y(4+k)) to bit 4, the 0x10 byte mask m10 keeps
// it. v and t are scratch.
#define PK5HIGH(m10, v, t) \
	VMOVDQU 144(SI), v; \
	VPSLLW  $4, v, t;   \
	VPAND   m10, t, t;  \
	VPOR    t, Y0, Y0;  \
	VPSLLW  $3, v, t;   \
	VPAND   m10, t, t;  \
	VPOR    t, Y1, Y1;  \
	VPSLLW  $2, v, t;   \
	VPAND   m10, t, t;  \
	VPOR    t, Y2, Y2;  \
	VPSLLW  $1, v, t;   \
	VPAND   m10, t, t;  \
	VPOR    t, Y3, Y3;  \
	VPAND   m10, v, t;  \
	VPOR    t, Y4, Y4;  \
	VPSRLW  $1, v, t;   \
	VPAND   m10, t, t;  \
	VPOR    t, Y5, Y5;  \
	VPSRLW  $2, v, t;   \
	VPAND   m10, t, t;  \
	VPOR    t, Y6, Y6;  \
	VPSRLW  $3, v, t;   \
	VPAND   m10, t, t;  \
	VPOR    t, Y7, Y7

// PK5PAIRS adds to the int16 pair sums in sum the products of the 5-bit
// quants in w with the input quants at o(y), using Y15.
#define PK5PAIRS(y, o, w, sum) \
	VPBROADCASTD o(y), Y15;  \
	VPMADDUBSW   Y15, w, Y15; \
	VPADDW       Y15, sum, sum

// PK5SUMS leaves in Y12 the int32 products of the 5-bit quants in Y0..Y7
// with the input quants at y, using Y13 and Y15.
#define PK5SUMS(y, ones) \
	VPBROADCASTD 0(y), Y15;       \
	VPMADDUBSW   Y15, Y0, Y12;    \
	PK5PAIRS(y, 4, Y1, Y12);      \
	PK5PAIRS(y, 8, Y2, Y12);      \
	PK5PAIRS(y, 12, Y3, Y12);     \
	VPBROADCASTD 16(y), Y15;      \
	VPMADDUBSW   Y15, Y4, Y13;    \
	PK5PAIRS(y, 20, Y5, Y13);     \
	PK5PAIRS(y, 24, Y6, Y13);     \
	PK5PAIRS(y, 28, Y7, Y13);     \
	VPMADDWD     ones, Y12, Y12;  \
	VPMADDWD     ones, Y13, Y13;  \
	VPADDD       Y13, Y12, Y12

// PK5INPUT is PKINPUT for the Q5_0 block decoded in Y0..Y7 (scales in
// Y14), using Y12, Y13 and Y15.
#define PK5INPUT(y, d, s, acc, ones) \
	PK5SUMS(y, ones);             \
	VPBROADCASTD s, Y15;          \
	VPSLLD       $4, Y15, Y15;    \
	VPSUBD       Y15, Y12, Y12;   \
	PKSCALE(Y12, d, Y14, Y15, acc)

// PKMINPUT is PKINPUT for a Q4_1 or Q5_1 block (sums: PK4SUMS or
// PK5SUMS), whose quants have no offset: the eight rows' fp16 minimums at
// mo(SI) times the input's Q8_1 sum at s are added after the scaled
// products.
#define PKMINPUT(y, d, s, mo, acc, ones, sums) \
	sums(y, ones);                \
	PKSCALE(Y12, d, Y14, Y15, acc); \
	VCVTPH2PS    mo(SI), Y13;     \
	VBROADCASTSS s, Y15;          \
	VFMADD231PS  Y15, Y13, acc

// The kernels of the four nibble types (Q4_0, Q4_1, Q5_0, Q5_1) share
// their bodies, which take the type's block bytes bb, the fifth-bit merge
// (PK5HIGH, or NOHIGH), the input's products (PKINPUT, PK5INPUT, PKMIN144
// or PKMIN176, all with PKINPUT's arguments) and the name of the sums
// argument (is, or s for the Q8_1 sums of the types with a minimum).
#define NOHIGH(m10, v, t)
#define PKMIN144(y, d, s, acc, ones) PKMINPUT(y, d, s, 144, acc, ones, PK4SUMS)
#define PKMIN176(y, d, s, acc, ones) PKMINPUT(y, d, s, 176, acc, ones, PK5SUMS)

// PKSETUP and VNSETUP load the one-input kernels' constants: the nibble
// mask (Y9), the 16-bit ones of vpmaddubsw's sums (Y10, AVX2 only) and the
// fifth bits' mask (Y11).
#define PKSETUP \
	VMOVDQU pk0f<>(SB), Y9;   \
	VMOVDQU pkones<>(SB), Y10; \
	VMOVDQU pk10<>(SB), Y11
#define VNSETUP \
	VMOVDQU pk0f<>(SB), Y9; \
	VMOVDQU pk10<>(SB), Y11

// NIBONE is the one-input kernel of both sets; setup loads its constants
// (PKSETUP or VNSETUP):
// func(w *byte, groups, nb int, y *int8, yd *float32, sums *int32, out *float32)
#define NIBONE(name, bb, setup, high, input, sums, lgroup, lblock) \
TEXT name(SB), NOSPLIT, $0-56;      \
	MOVQ    w+0(FP), SI;              \
	MOVQ    groups+8(FP), R10;        \
	MOVQ    out+48(FP), R14;          \
	setup;                            \
lgroup:                             \
	MOVQ   y+24(FP), DI;              \
	MOVQ   yd+32(FP), BX;             \
	MOVQ   sums+40(FP), R12;          \
	MOVQ   nb+16(FP), CX;             \
	VXORPS Y8, Y8, Y8;                \
lblock:                             \
	PREFETCHT1 512(SI);               \
	PREFETCHT1 576(SI);               \
	PREFETCHT1 640(SI);               \
	PKDECODE(Y9);                     \
	high(Y11, Y12, Y13);              \
	input(DI, (BX), (R12), Y8, Y10);  \
	ADDQ $bb, SI;                     \
	ADDQ $32, DI;                     \
	ADDQ $4, BX;                      \
	ADDQ $4, R12;                     \
	DECQ CX;                          \
	JNZ  lblock;                      \
	VMOVUPS Y8, (R14);                \
	ADDQ    $32, R14;                 \
	DECQ    R10;                      \
	JNZ     lgroup;                   \
	VZEROUPPER;                       \
	RET

// PKNIBFOUR is the four-input kernel: the four inputs' quants are ystride
// bytes apart, their scales and sums interleaved (d4, sums: four per
// block), outputs ostride bytes apart:
// func(w *byte, groups, nb int, y *int8, ystride int, d4 *float32, sums *int32, out *float32, ostride, pf int)
#define PKNIBFOUR(name, bb, high, input, sums, lgroup, lblock) \
TEXT name(SB), NOSPLIT, $0-80;                      \
	MOVQ w+0(FP), SI;                                 \
	MOVQ pf+72(FP), R13;                              \
	MOVQ groups+8(FP), R10;                           \
	MOVQ ystride+32(FP), DX;                          \
	MOVQ out+56(FP), R14;                             \
	MOVQ ostride+64(FP), R15;                         \
	LEAQ (R15)(R15*2), R11;                           \
lgroup:                                             \
	MOVQ   y+24(FP), DI;                              \
	PK4INPUTS;                                        \
	MOVQ   d4+40(FP), BX;                             \
	MOVQ   sums+48(FP), R12;                          \
	MOVQ   nb+16(FP), CX;                             \
	VXORPS Y8, Y8, Y8;                                \
	VXORPS Y9, Y9, Y9;                                \
	VXORPS Y10, Y10, Y10;                             \
	VXORPS Y11, Y11, Y11;                             \
lblock:                                             \
	PREFETCHT1 0(SI)(R13*1);                          \
	PREFETCHT1 64(SI)(R13*1);                         \
	PREFETCHT1 128(SI)(R13*1);                        \
	PKDECODE(pk0f<>(SB));                             \
	high(pk10<>(SB), Y15, Y12);                       \
	input(DI, (BX), (R12), Y8, pkones<>(SB));         \
	input(R8, 4(BX), 4(R12), Y9, pkones<>(SB));       \
	input(R9, 8(BX), 8(R12), Y10, pkones<>(SB));      \
	input(AX, 12(BX), 12(R12), Y11, pkones<>(SB));    \
	ADDQ $bb, SI;                                     \
	ADDQ $32, DI;                                     \
	ADDQ $32, R8;                                     \
	ADDQ $32, R9;                                     \
	ADDQ $32, AX;                                     \
	ADDQ $16, BX;                                     \
	ADDQ $16, R12;                                    \
	DECQ CX;                                          \
	JNZ  lblock;                                      \
	PK4STORE(Y8, Y9, Y10, Y11);                       \
	ADDQ    $32, R14;                                 \
	DECQ    R10;                                      \
	JNZ     lgroup;                                   \
	VZEROUPPER;                                       \
	RET

NIBONE(·packedQ4_0AVX2, 144, PKSETUP, NOHIGH, PKINPUT, is, pq40one, pq40oneblock)
PKNIBFOUR(·packedQ4_0x4AVX2, 144, NOHIGH, PKINPUT, is4, pq40four, pq40fourblock)
NIBONE(·packedQ4_1AVX2, 160, PKSETUP, NOHIGH, PKMIN144, s, pq41one, pq41oneblock)
PKNIBFOUR(·packedQ4_1x4AVX2, 160, NOHIGH, PKMIN144, s4, pq41four, pq41fourblock)
NIBONE(·packedQ5_0AVX2, 176, PKSETUP, PK5HIGH, PK5INPUT, is, pq50one, pq50oneblock)
PKNIBFOUR(·packedQ5_0x4AVX2, 176, PK5HIGH, PK5INPUT, is4, pq50four, pq50fourblock)
NIBONE(·packedQ5_1AVX2, 192, PKSETUP, PK5HIGH, PKMIN176, s, pq51one, pq51oneblock)
PKNIBFOUR(·packedQ5_1x4AVX2, 192, PK5HIGH, PKMIN176, s4, pq51four, pq51fourblock)

// PK8DECODE loads the Q8_0 block at SI: the eight rows' scales as float32
// (Y14) and the absolute values of the eight runs of quants (Y0..Y7; the
// signed quants stay in memory for vpsignb).
#define PK8DECODE \
	VCVTPH2PS (SI), Y14;   \
	VPABSB    16(SI), Y0;  \
	VPABSB    48(SI), Y1;  \
	VPABSB    80(SI), Y2;  \
	VPABSB    112(SI), Y3; \
	VPABSB    144(SI), Y4; \
	VPABSB    176(SI), Y5; \
	VPABSB    208(SI), Y6; \
	VPABSB    240(SI), Y7

// PK8RUN adds to Y12 the int32 products of run k (|w| in yw, w at wo(SI))
// with the four input quants at yo(y), using Y13 and Y15 (Y9 holds the
// int16 ones).
#define PK8RUN(y, yo, wo, yw) \
	VPBROADCASTD yo(y), Y15;       \
	VPSIGNB      wo(SI), Y15, Y15; \
	VPMADDUBSW   Y15, yw, Y13;     \
	VPMADDWD     Y9, Y13, Y13;     \
	VPADDD       Y13, Y12, Y12

// PK8INPUT is PKINPUT for the decoded Q8_0 block: each run's products are
// widened to int32 at once (|w|*y pairs reach 32512, so two runs' int16
// sums could overflow).
#define PK8INPUT(y, d, acc) \
	VPBROADCASTD 0(y), Y15;        \
	VPSIGNB      16(SI), Y15, Y15; \
	VPMADDUBSW   Y15, Y0, Y13;     \
	VPMADDWD     Y9, Y13, Y12;     \
	PK8RUN(y, 4, 48, Y1);          \
	PK8RUN(y, 8, 80, Y2);          \
	PK8RUN(y, 12, 112, Y3);        \
	PK8RUN(y, 16, 144, Y4);        \
	PK8RUN(y, 20, 176, Y5);        \
	PK8RUN(y, 24, 208, Y6);        \
	PK8RUN(y, 28, 240, Y7);        \
	PKSCALE(Y12, d, Y14, Y15, acc)

// func packedQ8_0AVX2(w *byte, groups, nb int, y *int8, yd *float32, is *int32, out *float32)
//
// is is not read (Q8_0 quants have no offset): the signature is the one
// every packed one-input kernel shares.
TEXT ·packedQ8_0AVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ groups+8(FP), R10
	MOVQ out+48(FP), R14
	VMOVDQU pkones<>(SB), Y9

pk81group:
	MOVQ   y+24(FP), DI
	MOVQ   yd+32(FP), BX
	MOVQ   nb+16(FP), CX
	VXORPS Y8, Y8, Y8

pk81block:
	// A block is 4.25 cache lines: five prefetches keep every line of
	// the stream requested ahead.
	PREFETCHT1 512(SI)
	PREFETCHT1 576(SI)
	PREFETCHT1 640(SI)
	PREFETCHT1 704(SI)
	PREFETCHT1 768(SI)
	PK8DECODE
	PK8INPUT(DI, (BX), Y8)
	ADDQ $272, SI
	ADDQ $32, DI
	ADDQ $4, BX
	DECQ CX
	JNZ  pk81block

	VMOVUPS Y8, (R14)
	ADDQ    $32, R14
	DECQ    R10
	JNZ     pk81group
	VZEROUPPER
	RET

// PK8RUN4 multiplies run k (w loaded from wo(SI) into Y0, |w| into Y1)
// with the four inputs' quants at yo, adding each input's int32 products to
// its accumulator (Y4..Y7). Run by run, rather than all eight |w| runs held
// across the inputs, the weights are read once and the ones stay in Y15, so
// an input costs one load per run instead of three: the kernel was bound by
// loads (+20% on one core, bit for bit the same sums).
#define PK8RUN4(yo, wo) \
	VMOVDQU wo(SI), Y0;             \
	VPABSB  Y0, Y1;                 \
	PK8PAIR(yo, DI, R8, Y4, Y5);    \
	PK8PAIR(yo, R9, AX, Y6, Y7)

// PK8PAIR is PK8RUN4's work for two inputs (quants at yo(ya), yo(yb);
// accumulators acca, accb), interleaved so their chains overlap.
#define PK8PAIR(yo, ya, yb, acca, accb) \
	VPBROADCASTD yo(ya), Y2;       \
	VPBROADCASTD yo(yb), Y3;       \
	VPSIGNB      Y0, Y2, Y2;       \
	VPSIGNB      Y0, Y3, Y3;       \
	VPMADDUBSW   Y2, Y1, Y2;       \
	VPMADDUBSW   Y3, Y1, Y3;       \
	VPMADDWD     Y15, Y2, Y2;      \
	VPMADDWD     Y15, Y3, Y3;      \
	VPADDD       Y2, acca, acca;   \
	VPADDD       Y3, accb, accb

// func packedQ8_0x4AVX2(w *byte, groups, nb int, y *int8, ystride int, d4 *float32, is4 *int32, out *float32, ostride, pf int)
//
// is4 is not read, as is in packedQ8_0AVX2.
TEXT ·packedQ8_0x4AVX2(SB), NOSPLIT, $0-80
	MOVQ    w+0(FP), SI
	MOVQ    pf+72(FP), R13
	MOVQ    groups+8(FP), R10
	MOVQ    ystride+32(FP), DX
	MOVQ    out+56(FP), R14
	MOVQ    ostride+64(FP), R15
	LEAQ    (R15)(R15*2), R11
	VMOVDQU pkones<>(SB), Y15

pk84group:
	MOVQ   y+24(FP), DI
	PK4INPUTS
	MOVQ   d4+40(FP), BX
	MOVQ   nb+16(FP), CX
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

pk84block:
	PREFETCHT1 0(SI)(R13*1)
	PREFETCHT1 64(SI)(R13*1)
	PREFETCHT1 128(SI)(R13*1)
	PREFETCHT1 192(SI)(R13*1)
	PREFETCHT1 256(SI)(R13*1)
	VPXOR     Y4, Y4, Y4
	VPXOR     Y5, Y5, Y5
	VPXOR     Y6, Y6, Y6
	VPXOR     Y7, Y7, Y7
	PK8RUN4(0, 16)
	PK8RUN4(4, 48)
	PK8RUN4(8, 80)
	PK8RUN4(12, 112)
	PK8RUN4(16, 144)
	PK8RUN4(20, 176)
	PK8RUN4(24, 208)
	PK8RUN4(28, 240)
	VCVTPH2PS (SI), Y12
	PKSCALE(Y4, (BX), Y12, Y13, Y8)
	PKSCALE(Y5, 4(BX), Y12, Y13, Y9)
	PKSCALE(Y6, 8(BX), Y12, Y13, Y10)
	PKSCALE(Y7, 12(BX), Y12, Y13, Y11)
	ADDQ $272, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, AX
	ADDQ $16, BX
	DECQ CX
	JNZ  pk84block

	PK4STORE(Y8, Y9, Y10, Y11)
	ADDQ    $32, R14
	DECQ    R10
	JNZ     pk84group
	VZEROUPPER
	RET

// Packed kernels of the 32-element types for CPUs with AVX512-VNNI: one input on
// 256-bit registers (AVX512VL), four and eight on 512-bit ones (below).
// Layouts and lanes are those of packed_amd64.s; what changes is the
// multiply.
// vpdpbusd multiplies unsigned bytes by signed bytes and adds each group of
// four products to an int32 lane in one instruction, where AVX2 needs
// vpmaddubsw, vpmaddwd and vpaddd, and its EVEX form broadcasts the four
// input quants from memory itself. The int32 sums, and so every output,
// are bit for bit those of the AVX2 kernels.
//
// Q8_0 weights are signed: each run is made unsigned by flipping its sign
// bits (w XOR 0x80 = w + 128), one instruction shared by all inputs, and
// 128 times the input block's quant sum comes off at the end of the block,
// as Q4_0's offset 8 does.
//
// The one-input kernels give the input two int32 accumulators (even and
// odd runs) so that the chains of dependent vpdpbusd are short enough for
// two to issue a cycle.

DATA pk80<>+0(SB)/8, $0x8080808080808080
DATA pk80<>+8(SB)/8, $0x8080808080808080
DATA pk80<>+16(SB)/8, $0x8080808080808080
DATA pk80<>+24(SB)/8, $0x8080808080808080
GLOBL pk80<>(SB), RODATA|NOPTR, $32

// VNSCALE ends a block for one input: it adds the odd-run sums odd to even,
// takes shift-scaled input sum at s off (the weights' offset, 8 = 1<<3 for
// Q4_0, 128 = 1<<7 for Q8_0), and scales the result into facc as PKSCALE
// does (tmp is clobbered).
#define VNSCALE(even, odd, s, shift, d, scales, tmp, facc) \
	VPADDD       odd, even, even;  \
	VPBROADCASTD s, tmp;           \
	VPSLLD       shift, tmp, tmp;  \
	VPSUBD       tmp, even, even;  \
	VCVTDQ2PS    even, even;       \
	VBROADCASTSS d, tmp;           \
	VMULPS       scales, tmp, tmp; \
	VFMADD231PS  tmp, even, facc

// VNPRODS sets even and odd to the int32 products of the nibbles in
// Y0..Y7 with the input quants at y, the even runs' and the odd runs'.
#define VNPRODS(y, even, odd) \
	VPXORD        even, even, even; \
	VPXORD        odd, odd, odd;    \
	VPDPBUSD.BCST 0(y), Y0, even;   \
	VPDPBUSD.BCST 4(y), Y1, odd;    \
	VPDPBUSD.BCST 8(y), Y2, even;   \
	VPDPBUSD.BCST 12(y), Y3, odd;   \
	VPDPBUSD.BCST 16(y), Y4, even;  \
	VPDPBUSD.BCST 20(y), Y5, odd;   \
	VPDPBUSD.BCST 24(y), Y6, even;  \
	VPDPBUSD.BCST 28(y), Y7, odd

// VNQ4INPUT multiplies the decoded Q4_0 block (PKDECODE: nibbles in
// Y0..Y7, scales in Y14) by the input block whose quants start at y and
// adds the eight rows' products to facc; even and odd are its int32
// accumulators, shift the log2 of the quants' offset (Q5_0's block too,
// with 4).
#define VNQ4INPUT(y, s, d, even, odd, facc, shift) \
	VNPRODS(y, even, odd); \
	VNSCALE(even, odd, s, shift, d, Y14, Y13, facc)

// VN5HIGH is PK5HIGH for the VNNI kernels: vpternlogd ORs the masked
// bits in (0xf8: a | b&c), one instruction instead of two. m10 holds the
// 0x10 bytes; v and t are scratch.
#define VN5HIGH(m10, v, t) \
	VMOVDQU    144(SI), v;           \
	VPSLLW     $4, v, t;             \
	VPTERNLOGD $0xf8, m10, t, Y0;    \
	VPSLLW     $3, v, t;             \
	VPTERNLOGD $0xf8, m10, t, Y1;    \
	VPSLLW     $2, v, t;             \
	VPTERNLOGD $0xf8, m10, t, Y2;    \
	VPSLLW     $1, v, t;             \
	VPTERNLOGD $0xf8, m10, t, Y3;    \
	VPTERNLOGD $0xf8, m10, v, Y4;    \
	VPSRLW     $1, v, t;             \
	VPTERNLOGD $0xf8, m10, t, Y5;    \
	VPSRLW     $2, v, t;             \
	VPTERNLOGD $0xf8, m10, t, Y6;    \
	VPSRLW     $3, v, t;             \
	VPTERNLOGD $0xf8, m10, t, Y7

// VNMINPUT is VNQ4INPUT for a Q4_1 or Q5_1 block: no offset, and the
// rows' fp16 minimums at mo(SI) times the input's Q8_1 sum at s added
// after the scaled products, as PKMINPUT does.
#define VNMINPUT(y, s, d, mo, even, odd, facc) \
	VNPRODS(y, even, odd);          \
	VPADDD        odd, even, even;  \
	PKSCALE(even, d, Y14, Y13, facc); \
	VCVTPH2PS     mo(SI), Y13;      \
	VFMADD231PS.BCST s, Y13, facc

// The VNNI one-input kernels are NIBONE with VNSETUP, VN5HIGH and these
// input macros, which take PKINPUT's arguments (less the ones, which
// vpdpbusd does not need) and sum in Y10 and Y12.
#define VNQ4IN(y, d, s, acc, ones) VNQ4INPUT(y, s, d, Y10, Y12, acc, $3)
#define VNQ5IN(y, d, s, acc, ones) VNQ4INPUT(y, s, d, Y10, Y12, acc, $4)
#define VNMIN144(y, d, s, acc, ones) VNMINPUT(y, s, d, 144, Y10, Y12, acc)
#define VNMIN176(y, d, s, acc, ones) VNMINPUT(y, s, d, 176, Y10, Y12, acc)

NIBONE(·packedQ4_0VNNI, 144, VNSETUP, NOHIGH, VNQ4IN, is, vn40one, vn40oneblock)
NIBONE(·packedQ4_1VNNI, 160, VNSETUP, NOHIGH, VNMIN144, s, vn41one, vn41oneblock)
NIBONE(·packedQ5_0VNNI, 176, VNSETUP, VN5HIGH, VNQ5IN, is, vn50one, vn50oneblock)
NIBONE(·packedQ5_1VNNI, 192, VNSETUP, VN5HIGH, VNMIN176, s, vn51one, vn51oneblock)

// VN8RUN adds to acc the products of the Q8_0 run at wo(SI), made
// unsigned in wreg, with the input quants at yo(y).
#define VN8RUN(y, yo, wo, wreg, acc) \
	VPXOR         wo(SI), Y15, wreg; \
	VPDPBUSD.BCST yo(y), wreg, acc

// func packedQ8_0VNNI(w *byte, groups, nb int, y *int8, yd *float32, is *int32, out *float32)
TEXT ·packedQ8_0VNNI(SB), NOSPLIT, $0-56
	MOVQ    w+0(FP), SI
	MOVQ    groups+8(FP), R10
	MOVQ    out+48(FP), R14
	VMOVDQU pk80<>(SB), Y15

vn81group:
	MOVQ   y+24(FP), DI
	MOVQ   yd+32(FP), BX
	MOVQ   is+40(FP), R12
	MOVQ   nb+16(FP), CX
	VXORPS Y8, Y8, Y8

vn81block:
	PREFETCHT1 512(SI)
	PREFETCHT1 576(SI)
	PREFETCHT1 640(SI)
	PREFETCHT1 704(SI)
	PREFETCHT1 768(SI)
	VPXOR     Y4, Y4, Y4
	VPXOR     Y5, Y5, Y5
	VN8RUN(DI, 0, 16, Y0, Y4)
	VN8RUN(DI, 4, 48, Y1, Y5)
	VN8RUN(DI, 8, 80, Y2, Y4)
	VN8RUN(DI, 12, 112, Y3, Y5)
	VN8RUN(DI, 16, 144, Y0, Y4)
	VN8RUN(DI, 20, 176, Y1, Y5)
	VN8RUN(DI, 24, 208, Y2, Y4)
	VN8RUN(DI, 28, 240, Y3, Y5)
	VCVTPH2PS (SI), Y12
	VNSCALE(Y4, Y5, (R12), $7, (BX), Y12, Y13, Y8)
	ADDQ $272, SI
	ADDQ $32, DI
	ADDQ $4, BX
	ADDQ $4, R12
	DECQ CX
	JNZ  vn81block

	VMOVUPS Y8, (R14)
	ADDQ    $32, R14
	DECQ    R10
	JNZ     vn81group
	VZEROUPPER
	RET

// The eight-input VNNI kernels work on 512-bit registers and two groups of
// rows at once: the low half of each vector holds a run of the group at SI,
// the high half the same run of the next group, AX bytes further (a pass
// over an odd last group sets AX to 0, computes it twice and stores only
// the low half, through the mask K1). So each broadcast input quad feeds 16
// rows, half the broadcast loads and instructions of 256-bit registers,
// and each input has one chain of vpdpbusd per block, eight chains in all.
// A chain starts at the input's offset term (minus 8 or 128 times its block
// sum, precomputed) instead of zero, so a block's bookkeeping per input is
// one broadcast load, a conversion, a multiply by the broadcast input scale
// and a multiply-add; the Q8_0 sign flips and the Q4_0 nibble split are
// shared by eight inputs. The int32 sums are Z16..Z23 and the float sums
// Z24..Z31 in both kernels. The input records at BX (see qacts.e8) hold,
// per block, the eight inputs' scales and then their offset terms.


// VZ8INIT starts the eight inputs' int32 sums of a block at their offset
// terms.
#define VZ8INIT \
	VPBROADCASTD 32(BX), Z16; \
	VPBROADCASTD 36(BX), Z17; \
	VPBROADCASTD 40(BX), Z18; \
	VPBROADCASTD 44(BX), Z19; \
	VPBROADCASTD 48(BX), Z20; \
	VPBROADCASTD 52(BX), Z21; \
	VPBROADCASTD 56(BX), Z22; \
	VPBROADCASTD 60(BX), Z23



// VZ8SCALES widens the two groups' 16 fp16 row scales into Z12.
#define VZ8SCALES \
	VMOVDQU     (SI), X12;              \
	VINSERTI128 $1, (SI)(AX*1), Y12, Y12; \
	VCVTPH2PS   Y12, Z12

// VZ8TAIL scales one input's block sum acc into facc: the rows' scales
// times the input's scale at d (the product PKSCALE forms, in one
// instruction), times the converted sum.
#define VZ8TAIL(acc, d, facc) \
	VCVTDQ2PS   acc, acc;       \
	VMULPS.BCST d, Z12, Z13;    \
	VFMADD231PS Z13, acc, facc

// VZ8TAILS ends a block for the eight inputs.
#define VZ8TAILS \
	VZ8TAIL(Z16, 0(BX), Z24);  \
	VZ8TAIL(Z17, 4(BX), Z25);  \
	VZ8TAIL(Z18, 8(BX), Z26);  \
	VZ8TAIL(Z19, 12(BX), Z27); \
	VZ8TAIL(Z20, 16(BX), Z28); \
	VZ8TAIL(Z21, 20(BX), Z29); \
	VZ8TAIL(Z22, 24(BX), Z30); \
	VZ8TAIL(Z23, 28(BX), Z31)


// VZ8PASS starts a pass over a pair of groups, the first input at DI: R12
// is the prefetch distance of the second group.
#define VZ8PASS \
	PK8INPUTS;               \
	LEAQ   (R13)(AX*1), R12; \
	VPXORD Z24, Z24, Z24;    \
	VPXORD Z25, Z25, Z25;    \
	VPXORD Z26, Z26, Z26;    \
	VPXORD Z27, Z27, Z27;    \
	VPXORD Z28, Z28, Z28;    \
	VPXORD Z29, Z29, Z29;    \
	VPXORD Z30, Z30, Z30;    \
	VPXORD Z31, Z31, Z31

// VZ8NEXT moves the input pointers to the next block.
#define VZ8NEXT \
	ADDQ $32, DI; \
	ADDQ $32, R8; \
	ADDQ $32, R9; \
	ADDQ $64, BX

// VZ8END stores a pass's float sums at R14, the inputs' outputs R15 bytes
// apart (R11 = 3*R15), under K1, and ends the pass (VZSETEND).
#define VZ8END(label, setlabel) \
	VMOVUPS Z24, K1, (R14);        \
	VMOVUPS Z25, K1, (R14)(R15*1); \
	VMOVUPS Z26, K1, (R14)(R15*2); \
	VMOVUPS Z27, K1, (R14)(R11*1); \
	LEAQ    (R14)(R15*4), R12;     \
	VMOVUPS Z28, K1, (R12);        \
	VMOVUPS Z29, K1, (R12)(R15*1); \
	VMOVUPS Z30, K1, (R12)(R15*2); \
	VMOVUPS Z31, K1, (R12)(R11*1); \
	VZSETEND(label, setlabel)

// VZQ4DECODE prefetches and splits a Q4_0 block of both groups (as
// PKDECODE does for one): nibbles in Z0..Z7, the rows' scales in Z12.
#define VZQ4DECODE \
	VZPREF(0); \
	VZPREF(64); \
	VZPREF(128); \
	VZ8LOAD(16, Y0, Z0); \
	VZ8LOAD(48, Y1, Z1); \
	VZ8LOAD(80, Y2, Z2); \
	VZ8LOAD(112, Y3, Z3); \
	VPSRLW $4, Z0, Z4; \
	VPSRLW $4, Z1, Z5; \
	VPSRLW $4, Z2, Z6; \
	VPSRLW $4, Z3, Z7; \
	VPANDD Z15, Z0, Z0; \
	VPANDD Z15, Z1, Z1; \
	VPANDD Z15, Z2, Z2; \
	VPANDD Z15, Z3, Z3; \
	VPANDD Z15, Z4, Z4; \
	VPANDD Z15, Z5, Z5; \
	VPANDD Z15, Z6, Z6; \
	VPANDD Z15, Z7, Z7; \
	VZ8SCALES

// VZQ8PREFETCH prefetches a Q8_0 block of both groups.
#define VZQ8PREFETCH \
	VZPREF(0);   \
	VZPREF(64);  \
	VZPREF(128); \
	VZPREF(192); \
	VZPREF(256)

// VZQ5DECODE is VZQ4DECODE for a Q5_0 block of both groups, the fifth
// bits merged in as VN5HIGH does (Z10 = 0x10 bytes; Z8, Z9 scratch).
#define VZQ5DECODE \
	VZQ4DECODE;                   \
	VZ8LOAD(144, Y8, Z8);         \
	VPSLLW     $4, Z8, Z9;        \
	VPTERNLOGD $0xf8, Z10, Z9, Z0; \
	VPSLLW     $3, Z8, Z9;        \
	VPTERNLOGD $0xf8, Z10, Z9, Z1; \
	VPSLLW     $2, Z8, Z9;        \
	VPTERNLOGD $0xf8, Z10, Z9, Z2; \
	VPSLLW     $1, Z8, Z9;        \
	VPTERNLOGD $0xf8, Z10, Z9, Z3; \
	VPTERNLOGD $0xf8, Z10, Z8, Z4; \
	VPSRLW     $1, Z8, Z9;        \
	VPTERNLOGD $0xf8, Z10, Z9, Z5; \
	VPSRLW     $2, Z8, Z9;        \
	VPTERNLOGD $0xf8, Z10, Z9, Z6; \
	VPSRLW     $3, Z8, Z9;        \
	VPTERNLOGD $0xf8, Z10, Z9, Z7

// The Q4_1 and Q5_1 kernels start the int32 sums at zero (VZ8ZERO) and
// end a block with VZ8TAILSM: VZ8TAIL, then the two groups' fp16 minimums
// (VZ8MINS: in Z11) times the input's Q8_1 sum from its record.
#define VZ8ZERO \
	VPXORD Z16, Z16, Z16; \
	VPXORD Z17, Z17, Z17; \
	VPXORD Z18, Z18, Z18; \
	VPXORD Z19, Z19, Z19; \
	VPXORD Z20, Z20, Z20; \
	VPXORD Z21, Z21, Z21; \
	VPXORD Z22, Z22, Z22; \
	VPXORD Z23, Z23, Z23

#define VZ8MINS(mo) \
	VMOVDQU     mo(SI), X11;              \
	VINSERTI128 $1, mo(SI)(AX*1), Y11, Y11; \
	VCVTPH2PS   Y11, Z11

#define VZ8TAILM(acc, d, s, facc) \
	VZ8TAIL(acc, d, facc); \
	VFMADD231PS.BCST s, Z11, facc

#define VZ8TAILSM \
	VZ8TAILM(Z16, 0(BX), 32(BX), Z24);  \
	VZ8TAILM(Z17, 4(BX), 36(BX), Z25);  \
	VZ8TAILM(Z18, 8(BX), 40(BX), Z26);  \
	VZ8TAILM(Z19, 12(BX), 44(BX), Z27); \
	VZ8TAILM(Z20, 16(BX), 48(BX), Z28); \
	VZ8TAILM(Z21, 20(BX), 52(BX), Z29); \
	VZ8TAILM(Z22, 24(BX), 56(BX), Z30); \
	VZ8TAILM(Z23, 28(BX), 60(BX), Z31)

// VZNIBEIGHT is the eight-input kernel of the nibble types, given their
// block decoding (VZQ4DECODE, VZQ5DECODE), the start of the int32 sums
// (VZ8INIT at the offset terms; VZMIN144 or VZMIN176 at zero, the rows'
// minimums loaded) and the block's end (VZ8TAILS, VZ8TAILSM):
// func(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)
#define VZMIN144 VZ8MINS(144); VZ8ZERO
#define VZMIN176 VZ8MINS(176); VZ8ZERO

#define VZNIBEIGHT(name, bb, decode, init, tails, lset, lgroup, lpair, lblock) \
TEXT name(SB), NOSPLIT, $0-80;  \
	VZCONSTS(pk0f<>(SB));         \
	VPBROADCASTD pk10<>(SB), Z10; \
lset:                           \
	VZSETARGS($bb);               \
lgroup:                         \
	VZ8SINGLE(lpair);             \
lpair:                          \
	VZPASSARGS;                   \
	VZ8PASS;                      \
lblock:                         \
	decode;                       \
	init;                         \
	VZ8MUL8(0, Z0);               \
	VZ8MUL8(4, Z1);               \
	VZ8MUL8(8, Z2);               \
	VZ8MUL8(12, Z3);              \
	VZ8MUL8(16, Z4);              \
	VZ8MUL8(20, Z5);              \
	VZ8MUL8(24, Z6);              \
	VZ8MUL8(28, Z7);              \
	tails;                        \
	ADDQ $bb, SI;                 \
	VZ8NEXT;                      \
	DECQ CX;                      \
	JNZ  lblock;                  \
	VZ8END(lgroup, lset)

VZNIBEIGHT(·packedQ4_0x8VNNI, 144, VZQ4DECODE, VZ8INIT, VZ8TAILS, vz40set, vz40group, vz40pair, vz40block)
VZNIBEIGHT(·packedQ4_1x8VNNI, 160, VZQ4DECODE, VZMIN144, VZ8TAILSM, vz41set, vz41group, vz41pair, vz41block)
VZNIBEIGHT(·packedQ5_0x8VNNI, 176, VZQ5DECODE, VZ8INIT, VZ8TAILS, vz50set, vz50group, vz50pair, vz50block)
VZNIBEIGHT(·packedQ5_1x8VNNI, 192, VZQ5DECODE, VZMIN176, VZ8TAILSM, vz51set, vz51group, vz51pair, vz51block)

// VZ8RUN8 makes the Q8_0 runs at wo(SI) unsigned in zreg and multiplies
// them with the eight inputs' quants at offset yo.
#define VZ8RUN8(yo, wo, yreg, zreg) \
	VZ8LOAD(wo, yreg, zreg);    \
	VPXORD Z15, zreg, zreg;     \
	VZ8MUL8(yo, zreg)

// func packedQ8_0x8VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf, sets int)
TEXT ·packedQ8_0x8VNNI(SB), NOSPLIT, $0-80
	VZCONSTS(pk80<>(SB))

vz8set:
	VZSETARGS($272)

vz8group:
	VZ8SINGLE(vz8pair)

vz8pair:
	VZPASSARGS
	VZ8PASS

vz8block:
	VZQ8PREFETCH
	VZ8INIT
	VZ8RUN8(0, 16, Y0, Z0)
	VZ8RUN8(4, 48, Y1, Z1)
	VZ8RUN8(8, 80, Y2, Z2)
	VZ8RUN8(12, 112, Y3, Z3)
	VZ8RUN8(16, 144, Y0, Z0)
	VZ8RUN8(20, 176, Y1, Z1)
	VZ8RUN8(24, 208, Y2, Z2)
	VZ8RUN8(28, 240, Y3, Z3)
	VZ8SCALES
	VZ8TAILS
	ADDQ $272, SI
	VZ8NEXT
	DECQ CX
	JNZ  vz8block

	VZ8END(vz8group, vz8set)

// The four-input kernels of the VNNI set are the eight-input kernels for
// the last four inputs of a batch (starting a group of eight, whose
// records' first halves they read): each input has two chains of vpdpbusd
// per block (even runs in Z16..Z19 from the offset term, odd runs in
// Z20..Z23 from zero) so that eight are in flight.

// VZ4INIT starts the even-run sums at the offset terms, the odd-run sums
// at zero.
#define VZ4INIT \
	VPBROADCASTD 32(BX), Z16; \
	VPBROADCASTD 36(BX), Z17; \
	VPBROADCASTD 40(BX), Z18; \
	VPBROADCASTD 44(BX), Z19; \
	VPXORD       Z20, Z20, Z20; \
	VPXORD       Z21, Z21, Z21; \
	VPXORD       Z22, Z22, Z22; \
	VPXORD       Z23, Z23, Z23

#define VZ4EVEN(yo, wreg) VZ4MUL4(yo, wreg, Z16, Z17, Z18, Z19)
#define VZ4ODD(yo, wreg) VZ4MUL4(yo, wreg, Z20, Z21, Z22, Z23)

// VZ4TAILS ends a block for the four inputs.
#define VZ4TAILS \
	VPADDD Z20, Z16, Z16;     \
	VPADDD Z21, Z17, Z17;     \
	VPADDD Z22, Z18, Z18;     \
	VPADDD Z23, Z19, Z19;     \
	VZ8TAIL(Z16, 0(BX), Z24); \
	VZ8TAIL(Z17, 4(BX), Z25); \
	VZ8TAIL(Z18, 8(BX), Z26); \
	VZ8TAIL(Z19, 12(BX), Z27)

// VZ4NEXT moves the input pointers to the next block.
#define VZ4NEXT \
	ADDQ $32, DI; \
	ADDQ $32, R8; \
	ADDQ $64, BX

// VZ4TAILSM is VZ4TAILS for the Q4_1 and Q5_1 kernels (see VZ8TAILSM),
// whose even and odd sums both start at zero (VZ8ZERO).
#define VZ4TAILSM \
	VPADDD Z20, Z16, Z16;     \
	VPADDD Z21, Z17, Z17;     \
	VPADDD Z22, Z18, Z18;     \
	VPADDD Z23, Z19, Z19;     \
	VZ8TAILM(Z16, 0(BX), 32(BX), Z24);  \
	VZ8TAILM(Z17, 4(BX), 36(BX), Z25);  \
	VZ8TAILM(Z18, 8(BX), 40(BX), Z26);  \
	VZ8TAILM(Z19, 12(BX), 44(BX), Z27)

// VZNIBFOUR is VZNIBEIGHT for four inputs (VZ4INIT for VZ8INIT, VZ4TAILS
// and VZ4TAILSM for VZ8TAILS and VZ8TAILSM):
// func(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)
#define VZNIBFOUR(name, bb, decode, init, tails, lgroup, lpair, lblock) \
TEXT name(SB), NOSPLIT, $0-72;  \
	VZARGS($bb, pk0f<>(SB));      \
	VPBROADCASTD pk10<>(SB), Z10; \
lgroup:                         \
	VZ8SINGLE(lpair);             \
lpair:                          \
	VZPASSARGS;                   \
	VZ4PASS(Z24, Z25, Z26, Z27);  \
lblock:                         \
	decode;                       \
	init;                         \
	VZ4EVEN(0, Z0);               \
	VZ4ODD(4, Z1);                \
	VZ4EVEN(8, Z2);               \
	VZ4ODD(12, Z3);               \
	VZ4EVEN(16, Z4);              \
	VZ4ODD(20, Z5);               \
	VZ4EVEN(24, Z6);              \
	VZ4ODD(28, Z7);               \
	tails;                        \
	ADDQ $bb, SI;                 \
	VZ4NEXT;                      \
	DECQ CX;                      \
	JNZ  lblock;                  \
	VZ4END(lgroup, Z24, Z25, Z26, Z27)

VZNIBFOUR(·packedQ4_0x4VNNI, 144, VZQ4DECODE, VZ4INIT, VZ4TAILS, vh40group, vh40pair, vh40block)
VZNIBFOUR(·packedQ4_1x4VNNI, 160, VZQ4DECODE, VZMIN144, VZ4TAILSM, vh41group, vh41pair, vh41block)
VZNIBFOUR(·packedQ5_0x4VNNI, 176, VZQ5DECODE, VZ4INIT, VZ4TAILS, vh50group, vh50pair, vh50block)
VZNIBFOUR(·packedQ5_1x4VNNI, 192, VZQ5DECODE, VZMIN176, VZ4TAILSM, vh51group, vh51pair, vh51block)

// VZ4RUNEVEN and VZ4RUNODD make the Q8_0 runs at wo(SI) unsigned in zreg
// and multiply them with the four inputs' quants at offset yo into the even
// or odd sums.
#define VZ4RUNEVEN(yo, wo, yreg, zreg) \
	VZ8LOAD(wo, yreg, zreg); \
	VPXORD Z15, zreg, zreg;  \
	VZ4EVEN(yo, zreg)

#define VZ4RUNODD(yo, wo, yreg, zreg) \
	VZ8LOAD(wo, yreg, zreg); \
	VPXORD Z15, zreg, zreg;  \
	VZ4ODD(yo, zreg)

// func packedQ8_0x4VNNI(w *byte, groups, nb int, y *int8, ystride int, e8 *uint32, out *float32, ostride, pf int)
TEXT ·packedQ8_0x4VNNI(SB), NOSPLIT, $0-72
	VZARGS($272, pk80<>(SB))

vh8group:
	VZ8SINGLE(vh8pair)

vh8pair:
	VZPASSARGS
	VZ4PASS(Z24, Z25, Z26, Z27)

vh8block:
	VZQ8PREFETCH
	VZ4INIT
	VZ4RUNEVEN(0, 16, Y0, Z0)
	VZ4RUNODD(4, 48, Y1, Z1)
	VZ4RUNEVEN(8, 80, Y2, Z2)
	VZ4RUNODD(12, 112, Y3, Z3)
	VZ4RUNEVEN(16, 144, Y0, Z0)
	VZ4RUNODD(20, 176, Y1, Z1)
	VZ4RUNEVEN(24, 208, Y2, Z2)
	VZ4RUNODD(28, 240, Y3, Z3)
	VZ8SCALES
	VZ4TAILS
	ADDQ $272, SI
	VZ4NEXT
	DECQ CX
	JNZ  vh8block

	VZ4END(vh8group, Z24, Z25, Z26, Z27)
