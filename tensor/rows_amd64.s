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
