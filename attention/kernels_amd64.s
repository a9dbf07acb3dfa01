//go:build amd64 && !purego

#include "textflag.h"

// Attention kernels for AVX2 + FMA + F16C. Rows are d elements (d a
// multiple of 8); query heads are consecutive d-float rows; score and weight
// rows of consecutive heads are stride elements apart.

// Every score is one dot product summed in a fixed order whatever kernel,
// head count or run of keys computes it, so that a prompt's rows processed
// together get exactly the scores each would get alone: one FMA chain over
// the eight-column chunks in order, then the lanes added as
// ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)), as HSUM and HSUM4OF both do.
// Kernels get their independent chains from several key rows and heads
// instead of splitting a row.

// The horizontal sums add pairs of lanes as VHADDPS would, but each of
// its steps is two shuffles (the even and the odd lanes) and an add: the
// same sums, and on Zen 4, whose VHADDPS costs more than the three, about
// 5% more scores a second in BenchmarkTile's scores runs and 15% in
// BenchmarkScores' f32 ones.

// HSUM leaves the sum of the eight lanes of y in lane 0 of x (x is y's low
// half), using ty and its low half tx.
#define HSUM(y, x, ty, tx) \
	VSHUFPS      $0x88, y, y, ty; \
	VSHUFPS      $0xdd, y, y, y;  \
	VADDPS       y, ty, y;        \
	VSHUFPS      $0x88, y, y, ty; \
	VSHUFPS      $0xdd, y, y, y;  \
	VADDPS       y, ty, y;        \
	VEXTRACTF128 $1, y, tx;       \
	VADDPS       tx, x, x

// HSUM4OF leaves in x (y's low half) the lane sums of a, b, c, d (in that
// order), using ty and its low half tx (and clobbering c).
#define HSUM4OF(a, b, c, d, y, x, ty, tx) \
	VSHUFPS      $0x88, b, a, y;   \
	VSHUFPS      $0xdd, b, a, ty;  \
	VADDPS       ty, y, y;         \
	VSHUFPS      $0x88, d, c, ty;  \
	VSHUFPS      $0xdd, d, c, c;   \
	VADDPS       c, ty, ty;        \
	VSHUFPS      $0x88, ty, y, c;  \
	VSHUFPS      $0xdd, ty, y, ty; \
	VADDPS       ty, c, y;         \
	VEXTRACTF128 $1, y, tx;        \
	VADDPS       tx, x, x

// Key and value rows are float32 or F16; each kernel below is written once
// as a macro over the element type, which it takes as two instruction
// macros and a few sizes:
//   - KFMA32 / KFMA16 (mem, tmp, q, acc): acc += the chunk of eight
//     elements at mem times q (F16: widened into tmp first);
//   - KLOAD32 / KLOAD16 (mem, reg): the chunk at mem into reg, widened;
//   - the shift from elements to bytes ($2, $1), the query's bytes per key
//     byte as an index scale (1, 2) and the bytes of a chunk ($32, $16).
// The macros stand before the first TEXT because go vet reads the frame
// references in a macro as those of the function above it.
#define KFMA32(mem, tmp, q, acc) VFMADD231PS mem, q, acc
#define KFMA16(mem, tmp, q, acc) VCVTPH2PS mem, tmp; VFMADD231PS tmp, q, acc
#define KLOAD32(mem, reg) VMOVUPS mem, reg
#define KLOAD16(mem, reg) VCVTPH2PS mem, reg

// SCORES is scoresF32AVX2 and scoresF16AVX2: one head against n key rows,
// eight rows at a time (eight FMA chains), then four, then one.
#define SCORES(kfma, ksh, qs, kb) \
	MOVQ out+0(FP), DX;                          \
	MOVQ q+8(FP), SI;                            \
	MOVQ k+16(FP), BX;                           \
	MOVQ n+24(FP), CX;                           \
	MOVQ d+32(FP), R13;                          \
	SHLQ ksh, R13; /* key row bytes */           \
