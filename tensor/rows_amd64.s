//go:build amd64 && !purego

#include "textflag.h"

// Multi-row entry points for the float-route kernels of kernels_amd64.s:
// each loops over rows rb bytes apart, calling the one-row kernel for each
// and storing its result, so that one call from Go covers a worker's whole
// range of rows (a Go call, closure and row slicing per row cost 30-40% on
// top of a short row's dot product). The loop state lives in the frame
// because the kernel may use every register.

// ROWS loops the one-row kernel dot over the rows: its arguments (w, x,
// n; with xs, also xsum) are at 0(SP) up, its result at res(SP); the
// frame above them holds the row pointer, the rows left and the output
// pointer at wp(SP), left(SP) and op(SP). The Go frame arguments are
// rb+8(FP), rows+16(FP), x+24(FP), then xsum (when xs), n and out.
#define ROWS(dot, xs, nArg, outArg, res, wp, left, op) \
	MOVQ w+0(FP), AX;          \
	MOVQ AX, wp(SP);           \
	MOVQ rows+16(FP), AX;      \
	MOVQ AX, left(SP);         \
	MOVQ outArg, AX;           \
	MOVQ AX, op(SP);           \
loop:                      \
	MOVQ  left(SP), AX;        \
	TESTQ AX, AX;              \
	JZ    done;                \
	MOVQ  wp(SP), AX;          \
	MOVQ  AX, 0(SP);           \
	MOVQ  x+24(FP), AX;        \
	MOVQ  AX, 8(SP);           \
	xs;                        \
	MOVQ  nArg, AX;            \
	MOVQ  AX, res-8(SP);       \
	CALL  dot;                 \
	MOVSS res(SP), X0;         \
	MOVQ  op(SP), AX;          \
	MOVSS X0, (AX);            \
	ADDQ  $4, op(SP);          \
	MOVQ  rb+8(FP), AX;        \
	ADDQ  AX, wp(SP);          \
	DECQ  left(SP);            \
	JMP   loop;                \
done:                      \
	RET

// XSUM passes the kernel's xsum argument.
#define XSUM MOVQ xsum+32(FP), AX; MOVQ AX, 16(SP)

// ROWS5 is ROWS for kernels of (w, x, n): the signature
// func(w *byte, rb, rows int, x *float32, n int, out *float32).
#define ROWS5(dot) ROWS(dot, NOP, n+32(FP), out+40(FP), 24, 32, 40, 48)

// ROWS6 is ROWS for kernels of (w, x, xsum, n): the signature
// func(w *byte, rb, rows int, x, xsum *float32, n int, out *float32).
#define ROWS6(dot) ROWS(dot, XSUM, n+40(FP), out+48(FP), 32, 40, 48, 56)

// func dotF32RowsAVX2(w *byte, rb, rows int, x *float32, n int, out *float32)
TEXT ·dotF32RowsAVX2(SB), NOSPLIT, $56-48
	ROWS5(·dotF32AVX2(SB))

// func dotF16RowsAVX2(w *byte, rb, rows int, x *float32, n int, out *float32)
TEXT ·dotF16RowsAVX2(SB), NOSPLIT, $56-48
	ROWS5(·dotF16AVX2(SB))

// func dotBF16RowsAVX2(w *byte, rb, rows int, x *float32, n int, out *float32)
TEXT ·dotBF16RowsAVX2(SB), NOSPLIT, $56-48
	ROWS5(·dotBF16AVX2(SB))

// func dotQ8_0RowsAVX2(w *byte, rb, rows int, x *float32, n int, out *float32)
TEXT ·dotQ8_0RowsAVX2(SB), NOSPLIT, $56-48
	ROWS5(·dotQ8_0AVX2(SB))

// func dotQ4_0RowsAVX2(w *byte, rb, rows int, x *float32, n int, out *float32)
TEXT ·dotQ4_0RowsAVX2(SB), NOSPLIT, $56-48
	ROWS5(·dotQ4_0AVX2(SB))

