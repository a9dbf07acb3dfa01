//go:build amd64 && !purego

#include "textflag.h"

// EXPBCAST broadcasts the float32 constant c (a uint32 bit pattern) to y.
#define EXPBCAST(c, xt, y) \
	MOVL         c, AX;  \
	VMOVD        AX, xt; \
	VBROADCASTSS xt, y

// EXPCONST loads the constants EXPPS2 uses: Y4 = -87.3 (lowest argument),
// Y5 = log2(e), Y6 = C1, Y7 = 0.5, Y8 = 1.0.
#define EXPCONST \
	EXPBCAST($0xc2ae999a, X4, Y4); \
	EXPBCAST($0x3fb8aa3b, X5, Y5); \
	EXPBCAST($0x3f318000, X6, Y6); \
	EXPBCAST($0x3f000000, X7, Y7); \
	EXPBCAST($0x3f800000, X8, Y8)

// EXPPS2 sets Y0 = exp(Y0) and Y9 = exp(Y9) for arguments in [-87.3,
// 88.3] with the steps of Expf in exp.go: k = floor(x*log2e + 0.5), r = x -
// k*C1 - k*C2, then the polynomial, then 2^k put into the exponent. The two
// vectors' steps are interleaved: one exponential is a chain of some twenty
// dependent steps, and two chains give the out-of-order core twice the
// independent work within the same window (BenchmarkVectorExp on Zen 4,
// 1024 elements: scores 448-474 -> 369-379 ns, silu 537-615 -> 418-434
// against one vector a pass). Both go through the same steps, lane for
// lane, so a kernel's last eight elements take it with Y9 a copy of Y0.
// Clobbers Y1-Y3 and Y10-Y12.
#define EXPPS2 \
	VMOVAPS      Y0, Y1;               \
	VMOVAPS      Y9, Y11;              \
	VFMADD213PS  Y7, Y5, Y1;           \
	VFMADD213PS  Y7, Y5, Y11;          \
	VROUNDPS     $1, Y1, Y1;           \
	VROUNDPS     $1, Y11, Y11;         \
	VFNMADD231PS Y6, Y1, Y0;           \
	VFNMADD231PS Y6, Y11, Y9;          \
	VBROADCASTSS expc2<>(SB), Y3;      \
	VFNMADD231PS Y3, Y1, Y0;           \
	VFNMADD231PS Y3, Y11, Y9;          \
	VBROADCASTSS expp0<>(SB), Y2;      \
	VMOVAPS      Y2, Y10;              \
	VBROADCASTSS expp1<>(SB), Y3;      \
	VFMADD213PS  Y3, Y0, Y2;           \
	VFMADD213PS  Y3, Y9, Y10;          \
	VBROADCASTSS expp2<>(SB), Y3;      \
	VFMADD213PS  Y3, Y0, Y2;           \
	VFMADD213PS  Y3, Y9, Y10;          \
	VBROADCASTSS expp3<>(SB), Y3;      \
	VFMADD213PS  Y3, Y0, Y2;           \
	VFMADD213PS  Y3, Y9, Y10;          \
	VBROADCASTSS expp4<>(SB), Y3;      \
	VFMADD213PS  Y3, Y0, Y2;           \
	VFMADD213PS  Y3, Y9, Y10;          \
	VFMADD213PS  Y7, Y0, Y2;           \
	VFMADD213PS  Y7, Y9, Y10;          \
	VMULPS       Y0, Y0, Y3;           \
	VMULPS       Y9, Y9, Y12;          \
	VADDPS       Y8, Y0, Y0;           \
	VADDPS       Y8, Y9, Y9;           \
	VFMADD231PS  Y3, Y2, Y0;           \
	VFMADD231PS  Y12, Y10, Y9;         \
	VCVTPS2DQ    Y1, Y1;               \
	VCVTPS2DQ    Y11, Y11;             \
	VPSLLD       $23, Y1, Y1;          \
	VPSLLD       $23, Y11, Y11;        \
	VPADDD       Y8, Y1, Y1;           \
	VPADDD       Y8, Y11, Y11;         \
	VMULPS       Y1, Y0, Y0;           \
	VMULPS       Y11, Y9, Y9

// EXPSUMADD adds the eight float32 lanes of y (x its low half) to the
// float64 sums Y13 (lanes 0-3) and Y14 (lanes 4-7), using Y1.
#define EXPSUMADD(y, x) \
	VCVTPS2PD    x, Y1;        \
	VADDPD       Y1, Y13, Y13; \
	VEXTRACTF128 $1, y, X1;    \
	VCVTPS2PD    X1, Y1;       \
	VADDPD       Y1, Y14, Y14