rows8:                                           \
	CMPQ   CX, $8;                               \
	JLT    rows4;                                \
	VXORPS Y0, Y0, Y0;                           \
	VXORPS Y1, Y1, Y1;                           \
	VXORPS Y2, Y2, Y2;                           \
	VXORPS Y3, Y3, Y3;                           \
	VXORPS Y4, Y4, Y4;                           \
	VXORPS Y5, Y5, Y5;                           \
	VXORPS Y6, Y6, Y6;                           \
	VXORPS Y7, Y7, Y7;                           \
	LEAQ   (BX)(R13*1), R8;                      \
	LEAQ   (R8)(R13*1), R9;                      \
	LEAQ   (R9)(R13*1), R10;                     \
	LEAQ   (R10)(R13*1), R11;                    \
	LEAQ   (R11)(R13*1), R12;                    \
	LEAQ   (R12)(R13*1), R14;                    \
	LEAQ   (R14)(R13*1), R15;                    \
	XORQ   AX, AX;                               \
loop8:                                           \
	VMOVUPS (SI)(AX*qs), Y8;                     \
	kfma((BX)(AX*1), Y9, Y8, Y0);                \
	kfma((R8)(AX*1), Y10, Y8, Y1);               \
	kfma((R9)(AX*1), Y11, Y8, Y2);               \
	kfma((R10)(AX*1), Y12, Y8, Y3);              \
	kfma((R11)(AX*1), Y13, Y8, Y4);              \
	kfma((R12)(AX*1), Y14, Y8, Y5);              \
	kfma((R14)(AX*1), Y15, Y8, Y6);              \
	kfma((R15)(AX*1), Y9, Y8, Y7);               \
	ADDQ    kb, AX;                              \
	CMPQ    AX, R13;                             \
	JLT     loop8;                               \
	HSUM4OF(Y0, Y1, Y2, Y3, Y8, X8, Y9, X9);     \
	HSUM4OF(Y4, Y5, Y6, Y7, Y10, X10, Y11, X11); \
	VMOVUPS X8, (DX);                            \
	VMOVUPS X10, 16(DX);                         \
	ADDQ    $32, DX;                             \
	LEAQ    (R15)(R13*1), BX;                    \
	SUBQ    $8, CX;                              \
	JMP     rows8;                               \
rows4:                                           \
	CMPQ   CX, $4;                               \
	JLT    rows1;                                \
	VXORPS Y0, Y0, Y0;                           \
	VXORPS Y1, Y1, Y1;                           \
	VXORPS Y2, Y2, Y2;                           \
	VXORPS Y3, Y3, Y3;                           \
	LEAQ   (BX)(R13*1), R8;                      \
	LEAQ   (R8)(R13*1), R9;                      \
	LEAQ   (R9)(R13*1), R10;                     \
	XORQ   AX, AX;                               \
loop4:                                           \
	VMOVUPS (SI)(AX*qs), Y8;                     \
	kfma((BX)(AX*1), Y9, Y8, Y0);                \
	kfma((R8)(AX*1), Y10, Y8, Y1);               \
	kfma((R9)(AX*1), Y11, Y8, Y2);               \
	kfma((R10)(AX*1), Y12, Y8, Y3);              \
	ADDQ    kb, AX;                              \
	CMPQ    AX, R13;                             \
	JLT     loop4;                               \
	HSUM4OF(Y0, Y1, Y2, Y3, Y8, X8, Y9, X9);     \
	VMOVUPS X8, (DX);                            \
	ADDQ    $16, DX;                             \
	LEAQ    (R10)(R13*1), BX;                    \
	SUBQ    $4, CX;                              \
rows1:                                           \
	TESTQ  CX, CX;                               \
	JZ     done;                                 \
	VXORPS Y0, Y0, Y0;                           \
	XORQ   AX, AX;                               \
loop1:                                           \
	VMOVUPS (SI)(AX*qs), Y8;                     \
	kfma((BX)(AX*1), Y9, Y8, Y0);                \
	ADDQ    kb, AX;                              \
	CMPQ    AX, R13;                             \
	JLT     loop1;                               \
	HSUM(Y0, X0, Y1, X1);                        \
	VMOVSS  X0, (DX);                            \
	ADDQ    $4, DX;                              \
	ADDQ    R13, BX;                             \
	DECQ    CX;                                  \
	JMP     rows1;                               \
done:                                            \
	VZEROUPPER;                                  \
	RET

// SCORES2 is scoresF32x2AVX2 and scoresF16x2AVX2: a register tile of two
// heads by four key rows, eight FMA chains, each key chunk loaded (and
// widened) once for both heads; np is the number of head pairs. q2 is
// twice qs.
#define SCORES2(kload, ksh, qs, q2, kb) \
	MOVQ out+0(FP), DI;                          \
	MOVQ stride+8(FP), R8;                       \
	SHLQ $2, R8;                                 \
	MOVQ q+16(FP), SI;                           \
	MOVQ np+24(FP), R9;                          \
	MOVQ d+48(FP), R13;                          \
	SHLQ ksh, R13; /* key row bytes */           \
