package gguf

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"unsafe"

	"github.com/kiln-llm/kiln/tensor"
)

// TestOpenInPlacements checks that both placements give the same file: the
// same keys and every tensor's bytes equal to what was written, for a file
// longer than one huge page and not a multiple of it.
func TestOpenInPlacements(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	w := NewWriter()
	mustSet(t, w, "general.name", "placement")
	sizes := map[string]uint64{"big": 3<<18 + 5, "small": 17, "odd": 1000}
	want := map[string][]byte{}
	for _, name := range []string{"big", "small", "odd"} {
		data := randomBytes(rng, 4*sizes[name])
		want[name] = data
		if err := w.AddTensor(name, tensor.F32, []uint64{sizes[name]}, data); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "p.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    Placement
	}{{"mapped", Mapped}, {"huge", HugePages}} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := OpenIn(path, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := f.StringOr("general.name", ""); err != nil || got != "placement" {
				t.Errorf("general.name = %q, %v", got, err)
			}
			if len(f.Tensors) != len(want) {
				t.Fatalf("%d tensors, want %d", len(f.Tensors), len(want))
			}
			for _, ti := range f.Tensors {
				if !bytes.Equal(ti.Data, want[ti.Name]) {
					t.Errorf("tensor %s: bytes differ from the written ones", ti.Name)
				}
			}
			if tc.p == HugePages && runtime.GOOS == "linux" {
				// The file's first byte sits on a huge-page boundary, so
				// the data are covered by as few 2 MiB pages as can be.
				first := f.Tensors[0]
				start := uintptr(unsafe.Pointer(&first.Data[0])) - uintptr(first.Offset) - uintptr(f.DataOffset)
				if start%(2<<20) != 0 {
					t.Errorf("file bytes start at %#x, not on a 2 MiB boundary", start)
				}
			}
			private := tc.p == HugePages && runtime.GOOS == "linux"
			if f.Writable() != private || f.Sealed() {
				t.Fatalf("Writable() = %v, Sealed() = %v before Seal; want %v, false", f.Writable(), f.Sealed(), private)
			}
			if private {
				// A loader may rewrite tensors in place until Seal.
				b := f.Tensors[0].Data
				b[0] ^= 0xff
				b[0] ^= 0xff
			}
			if err := f.Seal(); err != nil {
				t.Fatal(err)
			}
			if f.Writable() || f.Sealed() != private {
				t.Fatalf("Writable() = %v, Sealed() = %v after Seal; want false, %v", f.Writable(), f.Sealed(), private)
			}
			if private && !writeFaults(f.Tensors[0].Data) {
				t.Error("a write into sealed bytes did not fault")
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if f.Tensors[0].Data != nil {
				t.Error("Close left Data set")
			}
		})
	}
}

// writeFaults reports whether writing b[0] faults (the bytes are read-only).
func writeFaults(b []byte) (faulted bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() { faulted = recover() != nil }()
	v := b[0]
	b[0] = ^v
	b[0] = v
	return false
}
