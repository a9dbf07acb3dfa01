//go:build amd64 && !purego

package tensor

import (
	"maps"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// Assembly kernels (kernels_amd64.s). Pointers are to the first weight byte
// and first input; counts are elements (plain floats, a multiple of 8) or
// blocks.

//go:noescape
func dotF32AVX2(w *byte, x *float32, n int) float32

//go:noescape
func dotF16AVX2(w *byte, x *float32, n int) float32

//go:noescape
func dotBF16AVX2(w *byte, x *float32, n int) float32

//go:noescape
func dotQ8_0AVX2(w *byte, x *float32, nb int) float32

//go:noescape
func dotQ8_0x4AVX2(w *byte, x *float32, stride int, nb int, out *[4]float32)

//go:noescape
func dotQ4_0AVX2(w *byte, x *float32, nb int) float32

//go:noescape
func dotQ4_0x4AVX2(w *byte, x *float32, stride int, nb int, out *[4]float32)

//go:noescape
func dotQ4KAVX2(w *byte, x *float32, xsum *float32, nb int) float32

//go:noescape
func dotQ5KAVX2(w *byte, x *float32, xsum *float32, nb int) float32

//go:noescape
func dotQ6KAVX2(w *byte, x *float32, nb int) float32

func cpuidECX1() uint32

// hasF16C reports the F16C extension (CPUID.1:ECX bit 29), which
// golang.org/x/sys/cpu does not expose; it is only consulted once AVX
// support by the OS is known.
func hasF16C() bool { return cpuidECX1()&(1<<29) != 0 }

// avx2Kernels need AVX2, FMA and F16C (every x86-64 CPU with AVX2 so far
// has all three): float-route kernels for one and four inputs and their
// multi-row forms (rows_amd64.go), and the integer route's multi-row
// kernels and activation quantizers (intkernels_amd64.go). Types without an
// assembly kernel use the portable ones.
var avx2Kernels = &kernelSet{
	name: "avx2",
	one: map[Type]rowDot{
		F32:  plainAVX2(4, dotF32AVX2, dotF32Go),
		F16:  plainAVX2(2, dotF16AVX2, dotF16Go),
		BF16: plainAVX2(2, dotBF16AVX2, dotBF16Go),
		Q8_0: blocksAVX2(34, 32, dotQ8_0AVX2),
		Q4_0: blocksAVX2(18, 32, dotQ4_0AVX2),
		Q4_K: kquantAVX2(144, dotQ4KAVX2),
		Q5_K: kquantAVX2(176, dotQ5KAVX2),
		Q6_K: blocksAVX2(210, 256, dotQ6KAVX2),
	},
	four: map[Type]rowDot4{
		F32:  plainX4AVX2(4, dotF32x4RowsAVX2, dotF32Go),
		F16:  plainX4AVX2(2, dotF16x4RowsAVX2, dotF16Go),
		BF16: plainX4AVX2(2, dotBF16x4RowsAVX2, dotBF16Go),
		Q8_0: blocks4AVX2(34, 32, dotQ8_0x4AVX2),
		Q4_0: blocks4AVX2(18, 32, dotQ4_0x4AVX2),
	},
	rows:   avx2FloatRows,
	rows4:  avx2FloatRows4,
	qrows:  avx2IntRows,
	qrows4: avx2IntRows4,
	qrows8: avx2IntRows8,
	tiled:  avx2Tiled,
	packed: map[Type]*packedKernels{Q4_0: avx2Packed, Q4_1: avx2PackedQ4_1, Q5_0: avx2PackedQ5_0, Q5_1: avx2PackedQ5_1, Q8_0: avx2PackedQ8_0, Q4_K: avx2PackedQ4K, Q5_K: avx2PackedQ5K, Q6_K: avx2PackedQ6K},
	quant8: quant8AVX2,
	quantK: quantKAVX2,
}

// plainX4AVX2 is the four-input kernel of a plain float type of size bytes
// an element: its multi-row kernel (plainRows4AVX2) over one row.
func plainX4AVX2(size int, asm func(*byte, int, int, *float32, int, int, *float32, int), tail rowDot) rowDot4 {
	rows4 := plainRows4AVX2(size, asm, tail)
	return func(w []byte, x []float32, stride int, _ []float32, _ int, out *[4]float32) {
		rows4(out[:], 1, w, len(w), 1, x, stride)
	}
}

// plainAVX2 wraps a kernel for a plain float type of size bytes per
// element: the assembly does whole groups of eight, Go the tail.
func plainAVX2(size int, asm func(*byte, *float32, int) float32, tail rowDot) rowDot {
	return func(w []byte, x, _ []float32) float32 {
		n := len(w) / size
		x = x[:n]
		n8 := n &^ 7
		var s float32
		if n8 > 0 {
			s = asm(unsafe.SliceData(w), unsafe.SliceData(x), n8)
		}
		if n8 < n {
			s += tail(w[n8*size:], x[n8:], nil)
		}
		return s
	}
}

// blocksAVX2 wraps a block kernel for blocks of bb bytes and be elements
// that needs no input sums.
func blocksAVX2(bb, be int, asm func(*byte, *float32, int) float32) rowDot {
	return func(w []byte, x, _ []float32) float32 {
		nb := len(w) / bb
		if nb == 0 {
			return 0
		}
		x = x[:be*nb]
		return asm(unsafe.SliceData(w), unsafe.SliceData(x), nb)
	}
}

// kquantAVX2 wraps a Q4_K/Q5_K kernel (blocks of bb bytes, 256 elements,
// eight input sums per block).
func kquantAVX2(bb int, asm func(*byte, *float32, *float32, int) float32) rowDot {
	return func(w []byte, x, xsum []float32) float32 {
		nb := len(w) / bb
		if nb == 0 {
			return 0
		}
		x = x[:256*nb]
		xsum = xsum[:8*nb]
		return asm(unsafe.SliceData(w), unsafe.SliceData(x), unsafe.SliceData(xsum), nb)
	}
}

// blocks4AVX2 is blocksAVX2 for the four-input kernels.
func blocks4AVX2(bb, be int, asm func(*byte, *float32, int, int, *[4]float32)) rowDot4 {
	return func(w []byte, x []float32, stride int, _ []float32, _ int, out *[4]float32) {
		nb := len(w) / bb
		if nb == 0 {
			*out = [4]float32{}
			return
		}
		x = x[:3*stride+be*nb]
		asm(unsafe.SliceData(w), unsafe.SliceData(x), stride, nb, out)
	}
}

// vnniKernels are avx2Kernels with the packed kernels of CPUs with
// AVX512-VNNI (on 256- and 512-bit registers): one vpdpbusd does the work
// of AVX2's vpmaddubsw, vpmaddwd and vpaddd, which bounded batches and
// prefill of those types by arithmetic. Their outputs are bit for bit the
// AVX2 set's.
var vnniKernels = func() *kernelSet {
	ks := *avx2Kernels
	ks.name = "avx512vnni"
	ks.packed = maps.Clone(avx2Kernels.packed)
	ks.packed[Q4_0] = vnniPackedQ4_0
	ks.packed[Q4_1] = vnniPackedQ4_1
	ks.packed[Q5_0] = vnniPackedQ5_0
	ks.packed[Q5_1] = vnniPackedQ5_1
	ks.packed[Q8_0] = vnniPackedQ8_0
	ks.packed[Q4_K] = vnniPackedQ4K
	ks.packed[Q5_K] = vnniPackedQ5K
	ks.packed[Q6_K] = vnniPackedQ6K
	return &ks
}()

// activeKernels is the kernel set MatMul uses, chosen once for this CPU.
var activeKernels = hostKernels()[0]

func avx2OK() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA && hasF16C() }

// vnniOK also asks for AVX512BW, which every CPU with AVX512-VNNI has so
// far: the 512-bit kernels shift and mask bytes and words in Z registers.
func vnniOK() bool {
	return avx2OK() && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VNNI
}

// hostKernels lists the kernel sets this host can run, fastest first.
func hostKernels() []*kernelSet {
	switch {
	case vnniOK():
		return []*kernelSet{vnniKernels, avx2Kernels, portableKernels}
	case avx2OK():
		return []*kernelSet{avx2Kernels, portableKernels}
	}
	return []*kernelSet{portableKernels}
}