pair:                                            \
	MOVQ k+32(FP), BX;                           \
	MOVQ n+40(FP), CX;                           \
	MOVQ DI, DX;                                 \
	LEAQ (SI)(R13*qs), R10; /* second query */   \
rows4:                                           \
	CMPQ   CX, $4;                               \
	JLT    rows1;                                \
	VXORPS Y0, Y0, Y0;                           \
	VXORPS Y1, Y1, Y1;                           \
	VXORPS Y2, Y2, Y2;                           \
	VXORPS Y3, Y3, Y3;                           \
	VXORPS Y4, Y4, Y4;                           \
	VXORPS Y5, Y5, Y5;                           \
	VXORPS Y6, Y6, Y6;                           \
	VXORPS Y7, Y7, Y7;                           \
	LEAQ   (BX)(R13*1), R14;                     \
	LEAQ   (R14)(R13*1), R15;                    \
	LEAQ   (R15)(R13*1), R12;                    \
	XORQ   AX, AX;                               \
loop4:                                           \
	VMOVUPS     (SI)(AX*qs), Y8;                 \
	VMOVUPS     (R10)(AX*qs), Y9;                \
	kload((BX)(AX*1), Y10);                      \
	kload((R14)(AX*1), Y11);                     \
	VFMADD231PS Y10, Y8, Y0;                     \
	VFMADD231PS Y10, Y9, Y4;                     \
	VFMADD231PS Y11, Y8, Y1;                     \
	VFMADD231PS Y11, Y9, Y5;                     \
	kload((R15)(AX*1), Y10);                     \
	kload((R12)(AX*1), Y11);                     \
	VFMADD231PS Y10, Y8, Y2;                     \
	VFMADD231PS Y10, Y9, Y6;                     \
	VFMADD231PS Y11, Y8, Y3;                     \
	VFMADD231PS Y11, Y9, Y7;                     \
	ADDQ        kb, AX;                          \
	CMPQ        AX, R13;                         \
	JLT         loop4;                           \
	HSUM4OF(Y0, Y1, Y2, Y3, Y8, X8, Y9, X9);     \
	VMOVUPS     X8, (DX);                        \
	HSUM4OF(Y4, Y5, Y6, Y7, Y10, X10, Y11, X11); \
	VMOVUPS     X10, (DX)(R8*1);                 \
	ADDQ        $16, DX;                         \
	LEAQ        (R12)(R13*1), BX;                \
	SUBQ        $4, CX;                          \
	JMP         rows4;                           \
rows1:                                           \
	TESTQ  CX, CX;                               \
	JZ     next;                                 \
	VXORPS Y0, Y0, Y0;                           \
	VXORPS Y4, Y4, Y4;                           \
	XORQ   AX, AX;                               \
loop1:                                           \
	kload((BX)(AX*1), Y10);                      \
	VFMADD231PS (SI)(AX*qs), Y10, Y0;            \
	VFMADD231PS (R10)(AX*qs), Y10, Y4;           \
	ADDQ        kb, AX;                          \
	CMPQ        AX, R13;                         \
	JLT         loop1;                           \
	HSUM(Y0, X0, Y1, X1);                        \
	VMOVSS      X0, (DX);                        \
	HSUM(Y4, X4, Y5, X5);                        \
	VMOVSS      X4, (DX)(R8*1);                  \
	ADDQ        $4, DX;                          \
	ADDQ        R13, BX;                         \
	DECQ        CX;                              \
	JMP         rows1;                           \
next:                                            \
	LEAQ (SI)(R13*q2), SI;                       \
	LEAQ (DI)(R8*2), DI;                         \
	DECQ R9;                                     \
	JNZ  pair;                                   \
	VZEROUPPER;                                  \
	RET