// func dotQ6KRowsAVX2(w *byte, rb, rows int, x *float32, n int, out *float32)
TEXT ·dotQ6KRowsAVX2(SB), NOSPLIT, $56-48
	ROWS5(·dotQ6KAVX2(SB))

// func dotQ4KRowsAVX2(w *byte, rb, rows int, x, xsum *float32, n int, out *float32)
TEXT ·dotQ4KRowsAVX2(SB), NOSPLIT, $64-56
	ROWS6(·dotQ4KAVX2(SB))

// func dotQ5KRowsAVX2(w *byte, rb, rows int, x, xsum *float32, n int, out *float32)
TEXT ·dotQ5KRowsAVX2(SB), NOSPLIT, $64-56
	ROWS6(·dotQ5KAVX2(SB))

// HSUM leaves the sum of the eight lanes of y in lane 0 of x (x is y's low
// half), using tmp; the same order as kernels_amd64.s's HSUM, so that a row
// done here matches one done by dotF32x4AVX2 bit for bit.
#define HSUM(y, x, tmp) \
	VEXTRACTF128 $1, y, tmp; \
	VADDPS       tmp, x, x;  \
	VHADDPS      x, x, x;    \
	VHADDPS      x, x, x

// F32PAIR accumulates w0 (Y8) and w1 (Y9) times the input at xmem into
// acc0 and acc1.
#define F32PAIR(xmem, acc0, acc1) \
	VMOVUPS     xmem, Y10;      \
	VFMADD231PS Y10, Y8, acc0;  \
	VFMADD231PS Y10, Y9, acc1

// func dotF32x4Rows2AVX2(w *byte, rb, pairs int, x *float32, xstride, n int, out *float32, ostride int)
// Float32 rows in pairs times four inputs (xstride bytes apart), n
// elements (a multiple of 8): eight independent accumulators, enough to
// cover the FMA latency on both ports, where one row's four are not. Each
// (row, input) sum is accumulated and reduced exactly as dotF32x4AVX2 does.
// out gets rows r, r+1 of input k at k*ostride bytes.
TEXT ·dotF32x4Rows2AVX2(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), R12
	MOVQ rb+8(FP), R9
	MOVQ pairs+16(FP), R10
	MOVQ xstride+32(FP), R8
	LEAQ (R8)(R8*2), R11
	MOVQ out+48(FP), R14
	MOVQ ostride+56(FP), R15

f32r2row:
	TESTQ  R10, R10
	JZ     f32r2end
	MOVQ   R12, SI
	MOVQ   x+24(FP), DI
	MOVQ   n+40(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

f32r2loop:
	CMPQ    CX, $8
	JLT     f32r2store
	VMOVUPS (SI), Y8
	VMOVUPS (SI)(R9*1), Y9
	F32PAIR((DI), Y0, Y4)
	F32PAIR((DI)(R8*1), Y1, Y5)
	F32PAIR((DI)(R8*2), Y2, Y6)
	F32PAIR((DI)(R11*1), Y3, Y7)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     f32r2loop

f32r2store:
	HSUM(Y0, X0, X8)
	HSUM(Y1, X1, X8)
	HSUM(Y2, X2, X8)
	HSUM(Y3, X3, X8)
	HSUM(Y4, X4, X8)
	HSUM(Y5, X5, X8)
	HSUM(Y6, X6, X8)
	HSUM(Y7, X7, X8)
	MOVQ  R14, AX
	MOVSS X0, (AX)
	MOVSS X4, 4(AX)
	ADDQ  R15, AX
	MOVSS X1, (AX)
	MOVSS X5, 4(AX)
	ADDQ  R15, AX
	MOVSS X2, (AX)
	MOVSS X6, 4(AX)
	ADDQ  R15, AX
	MOVSS X3, (AX)
	MOVSS X7, 4(AX)
	ADDQ  $8, R14
	LEAQ  (R12)(R9*2), R12
	DECQ  R10
	JMP   f32r2row

f32r2end:
	VZEROUPPER
	RET
