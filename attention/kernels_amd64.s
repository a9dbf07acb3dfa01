//go:build amd64 && !purego

#include "textflag.h"

// Attention kernels for AVX2 + FMA + F16C. Rows are d elements (d a
// multiple of 8); query heads are consecutive d-float rows; score and weight
// rows of consecutive heads are stride elements apart.

// HSUM leaves the sum of the eight lanes of y in lane 0 of x (x is y's low
// half), using tmp.
#define HSUM(y, x, tmp) \
	VEXTRACTF128 $1, y, tmp; \
	VADDPS       tmp, x, x;  \
	VHADDPS      x, x, x;    \
	VHADDPS      x, x, x

// HSUM4 leaves in X8 the lane sums of Y0, Y1, Y2, Y3 (in that order),
// using Y9.
#define HSUM4 \
	VHADDPS      Y1, Y0, Y8; \
	VHADDPS      Y3, Y2, Y9; \
	VHADDPS      Y9, Y8, Y8; \
	VEXTRACTF128 $1, Y8, X9; \
	VADDPS       X9, X8, X8

// func cpuidECX1() uint32
TEXT ·cpuidECX1(SB), NOSPLIT, $0-4
	MOVL $1, AX
	XORL CX, CX
	CPUID
	MOVL CX, ret+0(FP)
	RET

// func scoresF32AVX2(out *float32, stride int, q *float32, nh int, k *float32, n, d int)
//
// Per head, four key rows at a time (four independent FMA chains); the key
// rows stay in L1 between heads, so memory sees each once.
TEXT ·scoresF32AVX2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ stride+8(FP), R8
	SHLQ $2, R8
	MOVQ q+16(FP), SI
	MOVQ nh+24(FP), R9
	MOVQ k+32(FP), R10
	MOVQ n+40(FP), R11
	MOVQ d+48(FP), R13
	SHLQ $2, R13 // row bytes

s32head:
	MOVQ R10, BX
	MOVQ DI, DX
	MOVQ R11, CX

s32rows4:
	CMPQ   CX, $4
	JLT    s32rows1
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	LEAQ   (BX)(R13*1), R14
	LEAQ   (R14)(R13*1), R15
	LEAQ   (R15)(R13*1), R12
	XORQ   AX, AX
	TESTQ  $63, R13
	JNZ    s32loop4
	// d a multiple of 16: two accumulators per row, eight FMA chains.
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14

s32loop4x2:
	VMOVUPS     (SI)(AX*1), Y4
	VMOVUPS     32(SI)(AX*1), Y5
	VFMADD231PS (BX)(AX*1), Y4, Y0
	VFMADD231PS (R14)(AX*1), Y4, Y1
	VFMADD231PS (R15)(AX*1), Y4, Y2
	VFMADD231PS (R12)(AX*1), Y4, Y3
	VFMADD231PS 32(BX)(AX*1), Y5, Y11
	VFMADD231PS 32(R14)(AX*1), Y5, Y12
	VFMADD231PS 32(R15)(AX*1), Y5, Y13
	VFMADD231PS 32(R12)(AX*1), Y5, Y14
	ADDQ        $64, AX
	CMPQ        AX, R13
	JLT         s32loop4x2
	VADDPS      Y11, Y0, Y0
	VADDPS      Y12, Y1, Y1
	VADDPS      Y13, Y2, Y2
	VADDPS      Y14, Y3, Y3
	JMP         s32sum4

s32loop4:
	VMOVUPS     (SI)(AX*1), Y4
	VFMADD231PS (BX)(AX*1), Y4, Y0
	VFMADD231PS (R14)(AX*1), Y4, Y1
	VFMADD231PS (R15)(AX*1), Y4, Y2
	VFMADD231PS (R12)(AX*1), Y4, Y3
	ADDQ        $32, AX
	CMPQ        AX, R13
	JLT         s32loop4

s32sum4:
	HSUM4
	VMOVUPS     X8, (DX)
	ADDQ        $16, DX
	LEAQ        (R12)(R13*1), BX
	SUBQ        $4, CX
	JMP         s32rows4

s32rows1:
	TESTQ  CX, CX
	JZ     s32next
	VXORPS Y0, Y0, Y0
	XORQ   AX, AX