// ACCUM is accumF32AVX2 and accumF16AVX2: per head, 64 output columns at a
// time (eight FMA chains per value row), then 32, then 8, held in
// registers over all n value rows; the rows stay in L1 between heads. The
// value pointer at a column is DX = v + (output column bytes >> vsh).
#define ACCUM(kfma, vsh, vb) \
	MOVQ out+0(FP), DI;                  \
	MOVQ w+8(FP), SI;                    \
	MOVQ stride+16(FP), R8;              \
	SHLQ $2, R8;                         \
	MOVQ nh+24(FP), R9;                  \
	MOVQ v+32(FP), R10;                  \
	MOVQ n+40(FP), R11;                  \
	MOVQ d+48(FP), R13;                  \
	SHLQ $2, R13; /* output row bytes */ \
	MOVQ R13, R15;                       \
	SHRQ vsh, R15; /* value row bytes */ \
head:                                    \
	XORQ AX, AX;                         \
cols64:                                  \
	MOVQ    R13, R12;                    \
	SUBQ    AX, R12;                     \
	CMPQ    R12, $256;                   \
	JLT     cols32;                      \
	VMOVUPS (DI)(AX*1), Y0;              \
	VMOVUPS 32(DI)(AX*1), Y1;            \
	VMOVUPS 64(DI)(AX*1), Y2;            \
	VMOVUPS 96(DI)(AX*1), Y3;            \
	VMOVUPS 128(DI)(AX*1), Y11;          \
	VMOVUPS 160(DI)(AX*1), Y12;          \
	VMOVUPS 192(DI)(AX*1), Y13;          \
	VMOVUPS 224(DI)(AX*1), Y14;          \
	MOVQ    AX, DX;                      \
	SHRQ    vsh, DX;                     \
	ADDQ    R10, DX;                     \
	XORQ    CX, CX;                      \
rows64:                                  \
	CMPQ         CX, R11;                \
	JGE          store64;                \
	VBROADCASTSS (SI)(CX*4), Y4;         \
	kfma(0(DX), Y5, Y4, Y0);             \
	kfma(vb*1(DX), Y6, Y4, Y1);          \
	kfma(vb*2(DX), Y7, Y4, Y2);          \
	kfma(vb*3(DX), Y10, Y4, Y3);         \
	kfma(vb*4(DX), Y5, Y4, Y11);         \
	kfma(vb*5(DX), Y6, Y4, Y12);         \
	kfma(vb*6(DX), Y7, Y4, Y13);         \
	kfma(vb*7(DX), Y10, Y4, Y14);        \
	ADDQ         R15, DX;                \
	INCQ         CX;                     \
	JMP          rows64;                 \
store64:                                 \
	VMOVUPS Y0, (DI)(AX*1);              \
	VMOVUPS Y1, 32(DI)(AX*1);            \
	VMOVUPS Y2, 64(DI)(AX*1);            \
	VMOVUPS Y3, 96(DI)(AX*1);            \
	VMOVUPS Y11, 128(DI)(AX*1);          \
	VMOVUPS Y12, 160(DI)(AX*1);          \
	VMOVUPS Y13, 192(DI)(AX*1);          \
	VMOVUPS Y14, 224(DI)(AX*1);          \
	ADDQ    $256, AX;                    \
	JMP     cols64;                      \
cols32:                                  \
	MOVQ    R13, R12;                    \
	SUBQ    AX, R12;                     \
	CMPQ    R12, $128;                   \
	JLT     cols8;                       \
	VMOVUPS (DI)(AX*1), Y0;              \
	VMOVUPS 32(DI)(AX*1), Y1;            \
	VMOVUPS 64(DI)(AX*1), Y2;            \
	VMOVUPS 96(DI)(AX*1), Y3;            \
	MOVQ    AX, DX;                      \
	SHRQ    vsh, DX;                     \
	ADDQ    R10, DX;                     \
	XORQ    CX, CX;                      \
rows32:                                  \
	CMPQ         CX, R11;                \
	JGE          store32;                \
	VBROADCASTSS (SI)(CX*4), Y4;         \
	kfma(0(DX), Y5, Y4, Y0);             \
	kfma(vb*1(DX), Y6, Y4, Y1);          \
	kfma(vb*2(DX), Y7, Y4, Y2);          \
	kfma(vb*3(DX), Y10, Y4, Y3);         \
	ADDQ         R15, DX;                \
	INCQ         CX;                     \
	JMP          rows32;                 \
store32:                                 \
	VMOVUPS Y0, (DI)(AX*1);              \
	VMOVUPS Y1, 32(DI)(AX*1);            \
	VMOVUPS Y2, 64(DI)(AX*1);            \
	VMOVUPS Y3, 96(DI)(AX*1);            \
	ADDQ    $128, AX;                    \
	JMP     cols32;                      \
