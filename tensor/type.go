// Package tensor defines the element formats of GGUF tensors (plain floats and
// ggml's block-quantized formats) and the portable kernels that read them.
//
// Formats are identified by their ggml type ids so that a GGUF tensor info can
// be used as is. Every quantized format stores a row as a sequence of
// fixed-size blocks; a row's length must be a multiple of the block size.
package tensor

import "fmt"

// Type is a ggml tensor element type, numbered as in GGUF files.
type Type uint32

// The ggml type ids. Only the ones with a layout below are supported; the
// others are named so that errors can say what a file contains.
const (
	F32  Type = 0
	F16  Type = 1
	Q4_0 Type = 2
	Q4_1 Type = 3
	Q5_0 Type = 6
	Q5_1 Type = 7
	Q8_0 Type = 8
	Q8_1 Type = 9
	Q2_K Type = 10
	Q3_K Type = 11
	Q4_K Type = 12
	Q5_K Type = 13
	Q6_K Type = 14
	Q8_K Type = 15
	BF16 Type = 30
)

// layout is a format's block geometry: elements and bytes per block.
type layout struct {
	name   string
	block  int
	nbytes int
}

// layouts is indexed by type id: an array rather than a map because Row and
// the kernels look a layout up for every weight row.
var layouts = [...]layout{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	BF16: {"BF16", 1, 2},
	Q4_0: {"Q4_0", 32, 2 + 16},
	Q4_1: {"Q4_1", 32, 2 + 2 + 16},
	Q5_0: {"Q5_0", 32, 2 + 4 + 16},
	Q5_1: {"Q5_1", 32, 2 + 2 + 4 + 16},
	Q8_0: {"Q8_0", 32, 2 + 32},
	// Q8_1 stores its delta and d*sum(q) as two fp16 values (36 bytes), as
	// ggml-common.h has since 2024; the old float32 pair (40 bytes) is gone.
	Q8_1: {"Q8_1", 32, 2 + 2 + 32},
	Q2_K: {"Q2_K", 256, 16 + 64 + 2 + 2},
	Q3_K: {"Q3_K", 256, 32 + 64 + 12 + 2},
	Q4_K: {"Q4_K", 256, 2 + 2 + 12 + 128},
	Q5_K: {"Q5_K", 256, 2 + 2 + 12 + 32 + 128},
	Q6_K: {"Q6_K", 256, 128 + 64 + 16 + 2},
	Q8_K: {"Q8_K", 256, 4 + 256 + 32},
}

// Known reports whether t is a type whose layout Kiln knows.
func (t Type) Known() bool { _, ok := t.layout(); return ok }

func (t Type) layout() (layout, bool) {
	if uint64(t) < uint64(len(layouts)) && layouts[t].block != 0 {
		return layouts[t], true
	}
	return layout{}, false
}

// String returns the ggml name of the type, or "type(N)" for an unknown id.
func (t Type) String() string {
	if l, ok := t.layout(); ok {
		return l.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize is the number of elements in one block (1 for plain floats).
func (t Type) BlockSize() int { l, _ := t.layout(); return l.block }

// BlockBytes is the size in bytes of one block.
func (t Type) BlockBytes() int { l, _ := t.layout(); return l.nbytes }

// RowBytes returns the bytes taken by n consecutive elements, or an error if
// the type is unknown or n is not a whole number of blocks.
func (t Type) RowBytes(n int) (int, error) {
	l, ok := t.layout()
	if !ok {
		return 0, fmt.Errorf("unknown tensor type %d", uint32(t))
	}
	if n < 0 || n%l.block != 0 {
		return 0, fmt.Errorf("%s: %d elements is not a multiple of the block size %d", l.name, n, l.block)
	}
	return n / l.block * l.nbytes, nil
}

// ParseType returns the type named s (case-insensitive ggml name such as "q4_k").
func ParseType(s string) (Type, error) {
	for t, l := range layouts {
		if l.block != 0 && equalFold(l.name, s) {
			return Type(t), nil
		}
	}
	return 0, fmt.Errorf("unknown tensor type %q", s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}