s32loop1:
	VMOVUPS     (SI)(AX*1), Y4
	VFMADD231PS (BX)(AX*1), Y4, Y0
	ADDQ        $32, AX
	CMPQ        AX, R13
	JLT         s32loop1
	HSUM(Y0, X0, X1)
	VMOVSS      X0, (DX)
	ADDQ        $4, DX
	ADDQ        R13, BX
	DECQ        CX
	JMP         s32rows1

s32next:
	ADDQ R13, SI
	ADDQ R8, DI
	DECQ R9
	JNZ  s32head
	VZEROUPPER
	RET

// func scoresF16AVX2(out *float32, stride int, q *float32, nh int, k *uint16, n, d int)
TEXT ·scoresF16AVX2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ stride+8(FP), R8
	SHLQ $2, R8
	MOVQ q+16(FP), SI
	MOVQ nh+24(FP), R9
	MOVQ k+32(FP), R10
	MOVQ n+40(FP), R11
	MOVQ d+48(FP), R13
	SHLQ $1, R13 // key row bytes; query rows are twice that

s16head:
	MOVQ R10, BX
	MOVQ DI, DX
	MOVQ R11, CX

s16rows4:
	CMPQ   CX, $4
	JLT    s16rows1
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	LEAQ   (BX)(R13*1), R14
	LEAQ   (R14)(R13*1), R15
	LEAQ   (R15)(R13*1), R12
	XORQ   AX, AX
	TESTQ  $31, R13
	JNZ    s16loop4
	// d a multiple of 16: two accumulators per row, eight FMA chains.
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14

s16loop4x2:
	VMOVUPS     (SI)(AX*2), Y4
	VCVTPH2PS   (BX)(AX*1), Y5
	VCVTPH2PS   (R14)(AX*1), Y6
	VCVTPH2PS   (R15)(AX*1), Y7
	VCVTPH2PS   (R12)(AX*1), Y10
	VFMADD231PS Y5, Y4, Y0
	VFMADD231PS Y6, Y4, Y1
	VFMADD231PS Y7, Y4, Y2
	VFMADD231PS Y10, Y4, Y3
	VMOVUPS     32(SI)(AX*2), Y4
	VCVTPH2PS   16(BX)(AX*1), Y5
	VCVTPH2PS   16(R14)(AX*1), Y6
	VCVTPH2PS   16(R15)(AX*1), Y7
	VCVTPH2PS   16(R12)(AX*1), Y10
	VFMADD231PS Y5, Y4, Y11
	VFMADD231PS Y6, Y4, Y12
	VFMADD231PS Y7, Y4, Y13
	VFMADD231PS Y10, Y4, Y14
	ADDQ        $32, AX
	CMPQ        AX, R13
	JLT         s16loop4x2
	VADDPS      Y11, Y0, Y0
	VADDPS      Y12, Y1, Y1
	VADDPS      Y13, Y2, Y2
	VADDPS      Y14, Y3, Y3
	JMP         s16sum4

s16loop4:
	VMOVUPS     (SI)(AX*2), Y4
	VCVTPH2PS   (BX)(AX*1), Y5
	VCVTPH2PS   (R14)(AX*1), Y6
	VCVTPH2PS   (R15)(AX*1), Y7
	VCVTPH2PS   (R12)(AX*1), Y10
	VFMADD231PS Y5, Y4, Y0
	VFMADD231PS Y6, Y4, Y1
	VFMADD231PS Y7, Y4, Y2
	VFMADD231PS Y10, Y4, Y3
	ADDQ        $16, AX
	CMPQ        AX, R13
	JLT         s16loop4

s16sum4:
	HSUM4
	VMOVUPS     X8, (DX)
	ADDQ        $16, DX
	LEAQ        (R12)(R13*1), BX
	SUBQ        $4, CX
	JMP         s16rows4

s16rows1:
	TESTQ  CX, CX
	JZ     s16next
	VXORPS Y0, Y0, Y0
	XORQ   AX, AX

s16loop1:
	VMOVUPS     (SI)(AX*2), Y4
	VCVTPH2PS   (BX)(AX*1), Y5
	VFMADD231PS Y5, Y4, Y0
	ADDQ        $16, AX
	CMPQ        AX, R13
	JLT         s16loop1
	HSUM(Y0, X0, X1)
	VMOVSS      X0, (DX)
	ADDQ        $4, DX
	ADDQ        R13, BX
	DECQ        CX
	JMP         s16rows1