cols8:                                   \
	CMPQ    AX, R13;                     \
	JGE     next;                        \
	VMOVUPS (DI)(AX*1), Y0;              \
	MOVQ    AX, DX;                      \
	SHRQ    vsh, DX;                     \
	ADDQ    R10, DX;                     \
	XORQ    CX, CX;                      \
rows8:                                   \
	CMPQ         CX, R11;                \
	JGE          store8;                 \
	VBROADCASTSS (SI)(CX*4), Y4;         \
	kfma(0(DX), Y5, Y4, Y0);             \
	ADDQ         R15, DX;                \
	INCQ         CX;                     \
	JMP          rows8;                  \
store8:                                  \
	VMOVUPS Y0, (DI)(AX*1);              \
	ADDQ    $32, AX;                     \
	JMP     cols8;                       \
next:                                    \
	ADDQ R13, DI;                        \
	ADDQ R8, SI;                         \
	DECQ R9;                             \
	JNZ  head;                           \
	VZEROUPPER;                          \
	RET

// func cpuidECX1() uint32
TEXT ·cpuidECX1(SB), NOSPLIT, $0-4
	MOVL $1, AX
	XORL CX, CX
	CPUID
	MOVL CX, ret+0(FP)
	RET

// func scoresF32AVX2(out *float32, q *float32, k *float32, n, d int)
TEXT ·scoresF32AVX2(SB), NOSPLIT, $0-40
	SCORES(KFMA32, $2, 1, $32)

// func scoresF16AVX2(out *float32, q *float32, k *uint16, n, d int)
TEXT ·scoresF16AVX2(SB), NOSPLIT, $0-40
	SCORES(KFMA16, $1, 2, $16)

// func scoresF32x2AVX2(out *float32, stride int, q *float32, np int, k *float32, n, d int)
TEXT ·scoresF32x2AVX2(SB), NOSPLIT, $0-56
	SCORES2(KLOAD32, $2, 1, 2, $32)

// func scoresF16x2AVX2(out *float32, stride int, q *float32, np int, k *uint16, n, d int)
TEXT ·scoresF16x2AVX2(SB), NOSPLIT, $0-56
	SCORES2(KLOAD16, $1, 2, 4, $16)

// func scoresF16x3AVX2(out *float32, stride int, q *float32, k *uint16, n, d int)
//
// scoresF16AVX2 for 3 heads at once: each key chunk is widened once and
// multiplied with every head's query chunk, in a register tile of 3 heads
// by four key rows (12 FMA chains), where scoresF16AVX2 widens it again
// for every head.
TEXT ·scoresF16x3AVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ stride+8(FP), R8
	SHLQ $2, R8
	MOVQ q+16(FP), SI
	MOVQ k+24(FP), BX
	MOVQ n+32(FP), CX
	MOVQ d+40(FP), R13
	SHLQ $1, R13           // key row bytes; query rows are twice that
	LEAQ (SI)(R13*2), R11  // second head's query
	LEAQ (R11)(R13*2), R12 // third head's query

s3hrows4:
	CMPQ   CX, $4
	JLT    s3hrows1
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	LEAQ   (BX)(R13*1), R9
	LEAQ   (R9)(R13*1), R10
	LEAQ   (R10)(R13*1), R14
	XORQ   AX, AX

s3hloop4:
	VMOVUPS     (SI)(AX*2), Y12
	VMOVUPS     (R11)(AX*2), Y13
	VMOVUPS     (R12)(AX*2), Y14
	VCVTPH2PS   (BX)(AX*1), Y15
	VFMADD231PS Y15, Y12, Y0
	VFMADD231PS Y15, Y13, Y4
	VFMADD231PS Y15, Y14, Y8
	VCVTPH2PS   (R9)(AX*1), Y15
	VFMADD231PS Y15, Y12, Y1
	VFMADD231PS Y15, Y13, Y5
	VFMADD231PS Y15, Y14, Y9
	VCVTPH2PS   (R10)(AX*1), Y15
	VFMADD231PS Y15, Y12, Y2
	VFMADD231PS Y15, Y13, Y6
	VFMADD231PS Y15, Y14, Y10
	VCVTPH2PS   (R14)(AX*1), Y15
	VFMADD231PS Y15, Y12, Y3
	VFMADD231PS Y15, Y13, Y7
	VFMADD231PS Y15, Y14, Y11
	ADDQ        $16, AX
	CMPQ        AX, R13
	JLT         s3hloop4
	HSUM4OF(Y0, Y1, Y2, Y3, Y12, X12, Y13, X13)
	VMOVUPS     X12, (DI)
	HSUM4OF(Y4, Y5, Y6, Y7, Y12, X12, Y13, X13)
	VMOVUPS     X12, (DI)(R8*1)
	HSUM4OF(Y8, Y9, Y10, Y11, Y12, X12, Y13, X13)
	VMOVUPS     X12, (DI)(R8*2)
	ADDQ        $16, DI
	LEAQ        (R14)(R13*1), BX
	SUBQ        $4, CX
	JMP         s3hrows4

