// Macros of the multi-row kernels of the plain float types
// (kernels_amd64.s, which defines the HSUM and LOAD macros they use). Kept
// in this header, out of vet's sight, so that vet does not check their
// frame offsets against whichever function stands before them.

// ROWSFLOAT is the multi-row one-input kernel of a plain float type,
// func(w *byte, rb, rows int, x *float32, n int, out *float32): rows rb
// bytes apart, n elements each (a multiple of 8), four rows at a time so
// that four chains hide the FMA latency, each summed as DOTFLOAT does.
#define ROWSFLOAT(load, eb) \
	MOVQ w+0(FP), R12;            \
	MOVQ rb+8(FP), R9;            \
	MOVQ rows+16(FP), R10;        \
	MOVQ out+40(FP), R14;         \
	LEAQ (R9)(R9*2), R11;         \
quad:                             \
	CMPQ   R10, $4;               \
	JLT    single;                \
	MOVQ   R12, SI;               \
	MOVQ   x+24(FP), DI;          \
	MOVQ   n+32(FP), CX;          \
	VXORPS Y0, Y0, Y0;            \
	VXORPS Y1, Y1, Y1;            \
	VXORPS Y2, Y2, Y2;            \
	VXORPS Y3, Y3, Y3;            \
quadloop:                         \
	CMPQ        CX, $8;           \
	JLT         quadstore;        \
	VMOVUPS     (DI), Y8;         \
	load((SI), Y4);               \
	load((SI)(R9*1), Y5);         \
	load((SI)(R9*2), Y6);         \
	load((SI)(R11*1), Y7);        \
	VFMADD231PS Y8, Y4, Y0;       \
	VFMADD231PS Y8, Y5, Y1;       \
	VFMADD231PS Y8, Y6, Y2;       \
	VFMADD231PS Y8, Y7, Y3;       \
	ADDQ        $(eb*8), SI;      \
	ADDQ        $32, DI;          \
	SUBQ        $8, CX;           \
	JMP         quadloop;         \
quadstore:                        \
	HSUM(Y0, X0, X8);             \
	HSUM(Y1, X1, X8);             \
	HSUM(Y2, X2, X8);             \
	HSUM(Y3, X3, X8);             \
	MOVSS X0, (R14);              \
	MOVSS X1, 4(R14);             \
	MOVSS X2, 8(R14);             \
	MOVSS X3, 12(R14);            \
	ADDQ  $16, R14;               \
	LEAQ  (R12)(R9*4), R12;       \
	SUBQ  $4, R10;                \
	JMP   quad;                   \
single:                           \
	TESTQ  R10, R10;              \
	JZ     end;                   \
	MOVQ   R12, SI;               \
	MOVQ   x+24(FP), DI;          \
	MOVQ   n+32(FP), CX;          \
	VXORPS Y0, Y0, Y0;            \
singleloop:                       \
	CMPQ        CX, $8;           \
	JLT         singlestore;      \
	load((SI), Y4);               \
	VFMADD231PS (DI), Y4, Y0;     \
	ADDQ        $(eb*8), SI;      \
	ADDQ        $32, DI;          \
	SUBQ        $8, CX;           \
	JMP         singleloop;       \
singlestore:                      \
	HSUM(Y0, X0, X8);             \
	MOVSS X0, (R14);              \
	ADDQ  $4, R14;                \
	ADDQ  R9, R12;                \
	DECQ  R10;                    \
	JMP   single;                 \
end:                              \
	VZEROUPPER;                   \
	RET

// ROWS2X4FLOAT is the multi-row four-input kernel of a plain float type,
// func(w *byte, rb, pairs int, x *float32, xstride, n int, out *float32,
// ostride int): rows in pairs times four inputs (xstride bytes apart), n
// elements (a multiple of 8): eight independent chains, enough to cover
// the FMA latency on both ports, where one row's four are not, each
// summed as DOTFLOAT does. out gets rows r, r+1 of input k at k*ostride
// bytes.
#define ROWS2X4FLOAT(load, eb) \
	MOVQ w+0(FP), R12;            \
	MOVQ rb+8(FP), R9;            \
	MOVQ pairs+16(FP), R10;       \
	MOVQ xstride+32(FP), R8;      \
	LEAQ (R8)(R8*2), R11;         \
	MOVQ out+48(FP), R14;         \
	MOVQ ostride+56(FP), R15;     \
pair:                             \
	TESTQ  R10, R10;              \
	JZ     end;                   \
	MOVQ   R12, SI;               \
	MOVQ   x+24(FP), DI;          \
	MOVQ   n+40(FP), CX;          \
	VXORPS Y0, Y0, Y0;            \
	VXORPS Y1, Y1, Y1;            \
	VXORPS Y2, Y2, Y2;            \
	VXORPS Y3, Y3, Y3;            \
	VXORPS Y4, Y4, Y4;            \
	VXORPS Y5, Y5, Y5;            \
	VXORPS Y6, Y6, Y6;            \
	VXORPS Y7, Y7, Y7;            \
pairloop:                         \
	CMPQ    CX, $8;               \
	JLT     pairstore;            \
	load((SI), Y8);               \
	load((SI)(R9*1), Y9);         \
	PAIRFMA((DI), Y0, Y4);        \
	PAIRFMA((DI)(R8*1), Y1, Y5);  \
	PAIRFMA((DI)(R8*2), Y2, Y6);  \
	PAIRFMA((DI)(R11*1), Y3, Y7); \
	ADDQ    $(eb*8), SI;          \
	ADDQ    $32, DI;              \
	SUBQ    $8, CX;               \
	JMP     pairloop;             \
pairstore:                        \
	HSUM(Y0, X0, X8);             \
	HSUM(Y1, X1, X8);             \
	HSUM(Y2, X2, X8);             \
	HSUM(Y3, X3, X8);             \
	HSUM(Y4, X4, X8);             \
	HSUM(Y5, X5, X8);             \
	HSUM(Y6, X6, X8);             \
	HSUM(Y7, X7, X8);             \
	MOVQ  R14, AX;                \
	MOVSS X0, (AX);               \
	MOVSS X4, 4(AX);              \
	ADDQ  R15, AX;                \
	MOVSS X1, (AX);               \
	MOVSS X5, 4(AX);              \
	ADDQ  R15, AX;                \
	MOVSS X2, (AX);               \
	MOVSS X6, 4(AX);              \
	ADDQ  R15, AX;                \
	MOVSS X3, (AX);               \
	MOVSS X7, 4(AX);              \
	ADDQ  $8, R14;                \
	LEAQ  (R12)(R9*2), R12;       \
	DECQ  R10;                    \
	JMP   pair;                   \
end:                              \
	VZEROUPPER;                   \
	RET

// PAIRFMA accumulates the row pair's weights (Y8, Y9) times the input at
// xmem into acc0 and acc1.
#define PAIRFMA(xmem, acc0, acc1) \
	VMOVUPS     xmem, Y10;      \
	VFMADD231PS Y10, Y8, acc0;  \
	VFMADD231PS Y10, Y9, acc1