s16next:
	LEAQ (SI)(R13*2), SI
	ADDQ R8, DI
	DECQ R9
	JNZ  s16head
	VZEROUPPER
	RET

// func accumF32AVX2(out *float32, w *float32, stride, nh int, v *float32, n, d int)
//
// Per head, 32 output columns at a time held in Y0..Y3 over all value rows;
// the rows stay in L1 between heads.
TEXT ·accumF32AVX2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ stride+16(FP), R8
	SHLQ $2, R8
	MOVQ nh+24(FP), R9
	MOVQ v+32(FP), R10
	MOVQ n+40(FP), R11
	MOVQ d+48(FP), R13
	SHLQ $2, R13 // row bytes

a32head:
	XORQ AX, AX // column byte offset

a32cols64:
	// 64 columns: eight independent FMA chains per row.
	MOVQ    R13, R12
	SUBQ    AX, R12
	CMPQ    R12, $256
	JLT     a32cols32
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS 32(DI)(AX*1), Y1
	VMOVUPS 64(DI)(AX*1), Y2
	VMOVUPS 96(DI)(AX*1), Y3
	VMOVUPS 128(DI)(AX*1), Y5
	VMOVUPS 160(DI)(AX*1), Y6
	VMOVUPS 192(DI)(AX*1), Y7
	VMOVUPS 224(DI)(AX*1), Y8
	MOVQ    R10, BX
	XORQ    CX, CX

a32rows64:
	CMPQ         CX, R11
	JGE          a32store64
	VBROADCASTSS (SI)(CX*4), Y4
	VFMADD231PS  (BX)(AX*1), Y4, Y0
	VFMADD231PS  32(BX)(AX*1), Y4, Y1
	VFMADD231PS  64(BX)(AX*1), Y4, Y2
	VFMADD231PS  96(BX)(AX*1), Y4, Y3
	VFMADD231PS  128(BX)(AX*1), Y4, Y5
	VFMADD231PS  160(BX)(AX*1), Y4, Y6
	VFMADD231PS  192(BX)(AX*1), Y4, Y7
	VFMADD231PS  224(BX)(AX*1), Y4, Y8
	ADDQ         R13, BX
	INCQ         CX
	JMP          a32rows64

a32store64:
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	VMOVUPS Y5, 128(DI)(AX*1)
	VMOVUPS Y6, 160(DI)(AX*1)
	VMOVUPS Y7, 192(DI)(AX*1)
	VMOVUPS Y8, 224(DI)(AX*1)
	ADDQ    $256, AX
	JMP     a32cols64

a32cols32:
	MOVQ    R13, R12
	SUBQ    AX, R12
	CMPQ    R12, $128
	JLT     a32cols8
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS 32(DI)(AX*1), Y1
	VMOVUPS 64(DI)(AX*1), Y2
	VMOVUPS 96(DI)(AX*1), Y3
	MOVQ    R10, BX
	XORQ    CX, CX

a32rows32:
	CMPQ         CX, R11
	JGE          a32store32
	VBROADCASTSS (SI)(CX*4), Y4
	VFMADD231PS  (BX)(AX*1), Y4, Y0
	VFMADD231PS  32(BX)(AX*1), Y4, Y1
	VFMADD231PS  64(BX)(AX*1), Y4, Y2
	VFMADD231PS  96(BX)(AX*1), Y4, Y3
	ADDQ         R13, BX
	INCQ         CX
	JMP          a32rows32

a32store32:
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	ADDQ    $128, AX
	JMP     a32cols32

a32cols8:
	CMPQ    AX, R13
	JGE     a32next
	VMOVUPS (DI)(AX*1), Y0
	MOVQ    R10, BX
	XORQ    CX, CX

a32rows8:
	CMPQ         CX, R11
	JGE          a32store8
	VBROADCASTSS (SI)(CX*4), Y4
	VFMADD231PS  (BX)(AX*1), Y4, Y0
	ADDQ         R13, BX
	INCQ         CX
	JMP          a32rows8

a32store8:
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	JMP     a32cols8

a32next:
	ADDQ R13, DI
	ADDQ R8, SI
	DECQ R9
	JNZ  a32head
	VZEROUPPER
	RET

// func accumF16AVX2(out *float32, w *float32, stride, nh int, v *uint16, n, d int)
TEXT ·accumF16AVX2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ stride+16(FP), R8
	SHLQ $2, R8
	MOVQ nh+24(FP), R9
	MOVQ v+32(FP), R10
	MOVQ n+40(FP), R11
	MOVQ d+48(FP), R13
	SHLQ $2, R13 // output row bytes
	MOVQ R13, R15
	SHRQ $1, R15 // value row bytes