s3hrows1:
	TESTQ  CX, CX
	JZ     s3hdone
	VXORPS Y0, Y0, Y0
	VXORPS Y4, Y4, Y4
	VXORPS Y8, Y8, Y8
	XORQ   AX, AX

s3hloop1:
	VCVTPH2PS   (BX)(AX*1), Y15
	VFMADD231PS (SI)(AX*2), Y15, Y0
	VFMADD231PS (R11)(AX*2), Y15, Y4
	VFMADD231PS (R12)(AX*2), Y15, Y8
	ADDQ        $16, AX
	CMPQ        AX, R13
	JLT         s3hloop1
	HSUM(Y0,    X0, Y1, X1)
	VMOVSS      X0, (DI)
	HSUM(Y4,    X4, Y5, X5)
	VMOVSS      X4, (DI)(R8*1)
	HSUM(Y8,    X8, Y9, X9)
	VMOVSS      X8, (DI)(R8*2)
	ADDQ        $4, DI
	ADDQ        R13, BX
	DECQ        CX
	JMP         s3hrows1

s3hdone:
	VZEROUPPER
	RET

// func accumF32AVX2(out *float32, w *float32, stride, nh int, v *float32, n, d int)
TEXT ·accumF32AVX2(SB), NOSPLIT, $0-56
	ACCUM(KFMA32, $0, 32)

// func accumF16AVX2(out *float32, w *float32, stride, nh int, v *uint16, n, d int)
TEXT ·accumF16AVX2(SB), NOSPLIT, $0-56
	ACCUM(KFMA16, $1, 16)

// func dequantQ8AVX2(x *float32, q *int8, s *uint16, nb, qb int)
// qb must be a multiple of 8 and nb positive.
TEXT ·dequantQ8AVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ s+16(FP), DX
	MOVQ nb+24(FP), CX
	MOVQ qb+32(FP), R8

dqblock:
	MOVWLZX      (DX), AX
	VMOVD        AX, X1
	VCVTPH2PS    X1, X1
	VBROADCASTSS X1, Y1
	MOVQ         R8, R9

dqchunk:
	VPMOVSXBD (SI), Y2
	VCVTDQ2PS Y2, Y2
	VMULPS    Y1, Y2, Y2
	VMOVUPS   Y2, (DI)
	ADDQ      $8, SI
	ADDQ      $32, DI
	SUBQ      $8, R9
	JNZ       dqchunk
	ADDQ      $2, DX
	DECQ      CX
	JNZ       dqblock
	VZEROUPPER
	RET

// func toF16AVX2(h *uint16, x *float32, n int)
// n must be a positive multiple of 8; rounding to nearest even.
TEXT ·toF16AVX2(SB), NOSPLIT, $0-24
	MOVQ h+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX

f16loop:
	VMOVUPS   (SI), Y0
	VCVTPS2PH $0, Y0, (DI)
	ADDQ      $32, SI
	ADDQ      $16, DI
	SUBQ      $8, CX
	JNZ       f16loop
	VZEROUPPER
	RET

// func accumF32x2AVX2(out *float32, w *float32, stride, np int, v *float32, n, d int)
//
// Register tile of two heads by 32 columns: each value chunk loaded serves
// both heads (six loads per eight FMAs against nine per eight in
// accumF32AVX2). np is the number of head pairs.
TEXT ·accumF32x2AVX2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ stride+16(FP), R8
	SHLQ $2, R8
	MOVQ np+24(FP), R9
	MOVQ v+32(FP), R12
	MOVQ n+40(FP), R11
	MOVQ d+48(FP), R13
	SHLQ $2, R13 // row bytes