// EXPSUMEND adds up the float64 sums of EXPSUMADD into ret and returns.
#define EXPSUMEND(ret) \
	VADDPD       Y14, Y13, Y13; \
	VEXTRACTF128 $1, Y13, X0;   \
	VADDPD       X0, X13, X13;  \
	VHADDPD      X13, X13, X13; \
	VZEROUPPER;                 \
	MOVSD        X13, ret;      \
	RET

// expmask is eight lanes set, then eight clear: the eight from 32-4r
// bytes in set the first r lanes.
DATA expmask<>+0(SB)/8, $-1
DATA expmask<>+8(SB)/8, $-1
DATA expmask<>+16(SB)/8, $-1
DATA expmask<>+24(SB)/8, $-1
DATA expmask<>+32(SB)/8, $0
DATA expmask<>+40(SB)/8, $0
DATA expmask<>+48(SB)/8, $0
DATA expmask<>+56(SB)/8, $0
GLOBL expmask<>(SB), RODATA|NOPTR, $64

// func expScoresAVX2(s *float32, n int, scale, m float32) float32
//
// s[j] = exp(s[j]*scale - m), sixteen at a time (EXPPS2), then eight, then
// the last one to seven under a mask (in both halves of EXPPS2, one
// stored); returns the
// sum, each lane's terms added in order. n must be positive. Arguments are
// <= 0 (m is the largest scaled score), so only the low end is clamped.
TEXT ·expScoresAVX2(SB), NOSPLIT, $0-28
	MOVQ         s+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS scale+16(FP), Y14
	VBROADCASTSS m+20(FP), Y15
	VXORPS       Y13, Y13, Y13
	EXPCONST

exploop:
	CMPQ    CX, $16
	JLT     explast
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y9
	VMULPS  Y14, Y0, Y0
	VMULPS  Y14, Y9, Y9
	VSUBPS  Y15, Y0, Y0
	VSUBPS  Y15, Y9, Y9
	VMAXPS  Y4, Y0, Y0
	VMAXPS  Y4, Y9, Y9
	EXPPS2
	VMOVUPS Y0, (DI)
	VMOVUPS Y9, 32(DI)
	VADDPS  Y0, Y13, Y13
	VADDPS  Y9, Y13, Y13
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     exploop

explast:
	CMPQ    CX, $8
	JLT     expmasked
	VMOVUPS (DI), Y0
	VMULPS  Y14, Y0, Y0
	VSUBPS  Y15, Y0, Y0
	VMAXPS  Y4, Y0, Y0
	VMOVAPS Y0, Y9
	EXPPS2
	VMOVUPS Y0, (DI)
	VADDPS  Y0, Y13, Y13
	ADDQ    $32, DI
	SUBQ    $8, CX

expmasked:
	TESTQ      CX, CX
	JZ         expdone
	LEAQ       expmask<>+32(SB), AX
	SHLQ       $2, CX
	SUBQ       CX, AX // lanes below CX/4 set
	VMOVDQU    (AX), Y1
	VMASKMOVPS (DI), Y1, Y0
	VMULPS     Y14, Y0, Y0
	VSUBPS     Y15, Y0, Y0
	VMAXPS     Y4, Y0, Y0
	VMOVAPS    Y0, Y9
	EXPPS2
	VMOVDQU    (AX), Y1
	VANDPS     Y1, Y0, Y0 // lanes past the row add 0
	VMASKMOVPS Y0, Y1, (DI)
	VADDPS     Y0, Y13, Y13

expdone:
	VEXTRACTF128 $1, Y13, X0
	VADDPS       X0, X13, X13
	VHADDPS      X13, X13, X13
	VHADDPS      X13, X13, X13
	VZEROUPPER
	MOVSS        X13, ret+24(FP)
	RET

// func expSumAVX2(x *float32, n int, m float32) float64
//
// Returns the sum of exp(x[j] - m), sixteen exponentials at a time
// (EXPPS2) and a last eight, summed in float64 (four lanes twice, the
// elements in order) so that many like terms do not lose bits.
TEXT ·expSumAVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Y15
	VXORPD       Y13, Y13, Y13
	VXORPD       Y14, Y14, Y14
	EXPCONST

