// Macros of the 512-bit eight-input VNNI kernels (packed_amd64.s,
// packed_q4k_amd64.s), which share one frame and one register plan: see
// the comment before packedQ4_0x8VNNI.

// VZARGS and VZPASSARGS load the arguments of the 512-bit VNNI kernels
// (all have the same frame), the first at entry with the type's block
// bytes bb (AX = the group stride) and byte constant c (Z15), the second at
// the start of each pass. VZARGS is VZCONSTS, the arguments that stay, and
// VZSETARGS, those an eight-input kernel loads again for each set of eight
// inputs (see VZSETEND). Kept in this header, out of vet's sight, so that
// vet does not check their frame offsets against whichever function stands
// before them.
#define VZARGS(bb, c) \
	VZCONSTS(c);      \
	VZSETARGS(bb)

#define VZCONSTS(c) \
	MOVQ         ystride+32(FP), DX;  \
	MOVQ         ostride+56(FP), R15; \
	MOVQ         pf+64(FP), R13;      \
	LEAQ         (R15)(R15*2), R11;   \
	VPBROADCASTD c, Z15

#define VZSETARGS(bb) \
	MOVQ   w+0(FP), SI;       \
	MOVQ   groups+8(FP), R10; \
	MOVQ   out+48(FP), R14;   \
	MOVQ   nb+16(FP), AX;     \
	IMUL3Q bb, AX, AX;        \
	MOVL   $0xffff, R12;      \
	KMOVW  R12, K1

#define VZPASSARGS \
	MOVQ y+24(FP), DI;  \
	MOVQ e8+40(FP), BX; \
	MOVQ nb+16(FP), CX

// PK8INPUTS points R8 and R9 at the fourth and seventh inputs of an
// eight-input kernel, DX bytes apart from the first at DI (see VZ8MUL8).
#define PK8INPUTS \
	LEAQ (DX)(DX*2), R8; \
	LEAQ (DI)(R8*2), R9; \
	ADDQ DI, R8

// VZ8MUL8 adds the products of the unsigned weight runs in wreg with the
// eight inputs' quants at offset yo of their blocks to Z16..Z23.
#define VZ8MUL8(yo, wreg) \
	VPDPBUSD.BCST yo(DI), wreg, Z16;       \
	VPDPBUSD.BCST yo(DI)(DX*1), wreg, Z17; \
	VPDPBUSD.BCST yo(DI)(DX*2), wreg, Z18; \
	VPDPBUSD.BCST yo(R8), wreg, Z19;       \
	VPDPBUSD.BCST yo(DI)(DX*4), wreg, Z20; \
	VPDPBUSD.BCST yo(R8)(DX*2), wreg, Z21; \
	VPDPBUSD.BCST yo(R9), wreg, Z22;       \
	VPDPBUSD.BCST yo(R9)(DX*1), wreg, Z23

// VZ8LOAD loads the run at wo(SI) of both groups into zreg (yreg is its
// low half).
#define VZ8LOAD(wo, yreg, zreg) \
	VMOVDQU      wo(SI), yreg; \
	VINSERTI64X4 $1, wo(SI)(AX*1), zreg, zreg

// VZ8SINGLE prepares a pass at the last group of an odd count: AX = 0 and
// the mask K1 keeps the stores to one group.
#define VZ8SINGLE(label) \
	CMPQ  R10, $1;    \
	JNE   label;      \
	XORL  AX, AX;     \
	MOVL  $0xff, R12; \
	KMOVW R12, K1

// VZPREF prefetches the line at offset o of the two groups' blocks ahead
// (R13 and R12 bytes: see VZ8PASS).
#define VZPREF(o) \
	PREFETCHT1 o(SI)(R13*1); \
	PREFETCHT1 o(SI)(R12*1)

// VZ4MUL4 adds the products of the weight runs in wreg with the four
// inputs' quants at offset yo to a0..a3.
#define VZ4MUL4(yo, wreg, a0, a1, a2, a3) \
	VPDPBUSD.BCST yo(DI), wreg, a0;       \
	VPDPBUSD.BCST yo(DI)(DX*1), wreg, a1; \
	VPDPBUSD.BCST yo(DI)(DX*2), wreg, a2; \
	VPDPBUSD.BCST yo(R8), wreg, a3

// Q8KRECORD is the size in bytes of a Q8_K input record of the K-quant
// kernels (q8kRecordWords words: see qacts.e8).
#define Q8KRECORD 416

