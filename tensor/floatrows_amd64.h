// Macros of the multi-row kernels of the plain float types
// (kernels_amd64.s, which defines the HSUM and LOAD macros they use). Kept
// in this header, out of vet's sight, so that vet does not check their
// frame offsets against whichever function stands before them.

// ROWSX4FLOAT is the multi-row four-input kernel of a plain float type,
// func(w *byte, rb, rows int, x *float32, xstride, n int, out *float32,
// ostride int): rows rb bytes apart times four inputs (xstride bytes
// apart), n elements (a multiple of 8), each (row, input) summed as
// DOTFLOAT does, in eight chains: the even groups of eight elements of
// the four inputs in Y0..Y3, the odd ones in Y4..Y7. out gets row r of
// input k at k*ostride bytes.
#define ROWSX4FLOAT(load, eb) \
	MOVQ w+0(FP), R12;               \
	MOVQ rb+8(FP), R9;               \
	MOVQ rows+16(FP), R10;           \
	MOVQ xstride+32(FP), R8;         \
	LEAQ (R8)(R8*2), R11;            \
	MOVQ out+48(FP), R14;            \
	MOVQ ostride+56(FP), R15;        \
row:                                 \
	TESTQ  R10, R10;                 \
	JZ     end;                      \
	MOVQ   R12, SI;                  \
	MOVQ   x+24(FP), DI;             \
	MOVQ   n+40(FP), CX;             \
	VXORPS Y0, Y0, Y0;               \
	VXORPS Y1, Y1, Y1;               \
	VXORPS Y2, Y2, Y2;               \
	VXORPS Y3, Y3, Y3;               \
	VXORPS Y4, Y4, Y4;               \
	VXORPS Y5, Y5, Y5;               \
	VXORPS Y6, Y6, Y6;               \
	VXORPS Y7, Y7, Y7;               \
loop16:                              \
	CMPQ        CX, $16;             \
	JLT         last8;               \
	load((SI), Y8);                  \
	load(eb*8(SI), Y9);              \
	VFMADD231PS (DI), Y8, Y0;        \
	VFMADD231PS (DI)(R8*1), Y8, Y1;  \
	VFMADD231PS (DI)(R8*2), Y8, Y2;  \
	VFMADD231PS (DI)(R11*1), Y8, Y3; \
	VFMADD231PS 32(DI), Y9, Y4;      \
	VFMADD231PS 32(DI)(R8*1), Y9, Y5; \
	VFMADD231PS 32(DI)(R8*2), Y9, Y6; \
	VFMADD231PS 32(DI)(R11*1), Y9, Y7; \
	ADDQ        $(eb*16), SI;        \
	ADDQ        $64, DI;             \
	SUBQ        $16, CX;             \
	JMP         loop16;              \
last8:                               \
	CMPQ        CX, $8;              \
	JLT         store;               \
	load((SI), Y8);                  \
	VFMADD231PS (DI), Y8, Y0;        \
	VFMADD231PS (DI)(R8*1), Y8, Y1;  \
	VFMADD231PS (DI)(R8*2), Y8, Y2;  \
	VFMADD231PS (DI)(R11*1), Y8, Y3; \
store:                               \
	VADDPS Y4, Y0, Y0;               \
	VADDPS Y5, Y1, Y1;               \
	VADDPS Y6, Y2, Y2;               \
	VADDPS Y7, Y3, Y3;               \
	HSUM(Y0, X0, X8);                \
	HSUM(Y1, X1, X8);                \
	HSUM(Y2, X2, X8);                \
	HSUM(Y3, X3, X8);                \
	MOVQ  R14, AX;                   \
	MOVSS X0, (AX);                  \
	ADDQ  R15, AX;                   \
	MOVSS X1, (AX);                  \
	ADDQ  R15, AX;                   \
	MOVSS X2, (AX);                  \
	ADDQ  R15, AX;                   \
	MOVSS X3, (AX);                  \
	ADDQ  $4, R14;                   \
	ADDQ  R9, R12;                   \
	DECQ  R10;                       \
	JMP   row;                       \
end:                                 \
	VZEROUPPER;                      \
	RET