expsumloop:
	CMPQ    CX, $16
	JLT     expsumlast
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y9
	VSUBPS  Y15, Y0, Y0
	VSUBPS  Y15, Y9, Y9
	VMAXPS  Y4, Y0, Y0
	VMAXPS  Y4, Y9, Y9
	EXPPS2
	EXPSUMADD(Y0, X0)
	EXPSUMADD(Y9, X9)
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     expsumloop

expsumlast:
	TESTQ   CX, CX
	JZ      expsumdone
	VMOVUPS (SI), Y0
	VSUBPS  Y15, Y0, Y0
	VMAXPS  Y4, Y0, Y0
	VMOVAPS Y0, Y9
	EXPPS2
	EXPSUMADD(Y0, X0)

expsumdone:
	EXPSUMEND(ret+24(FP))

// func expWeightsAVX2(x *float32, n int, m, scale, cutoff float32) float64
//
// x[j] = exp((x[j]-m)*scale), or 0 where that argument is below -cutoff or
// NaN (an ordered compare masks the lane); returns the sum in float64 as
// expSumAVX2 does. EXPPS2 leaves one register free, so m, scale, -cutoff
// and the first vector's mask wait in the frame.
TEXT ·expWeightsAVX2(SB), NOSPLIT, $128-40
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Y0
	VMOVUPS      Y0, 0(SP)
	VBROADCASTSS scale+20(FP), Y0
	VMOVUPS      Y0, 32(SP)
	VBROADCASTSS cutoff+24(FP), Y1
	VXORPS       Y0, Y0, Y0
	VSUBPS       Y1, Y0, Y0
	VMOVUPS      Y0, 64(SP) // -cutoff
	VXORPD       Y13, Y13, Y13
	VXORPD       Y14, Y14, Y14
	EXPCONST

expwloop:
	CMPQ    CX, $16
	JLT     expwlast
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y9
	VSUBPS  0(SP), Y0, Y0
	VSUBPS  0(SP), Y9, Y9
	VMULPS  32(SP), Y0, Y0
	VMULPS  32(SP), Y9, Y9
	VCMPPS  $0x1d, 64(SP), Y0, Y15 // x >= -cutoff, false for NaN
	VMOVUPS Y15, 96(SP)
	VCMPPS  $0x1d, 64(SP), Y9, Y15
	VMAXPS  Y4, Y0, Y0
	VMAXPS  Y4, Y9, Y9
	EXPPS2
	VANDPS  96(SP), Y0, Y0
	VANDPS  Y15, Y9, Y9
	VMOVUPS Y0, (DI)
	VMOVUPS Y9, 32(DI)
	EXPSUMADD(Y0, X0)
	EXPSUMADD(Y9, X9)
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     expwloop

expwlast:
	TESTQ   CX, CX
	JZ      expwdone
	VMOVUPS (DI), Y0
	VSUBPS  0(SP), Y0, Y0
	VMULPS  32(SP), Y0, Y0
	VCMPPS  $0x1d, 64(SP), Y0, Y15
	VMAXPS  Y4, Y0, Y0
	VMOVAPS Y0, Y9
	EXPPS2
	VANDPS  Y15, Y0, Y0
	VMOVUPS Y0, (DI)
	EXPSUMADD(Y0, X0)

expwdone:
	EXPSUMEND(ret+32(FP))

// func siluMulAVX2(gate, up *float32, n int)
//
// g[j] = g[j] / (1 + exp(-g[j])) * u[j], sixteen at a time (EXPPS2; g is
// read again after it) and a last eight. -g is clamped to [-87.3, 88.3],
// so the result saturates instead of overflowing; a NaN in g stays NaN.
TEXT ·siluMulAVX2(SB), NOSPLIT, $0-24
	MOVQ gate+0(FP), DI
	MOVQ up+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONST
	EXPBCAST($0x42b0999a, X15, Y15) // 88.3
	VXORPS Y14, Y14, Y14