// The K-quant eight-input kernels keep the eight inputs' float sums in a
// 512-byte frame, 64 bytes an input, since their block sums take the
// registers the others keep them in. VZ8FRAMECLEAR clears them at the start
// of a pass; VZ8FRAMEEND is VZ8END for them (it sets R11 = 3*R15 again, for
// kernels that count in R11).
#define VZ8FRAMECLEAR \
	VPXORD  Z14, Z14, Z14; \
	VMOVUPS Z14, 0(SP);    \
	VMOVUPS Z14, 64(SP);   \
	VMOVUPS Z14, 128(SP);  \
	VMOVUPS Z14, 192(SP);  \
	VMOVUPS Z14, 256(SP);  \
	VMOVUPS Z14, 320(SP);  \
	VMOVUPS Z14, 384(SP);  \
	VMOVUPS Z14, 448(SP)

// VZPASSEND ends a pass whose outputs are stored: SI past its second
// group, R14 at the next pair's outputs, and on to label while groups
// remain; else the kernel returns.
#define VZPASSEND(label) \
	ADDQ AX, SI;     \
	ADDQ $64, R14;   \
	SUBQ $2, R10;    \
	JG   label;      \
	VZEROUPPER;      \
	RET

// VZSETEND is VZPASSEND for the eight-input kernels, which take sets+72(FP)
// sets of eight inputs: after a set's last pass it moves to the next set,
// whose quants are 8*DX bytes further, whose records start where BX
// stopped (every pass walks one record per block) and whose outputs are
// 8*R15 bytes further, and starts it at setlabel (VZSETARGS) over the same
// groups, which the set before left in L1.
#define VZSETEND(label, setlabel) \
	ADDQ AX, SI;            \
	ADDQ $64, R14;          \
	SUBQ $2, R10;           \
	JG   label;             \
	MOVQ BX, e8+40(FP);     \
	MOVQ y+24(FP), DI;      \
	LEAQ (DI)(DX*8), DI;    \
	MOVQ DI, y+24(FP);      \
	MOVQ out+48(FP), R14;   \
	LEAQ (R14)(R15*8), R14; \
	MOVQ R14, out+48(FP);   \
	DECQ sets+72(FP);       \
	JG   setlabel;          \
	VZEROUPPER;             \
	RET

// VZ8FRAMESTORE stores the float sums at acc(SP) to out under K1.
#define VZ8FRAMESTORE(acc, out) \
	VMOVUPS acc(SP), Z14; \
	VMOVUPS Z14, K1, out

#define VZ8FRAMEEND(label, setlabel) \
	LEAQ (R15)(R15*2), R11;              \
	VZ8FRAMESTORE(0, (R14));             \
	VZ8FRAMESTORE(64, (R14)(R15*1));     \
	VZ8FRAMESTORE(128, (R14)(R15*2));    \
	VZ8FRAMESTORE(192, (R14)(R11*1));    \
	LEAQ (R14)(R15*4), R12;              \
	VZ8FRAMESTORE(256, (R12));           \
	VZ8FRAMESTORE(320, (R12)(R15*1));    \
	VZ8FRAMESTORE(384, (R12)(R15*2));    \
	VZ8FRAMESTORE(448, (R12)(R11*1));    \
	VZSETEND(label, setlabel)

// VZ4PASS starts a pass of a four-input kernel over a pair of groups, the
// first input at DI (R8 = the fourth), clearing the float sums a0..a3.
#define VZ4PASS(a0, a1, a2, a3) \
	LEAQ   (DX)(DX*2), R8;   \
	ADDQ   DI, R8;           \
	LEAQ   (R13)(AX*1), R12; \
	VPXORD a0, a0, a0;       \
	VPXORD a1, a1, a1;       \
	VPXORD a2, a2, a2;       \
	VPXORD a3, a3, a3

// VZ4END is VZ8END for four inputs, whose float sums are a0..a3 (it sets
// R11 = 3*R15 again, for kernels that count in R11).
#define VZ4END(label, a0, a1, a2, a3) \
	LEAQ    (R15)(R15*2), R11;    \
	VMOVUPS a0, K1, (R14);        \
	VMOVUPS a1, K1, (R14)(R15*1); \
	VMOVUPS a2, K1, (R14)(R15*2); \
	VMOVUPS a3, K1, (R14)(R11*1); \
	VZPASSEND(label)