a2pair:
	LEAQ (SI)(R8*1), R10  // second head's weights
	LEAQ (DI)(R13*1), DX  // second head's output
	XORQ AX, AX           // column byte offset

a2cols32:
	MOVQ    R13, R14
	SUBQ    AX, R14
	CMPQ    R14, $128
	JLT     a2cols8
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS 32(DI)(AX*1), Y1
	VMOVUPS 64(DI)(AX*1), Y2
	VMOVUPS 96(DI)(AX*1), Y3
	VMOVUPS (DX)(AX*1), Y4
	VMOVUPS 32(DX)(AX*1), Y5
	VMOVUPS 64(DX)(AX*1), Y6
	VMOVUPS 96(DX)(AX*1), Y7
	MOVQ    R12, BX
	XORQ    CX, CX

a2rows32:
	CMPQ         CX, R11
	JGE          a2store32
	VMOVUPS      (BX)(AX*1), Y8
	VMOVUPS      32(BX)(AX*1), Y9
	VMOVUPS      64(BX)(AX*1), Y10
	VMOVUPS      96(BX)(AX*1), Y11
	VBROADCASTSS (SI)(CX*4), Y12
	VBROADCASTSS (R10)(CX*4), Y13
	VFMADD231PS  Y8, Y12, Y0
	VFMADD231PS  Y9, Y12, Y1
	VFMADD231PS  Y10, Y12, Y2
	VFMADD231PS  Y11, Y12, Y3
	VFMADD231PS  Y8, Y13, Y4
	VFMADD231PS  Y9, Y13, Y5
	VFMADD231PS  Y10, Y13, Y6
	VFMADD231PS  Y11, Y13, Y7
	ADDQ         R13, BX
	INCQ         CX
	JMP          a2rows32

a2store32:
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	VMOVUPS Y4, (DX)(AX*1)
	VMOVUPS Y5, 32(DX)(AX*1)
	VMOVUPS Y6, 64(DX)(AX*1)
	VMOVUPS Y7, 96(DX)(AX*1)
	ADDQ    $128, AX
	JMP     a2cols32

a2cols8:
	CMPQ    AX, R13
	JGE     a2next
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS (DX)(AX*1), Y4
	MOVQ    R12, BX
	XORQ    CX, CX

a2rows8:
	CMPQ         CX, R11
	JGE          a2store8
	VMOVUPS      (BX)(AX*1), Y8
	VBROADCASTSS (SI)(CX*4), Y12
	VBROADCASTSS (R10)(CX*4), Y13
	VFMADD231PS  Y8, Y12, Y0
	VFMADD231PS  Y8, Y13, Y4
	ADDQ         R13, BX
	INCQ         CX
	JMP          a2rows8

a2store8:
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y4, (DX)(AX*1)
	ADDQ    $32, AX
	JMP     a2cols8

a2next:
	LEAQ (DI)(R13*2), DI
	LEAQ (SI)(R8*2), SI
	DECQ R9
	JNZ  a2pair
	VZEROUPPER
	RET

// func widenF16AVX2(x *float32, h *uint16, n int)
// n must be a positive multiple of 8.
TEXT ·widenF16AVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ h+8(FP), SI
	MOVQ n+16(FP), CX

w16by32:
	CMPQ      CX, $32
	JLT       w16by8
	VCVTPH2PS (SI), Y0
	VCVTPH2PS 16(SI), Y1
	VCVTPH2PS 32(SI), Y2
	VCVTPH2PS 48(SI), Y3
	VMOVUPS   Y0, (DI)
	VMOVUPS   Y1, 32(DI)
	VMOVUPS   Y2, 64(DI)
	VMOVUPS   Y3, 96(DI)
	ADDQ      $64, SI
	ADDQ      $128, DI
	SUBQ      $32, CX
	JMP       w16by32

w16by8:
	TESTQ     CX, CX
	JZ        w16done
	VCVTPH2PS (SI), Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       w16by8

w16done:
	VZEROUPPER
	RET

// func prefetchAMD64(p unsafe.Pointer, n int)
//
// One PREFETCHT1 per 64 bytes of [p, p+n).
TEXT ·prefetchAMD64(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	ADDQ SI, CX

pfloop:
	CMPQ       SI, CX
	JAE        pfdone
	PREFETCHT1 (SI)
	ADDQ       $64, SI
	JMP        pfloop

pfdone:
	RET