siluloop:
	CMPQ    CX, $16
	JLT     silulast
	VSUBPS  (DI), Y14, Y0   // -g
	VSUBPS  32(DI), Y14, Y9
	VMAXPS  Y4, Y0, Y0
	VMAXPS  Y4, Y9, Y9
	VMINPS  Y15, Y0, Y0
	VMINPS  Y15, Y9, Y9
	EXPPS2
	VADDPS  Y8, Y0, Y0      // 1 + exp(-g)
	VADDPS  Y8, Y9, Y9
	VMOVUPS (DI), Y1
	VMOVUPS 32(DI), Y11
	VDIVPS  Y0, Y1, Y1      // g / (1 + exp(-g))
	VDIVPS  Y9, Y11, Y11
	VMULPS  (SI), Y1, Y1
	VMULPS  32(SI), Y11, Y11
	VMOVUPS Y1, (DI)
	VMOVUPS Y11, 32(DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     siluloop

silulast:
	TESTQ   CX, CX
	JZ      siludone
	VSUBPS  (DI), Y14, Y0
	VMAXPS  Y4, Y0, Y0
	VMINPS  Y15, Y0, Y0
	VMOVAPS Y0, Y9
	EXPPS2
	VADDPS  Y8, Y0, Y0
	VMOVUPS (DI), Y1
	VDIVPS  Y0, Y1, Y1
	VMULPS  (SI), Y1, Y1
	VMOVUPS Y1, (DI)

siludone:
	VZEROUPPER
	RET

DATA expc2<>+0(SB)/4, $0xb95e8083
GLOBL expc2<>(SB), RODATA|NOPTR, $4
DATA expp0<>+0(SB)/4, $0x39506967
GLOBL expp0<>(SB), RODATA|NOPTR, $4
DATA expp1<>+0(SB)/4, $0x3ab743ce
GLOBL expp1<>(SB), RODATA|NOPTR, $4
DATA expp2<>+0(SB)/4, $0x3c088908
GLOBL expp2<>(SB), RODATA|NOPTR, $4
DATA expp3<>+0(SB)/4, $0x3d2aa9c1
GLOBL expp3<>(SB), RODATA|NOPTR, $4
DATA expp4<>+0(SB)/4, $0x3e2aaaaa
GLOBL expp4<>(SB), RODATA|NOPTR, $4

DATA maxninf<>+0(SB)/4, $0xff800000
GLOBL maxninf<>(SB), RODATA|NOPTR, $4

DATA maxnan<>+0(SB)/4, $0x7fc00000
GLOBL maxnan<>(SB), RODATA|NOPTR, $4

// func maxScaledAVX2(s *float32, n int, scale float32) float32
//
// The largest scale*s[j] over n (a positive multiple of 8) scores, or NaN
// if any product is NaN, as Go's max gives. vmaxps alone would drop NaNs
// (it returns its second operand when either is NaN), so they are
// tracked apart.
TEXT ·maxScaledAVX2(SB), NOSPLIT, $0-28
	MOVQ         s+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS scale+16(FP), Y15
	VBROADCASTSS maxninf<>(SB), Y0
	VMOVAPS      Y0, Y1
	VXORPS       Y2, Y2, Y2
	VXORPS       Y3, Y3, Y3

max16:
	CMPQ     CX, $16
	JLT      max8
	VMULPS   (SI), Y15, Y4
	VMULPS   32(SI), Y15, Y5
	VCMPPS   $3, Y4, Y4, Y6
	VCMPPS   $3, Y5, Y5, Y7
	VORPS    Y6, Y2, Y2
	VORPS    Y7, Y3, Y3
	VMAXPS   Y0, Y4, Y0
	VMAXPS   Y1, Y5, Y1
	ADDQ     $64, SI
	SUBQ     $16, CX
	JMP      max16

max8:
	TESTQ    CX, CX
	JZ       maxdone
	VMULPS   (SI), Y15, Y4
	VCMPPS   $3, Y4, Y4, Y6
	VORPS    Y6, Y2, Y2
	VMAXPS   Y0, Y4, Y0

maxdone:
	VMAXPS       Y1, Y0, Y0
	VORPS        Y3, Y2, Y2
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	VMOVMSKPS    Y2, AX
	TESTL        AX, AX
	JZ           maxret
	VMOVSS       maxnan<>(SB), X0

maxret:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func indexAVX2(s *float32, n int, v float32) int
//
// The first j < n (a positive multiple of 8) with s[j] == v, or -1: 32
// elements compared per round, then the round with a match searched again
// eight at a time.
TEXT ·indexAVX2(SB), NOSPLIT, $0-32
	MOVQ         s+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS v+16(FP), Y0
	XORQ         AX, AX

idx32:
	LEAQ      32(AX), DX
	CMPQ      DX, CX
	JGT       idx8
	VCMPPS    $0, (SI)(AX*4), Y0, Y1
	VCMPPS    $0, 32(SI)(AX*4), Y0, Y2
	VCMPPS    $0, 64(SI)(AX*4), Y0, Y3
	VCMPPS    $0, 96(SI)(AX*4), Y0, Y4
	VORPS     Y1, Y2, Y2
	VORPS     Y3, Y4, Y4
	VORPS     Y2, Y4, Y4
	VMOVMSKPS Y4, DX
	TESTL     DX, DX
	JNZ       idx8
	ADDQ      $32, AX
	JMP       idx32

idx8:
	CMPQ      AX, CX
	JGE       idxnone
	VCMPPS    $0, (SI)(AX*4), Y0, Y1
	VMOVMSKPS Y1, DX
	TESTL     DX, DX
	JNZ       idxfound
	ADDQ      $8, AX
	JMP       idx8

idxfound:
	BSFL DX, DX
	ADDQ DX, AX
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET

idxnone:
	MOVQ $-1, ret+24(FP)
	VZEROUPPER
	RET

DATA nobucket<>+0(SB)/8, $65535.0
GLOBL nobucket<>(SB), RODATA|NOPTR, $8

// func bucketsAVX2(dst *uint16, x *float32, n int, m, scale, width, bar float64)
//
// Eight elements at a time, in two halves of four float64 lanes: d =
// (m-x)*scale, then d*width where d <= bar (an ordered compare, false for
// NaN) and NoBucket elsewhere, truncated to int32 and packed to uint16.
TEXT ·bucketsAVX2(SB), NOSPLIT, $0-56
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSD m+24(FP), Y15
	VBROADCASTSD scale+32(FP), Y14
	VBROADCASTSD width+40(FP), Y13
	VBROADCASTSD bar+48(FP), Y12
	VBROADCASTSD nobucket<>(SB), Y11

bucketloop:
	VCVTPS2PD   (SI), Y0
	VCVTPS2PD   16(SI), Y1
	VSUBPD      Y0, Y15, Y0
	VSUBPD      Y1, Y15, Y1
	VMULPD      Y14, Y0, Y0
	VMULPD      Y14, Y1, Y1
	VCMPPD      $0x12, Y12, Y0, Y2 // d <= bar, ordered
	VCMPPD      $0x12, Y12, Y1, Y3
	VMULPD      Y13, Y0, Y0
	VMULPD      Y13, Y1, Y1
	VBLENDVPD   Y2, Y0, Y11, Y0
	VBLENDVPD   Y3, Y1, Y11, Y1
	VCVTTPD2DQY Y0, X0
	VCVTTPD2DQY Y1, X1
	VPACKUSDW   X1, X0, X0
	VMOVDQU     X0, (DI)
	ADDQ        $32, SI
	ADDQ        $16, DI
	SUBQ        $8, CX
	JNZ         bucketloop
	VZEROUPPER
	RET

// func atMostAVX2(dst *int32, room int, x *uint16, n int, v uint16) int
//
// Sixteen elements at a time: x <= v where min(x, v) == x; a group with
// no such element costs a compare and a branch, the others' indices come
// out of the byte mask one set bit at a time (two mask bits an element).
// Stops once room indices are written.
TEXT ·atMostAVX2(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         room+8(FP), R10
	LEAQ         (DI)(R10*4), R10 // end of dst
	MOVQ         dst+0(FP), R8
	MOVQ         x+16(FP), SI
	MOVQ         n+24(FP), CX
	MOVWLZX      v+32(FP), AX
	VMOVD        AX, X15
	VPBROADCASTW X15, Y15
	XORQ         DX, DX

atmostloop:
	VMOVDQU   (SI)(DX*2), Y0
	VPMINUW   Y15, Y0, Y1
	VPCMPEQW  Y1, Y0, Y1
	VPMOVMSKB Y1, BX
	TESTL     BX, BX
	JZ        atmostnext
	ANDL      $0x55555555, BX

atmostbits:
	CMPQ  DI, R10
	JGE   atmostdone
	BSFL  BX, R9
	SHRL  $1, R9
	ADDL  DX, R9
	MOVL  R9, (DI)
	ADDQ  $4, DI
	LEAL  -1(BX), R11
	ANDL  R11, BX
	JNZ   atmostbits

atmostnext:
	ADDQ $16, DX
	CMPQ DX, CX
	JLT  atmostloop

atmostdone:
	VZEROUPPER
	SUBQ R8, DI
	SHRQ $2, DI
	MOVQ DI, ret+40(FP)
	RET