a16head:
	XORQ AX, AX // output column byte offset

a16cols64:
	// 64 columns: eight independent FMA chains per row.
	MOVQ    R13, R12
	SUBQ    AX, R12
	CMPQ    R12, $256
	JLT     a16cols32
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS 32(DI)(AX*1), Y1
	VMOVUPS 64(DI)(AX*1), Y2
	VMOVUPS 96(DI)(AX*1), Y3
	VMOVUPS 128(DI)(AX*1), Y11
	VMOVUPS 160(DI)(AX*1), Y12
	VMOVUPS 192(DI)(AX*1), Y13
	VMOVUPS 224(DI)(AX*1), Y14
	MOVQ    AX, DX
	SHRQ    $1, DX
	ADDQ    R10, DX
	XORQ    CX, CX

a16rows64:
	CMPQ         CX, R11
	JGE          a16store64
	VBROADCASTSS (SI)(CX*4), Y4
	VCVTPH2PS    (DX), Y5
	VCVTPH2PS    16(DX), Y6
	VCVTPH2PS    32(DX), Y7
	VCVTPH2PS    48(DX), Y10
	VFMADD231PS  Y5, Y4, Y0
	VFMADD231PS  Y6, Y4, Y1
	VFMADD231PS  Y7, Y4, Y2
	VFMADD231PS  Y10, Y4, Y3
	VCVTPH2PS    64(DX), Y5
	VCVTPH2PS    80(DX), Y6
	VCVTPH2PS    96(DX), Y7
	VCVTPH2PS    112(DX), Y10
	VFMADD231PS  Y5, Y4, Y11
	VFMADD231PS  Y6, Y4, Y12
	VFMADD231PS  Y7, Y4, Y13
	VFMADD231PS  Y10, Y4, Y14
	ADDQ         R15, DX
	INCQ         CX
	JMP          a16rows64

a16store64:
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	VMOVUPS Y11, 128(DI)(AX*1)
	VMOVUPS Y12, 160(DI)(AX*1)
	VMOVUPS Y13, 192(DI)(AX*1)
	VMOVUPS Y14, 224(DI)(AX*1)
	ADDQ    $256, AX
	JMP     a16cols64

a16cols32:
	MOVQ    R13, R12
	SUBQ    AX, R12
	CMPQ    R12, $128
	JLT     a16cols8
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS 32(DI)(AX*1), Y1
	VMOVUPS 64(DI)(AX*1), Y2
	VMOVUPS 96(DI)(AX*1), Y3
	MOVQ    AX, DX
	SHRQ    $1, DX
	ADDQ    R10, DX // value pointer at this column
	XORQ    CX, CX

a16rows32:
	CMPQ         CX, R11
	JGE          a16store32
	VBROADCASTSS (SI)(CX*4), Y4
	VCVTPH2PS    (DX), Y5
	VCVTPH2PS    16(DX), Y6
	VCVTPH2PS    32(DX), Y7
	VCVTPH2PS    48(DX), Y10
	VFMADD231PS  Y5, Y4, Y0
	VFMADD231PS  Y6, Y4, Y1
	VFMADD231PS  Y7, Y4, Y2
	VFMADD231PS  Y10, Y4, Y3
	ADDQ         R15, DX
	INCQ         CX
	JMP          a16rows32

a16store32:
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	ADDQ    $128, AX
	JMP     a16cols32

a16cols8:
	CMPQ    AX, R13
	JGE     a16next
	VMOVUPS (DI)(AX*1), Y0
	MOVQ    AX, DX
	SHRQ    $1, DX
	ADDQ    R10, DX
	XORQ    CX, CX

a16rows8:
	CMPQ         CX, R11
	JGE          a16store8
	VBROADCASTSS (SI)(CX*4), Y4
	VCVTPH2PS    (DX), Y5
	VFMADD231PS  Y5, Y4, Y0
	ADDQ         R15, DX
	INCQ         CX
	JMP          a16rows8

a16store8:
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	JMP     a16cols8

a16next:
	ADDQ R13, DI
	ADDQ R8, SI
	DECQ R9
	JNZ  a16head
	VZEROUPPER
	RET

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
