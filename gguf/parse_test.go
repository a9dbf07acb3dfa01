package gguf

import (
	"bytes"
	"errors"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/kiln-llm/kiln/tensor"
)

// v2File is a GGUF v2 file written field by field: 3 KVs (one a string
// array), two F32 tensors packed at alignment 32 as llama.cpp lays them out.
func v2File() []byte {
	b := &builder{}
	b.header(2, 2, 3)
	b.kvStr("general.architecture", "llama")
	b.kvU32("llama.block_count", 5)
	b.str("tokenizer.ggml.tokens").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(3).str("<unk>").str("").str("▁a")
	b.tensor("a", uint32(tensor.F32), 0, 3)     // 12 bytes, next offset 32
	b.tensor("b", uint32(tensor.F32), 32, 2, 2) // 16 bytes
	b.pad(32)
	b.raw(0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64) // 1, 2, 3
	b.fill(20, 0)
	b.fill(16, 0x41)
	return b.bytes()
}

func TestOpenV2(t *testing.T) {
	path := writeTemp(t, "v2.gguf", v2File())
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 2 || f.Alignment != 32 || len(f.KV) != 3 || len(f.Tensors) != 2 {
		t.Fatalf("version %d alignment %d %d KVs %d tensors", f.Version, f.Alignment, len(f.KV), len(f.Tensors))
	}
	if arch, err := f.RequireString("general.architecture"); err != nil || arch != "llama" {
		t.Errorf("architecture %q, %v", arch, err)
	}
	if n, err := f.RequireInt("llama.block_count"); err != nil || n != 5 {
		t.Errorf("block_count %d, %v", n, err)
	}
	if toks, err := f.Strings("tokenizer.ggml.tokens"); err != nil || !equalStrings(toks, []string{"<unk>", "", "▁a"}) {
		t.Errorf("tokens %q, %v", toks, err)
	}
	a, ok := f.Tensor("a")
	if !ok || a.Elements() != 3 || a.Bytes() != 12 || !bytes.Equal(a.Data, []byte{0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64}) {
		t.Errorf("tensor a = %+v", a)
	}
	b, ok := f.Tensor("b")
	if !ok || b.Offset != 32 || b.Elements() != 4 || !bytes.Equal(b.Data, bytes.Repeat([]byte{0x41}, 16)) {
		t.Errorf("tensor b = %+v", b)
	}
	if _, ok := f.Tensor("c"); ok {
		t.Error("Tensor(c) found a tensor that does not exist")
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestParseErrors feeds corrupt files and checks each fails with an error
// naming the file and the specific problem.
func TestParseErrors(t *testing.T) {
	hdr := func(nt, nkv uint64) *builder { return (&builder{}).header(3, nt, nkv) }
	f32 := uint32(tensor.F32)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, `not a GGUF file (magic "", want "GGUF")`},
		{"bad magic", []byte("GGML\x03\x00\x00\x00"), `not a GGUF file (magic "GGML"`},
		{"no version", []byte("GGUF\x03"), "truncated file: version needs 4 bytes, 1 left"},
		{"version 1", hdr(0, 0).bytes()[:4:4], "truncated"},
		{"v1", (&builder{}).header(1, 0, 0).bytes(), "version 1 is not supported"},
		{"v7", (&builder{}).header(7, 0, 0).bytes(), "unsupported GGUF version 7"},
		{"big endian", (&builder{}).header(3<<24, 0, 0).bytes(), "big-endian"},
		{"no counts", (&builder{}).raw('G', 'G', 'U', 'F').u32(3).u64(0).bytes(), "truncated file: kv count needs 8 bytes"},
		{"huge kv count", hdr(0, 1<<60).fill(1000, 0).bytes(), "kv count 1152921504606846976 cannot fit"},
		{"huge tensor count", hdr(1<<62, 0).fill(1000, 0).bytes(), "tensor count 4611686018427387904 cannot fit"},
		{"kv count beyond kvs", hdr(0, 2).kvU32("a", 1).fill(14, 0).bytes(), "kv 1 has an empty key"},
		{"huge key length", hdr(0, 1).u64(1<<63).fill(100, 0).bytes(), "key of kv 0 length 9223372036854775808 exceeds"},
		{"empty key", hdr(0, 1).str("").u32(0).raw(1).fill(4, 0).bytes(), "kv 0 has an empty key"},
		{"invalid utf8 key", hdr(0, 1).str("bad\xc3\x28").u32(0).raw(1).bytes(), `key "bad\xc3(" is not valid UTF-8`},
		{"duplicate key", hdr(0, 2).kvU32("a.b", 1).kvU32("a.b", 2).bytes(), `duplicate key "a.b" (kv 0 and 1)`},
		{"unknown value type", hdr(0, 1).str("k").u32(13).u32(0).bytes(), `key "k": at offset 33: unknown value type 13`},
		{"truncated value", hdr(0, 1).str("k").u32(uint32(TypeUint64)).u32(0).bytes(), `key "k": at offset 37: truncated file: k needs 8 bytes, 4 left`},
		{"bool 2", hdr(0, 1).str("k").u32(uint32(TypeBool)).raw(2).bytes(), "bool value 2 is neither 0 nor 1"},
		{"bool array 7", hdr(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeBool)).u64(2).raw(1, 7).bytes(), "bool array element 1 is 7"},
		{"huge string", hdr(0, 1).str("k").u32(uint32(TypeString)).u64(math.MaxUint64).bytes(), `key "k": at offset 37: k length 18446744073709551615 exceeds the 0 bytes left`},
		{"huge string array", hdr(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(1<<60).fill(1000, 0).bytes(),
			"array of string count 1152921504606846976 cannot fit in the 1000 bytes left"},
		{"huge f32 array", hdr(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeFloat32)).u64(1 << 62).bytes(), "array of float32 count"},
		{"string array past end", hdr(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(3).str("a").u64(4).raw('x').fill(8, 0).bytes(),
			"string 2 of 3: at offset 70: truncated file: array string count needs 8 bytes, 5 left"},
		{"array of unknown", hdr(0, 1).str("k").u32(uint32(TypeArray)).u32(200).u64(0).bytes(), "array of unknown value type 200"},
		{"nested too deep", func() []byte {
			b := hdr(0, 1).str("k").u32(uint32(TypeArray))
			for range 20 {
				b.u32(uint32(TypeArray)).u64(1)
			}
			return b.u32(uint32(TypeUint8)).u64(0).bytes()
		}(), "arrays nested more than 8 deep"},
		{"alignment zero", hdr(0, 1).kvU32(alignmentKey, 0).bytes(), `"general.alignment": alignment 0 is not a nonzero power of two`},
		{"alignment 48", hdr(0, 1).kvU32(alignmentKey, 48).bytes(), "alignment 48 is not a nonzero power of two"},
		{"alignment string", hdr(0, 1).kvStr(alignmentKey, "32").bytes(), `"general.alignment": is string, want uint32`},
		{"unknown tensor type", hdr(1, 0).tensor("w", 99, 0, 4).pad(32).fill(32, 0).bytes(), `tensor "w": unknown tensor type 99`},
		{"tensor type 4 (removed Q4_2)", hdr(1, 0).tensor("w", 4, 0, 32).pad(32).fill(32, 0).bytes(), "unknown tensor type 4"},
		{"dims overflow", hdr(1, 0).tensor("w", f32, 0, 1<<32, 1<<32).pad(32).bytes(), "element count overflows int64"},
		{"dim above int64", hdr(1, 0).tensor("w", f32, 0, 1<<63).pad(32).bytes(), "element count overflows int64"},
		{"bytes overflow", hdr(1, 0).tensor("w", f32, 0, 1<<62).pad(32).bytes(), "byte size of F32 data overflows int64"},
		{"too many dims", hdr(1, 0).tensor("w", f32, 0, 1, 1, 1, 1, 1).bytes(), `tensor "w" has 5 dimensions (at most 4)`},
		{"block size", hdr(1, 0).tensor("w", uint32(tensor.Q4_K), 0, 128).pad(32).fill(256, 0).bytes(), "Q4_K: row length 128 is not a multiple of the block size 256"},
		{"empty tensor name", hdr(1, 0).tensor("", f32, 0, 1).bytes(), "tensor 0 has an empty name"},
		{"truncated tensor info", hdr(1, 0).str("w").u32(4).u64(4).u64(4).u64(4).bytes(), `tensor "w": at offset 61: truncated file: dimension needs 8 bytes, 0 left`},
		{"data past end", hdr(1, 0).tensor("w", f32, 0, 16).pad(32).fill(60, 0).bytes(),
			`tensor "w": data [0, +64) at file offset 64 extends past the end of the 124-byte file`},
		{"offset past end", hdr(1, 0).tensor("w", f32, 1<<40, 1).pad(32).fill(60, 0).bytes(), "extends past the end"},
		{"offset near max", hdr(1, 0).tensor("w", f32, math.MaxUint64-31, 16).pad(32).fill(60, 0).bytes(), "extends past the end"},
		{"data section past end", hdr(1, 0).tensor("w", f32, 0, 0).bytes(), "data section at offset 64 starts past the end of the 57-byte file"},
		{"unaligned offset", hdr(2, 0).tensor("a", f32, 0, 4).tensor("b", f32, 16, 4).pad(32).fill(64, 0).bytes(),
			`tensor "b": offset 16 is not a multiple of the alignment 32`},
		{"overlap", hdr(2, 0).tensor("a", f32, 0, 16).tensor("b", f32, 32, 4).pad(32).fill(128, 0).bytes(),
			`tensors "a" [0, 64) and "b" [32, 48) overlap`},
		{"duplicate tensor", hdr(2, 0).tensor("a", f32, 0, 4).tensor("a", f32, 32, 4).pad(32).fill(64, 0).bytes(),
			`duplicate tensor name "a" (tensors 0 and 1)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := parse("dir/bad.gguf", c.data)
			if err == nil {
				t.Fatalf("parsed without error: %+v", f)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "gguf: dir/bad.gguf: ") {
				t.Errorf("error %q does not name the file", msg)
			}
			if !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want it to contain %q", msg, c.want)
			}
		})
	}
}

// TestHugeCountsDoNotAllocate checks the "bound by the file size before
// allocating" rule: a 1 KB file claiming 2^60 strings (or KVs, tensors,
// nested arrays) must fail without allocating anything large.
func TestHugeCountsDoNotAllocate(t *testing.T) {
	inputs := [][]byte{
		(&builder{}).header(3, 0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(1<<60).fill(1000, 0).bytes(),
		(&builder{}).header(3, 0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeArray)).u64(1<<60).fill(1000, 0).bytes(),
		(&builder{}).header(3, 0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(100).fill(1000, 0xff).bytes(),
		(&builder{}).header(3, 1<<60, 1<<60).fill(1000, 0).bytes(),
		(&builder{}).header(3, 1, 0).str("w").u32(4).u64(1<<40).u64(1<<40).u64(1<<40).u64(1<<40).u32(0).u64(0).fill(1000, 0).bytes(),
	}
	for i, data := range inputs {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := parse("bomb.gguf", data)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("input %d parsed", i)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<10 {
			t.Errorf("input %d: allocated %d bytes before failing", i, alloc)
		}
	}
}

// TestTruncations cuts a valid file at every length: every prefix must fail
// cleanly (no panic), except those that still hold all the data.
func TestTruncations(t *testing.T) {
	data := v2File()
	full, err := parse("v2.gguf", data)
	if err != nil {
		t.Fatal(err)
	}
	end := full.Tensors[1].Offset + uint64(full.DataOffset) + full.Tensors[1].Bytes()
	for n := range len(data) {
		_, err := parse("v2.gguf", data[:n])
		if (err == nil) != (uint64(n) >= end) {
			t.Errorf("prefix of %d bytes: err = %v", n, err)
		}
	}
}

func TestGetters(t *testing.T) {
	w := NewWriter()
	mustSet(t, w, "u32", uint32(7))
	mustSet(t, w, "u64.big", uint64(math.MaxUint64))
	mustSet(t, w, "i8", int8(-3))
	mustSet(t, w, "f32", float32(0.5))
	mustSet(t, w, "s", "text")
	mustSet(t, w, "b", true)
	mustSet(t, w, "strs", []string{"a", "b"})
	mustSet(t, w, "f32s", []float32{1.5, -2})
	mustSet(t, w, "i32s", []int32{-1, 2})
	mustSet(t, w, "u64s.big", []uint64{1, math.MaxUint64})
	f, err := parse("/m/x.gguf", writerBytes(t, w))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		v   any
		err error
	}
	r := func(v any, err error) result { return result{v, err} }
	cases := []struct {
		name    string
		got     result
		want    any
		wantErr string
	}{
		{"RequireInt u32", r(f.RequireInt("u32")), int64(7), ""},
		{"RequireInt i8", r(f.RequireInt("i8")), int64(-3), ""},
		{"RequireInt missing", r(f.RequireInt("llama.block_count")), int64(0), `gguf: /m/x.gguf: key "llama.block_count": missing`},
		{"RequireInt string", r(f.RequireInt("s")), int64(0), `gguf: /m/x.gguf: key "s": is string, want integer`},
		{"RequireInt float", r(f.RequireInt("f32")), int64(0), `key "f32": is float32, want integer`},
		{"RequireInt huge", r(f.RequireInt("u64.big")), int64(0), `key "u64.big": uint64 value 18446744073709551615 overflows int64`},
		{"IntOr absent", r(f.IntOr("nope", 42)), int64(42), ""},
		{"IntOr present", r(f.IntOr("u32", 42)), int64(7), ""},
		{"IntOr wrong", r(f.IntOr("strs", 42)), int64(0), `key "strs": is array of string, want integer`},
		{"RequireFloat f32", r(f.RequireFloat("f32")), 0.5, ""},
		{"RequireFloat int", r(f.RequireFloat("i8")), -3.0, ""},
		{"RequireFloat bool", r(f.RequireFloat("b")), 0.0, `key "b": is bool, want float`},
		{"FloatOr absent", r(f.FloatOr("nope", 1e4)), 1e4, ""},
		{"FloatOr wrong", r(f.FloatOr("s", 1)), 0.0, "want float"},
		{"RequireString", r(f.RequireString("s")), "text", ""},
		{"RequireString missing", r(f.RequireString("nope")), "", `key "nope": missing`},
		{"StringOr absent", r(f.StringOr("nope", "def")), "def", ""},
		{"StringOr wrong", r(f.StringOr("u32", "def")), "", "is uint32, want string"},
		{"BoolOr", r(f.BoolOr("b", false)), true, ""},
		{"BoolOr absent", r(f.BoolOr("nope", true)), true, ""},
		{"BoolOr wrong", r(f.BoolOr("u32", true)), false, "is uint32, want bool"},
		{"Strings", r(f.Strings("strs")), []string{"a", "b"}, ""},
		{"Strings missing", r(f.Strings("nope")), []string(nil), "missing"},
		{"Strings wrong", r(f.Strings("f32s")), []string(nil), "is array of float32, want array of string"},
		{"Float32s", r(f.Float32s("f32s")), []float32{1.5, -2}, ""},
		{"Float32s from ints", r(f.Float32s("i32s")), []float32{-1, 2}, ""},
		{"Float32s wrong", r(f.Float32s("strs")), []float32(nil), "want numeric array"},
		{"Ints", r(f.Ints("i32s")), []int64{-1, 2}, ""},
		{"Ints huge", r(f.Ints("u64s.big")), []int64(nil), "is array of uint64, want integer array"},
		{"Ints missing", r(f.Ints("nope")), []int64(nil), "missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.wantErr == "" {
				if c.got.err != nil {
					t.Fatalf("error %v", c.got.err)
				}
			} else if c.got.err == nil || !strings.Contains(c.got.err.Error(), c.wantErr) {
				t.Fatalf("error %v, want %q", c.got.err, c.wantErr)
			}
			if !deepEqual(c.got.v, c.want) {
				t.Errorf("got %#v, want %#v", c.got.v, c.want)
			}
		})
	}
	if _, err := f.RequireInt("nope"); !errors.Is(err, ErrMissing) {
		t.Errorf("missing key error %v does not wrap ErrMissing", err)
	}
	if err := f.Errorf("tensor %q: %w", "x", ErrMissing); err.Error() != `gguf: /m/x.gguf: tensor "x": missing` || !errors.Is(err, ErrMissing) {
		t.Errorf("Errorf = %v", err)
	}
}

// TestZeroCopy checks that tensor Data points into one mapping of the file
// (same address on every lookup, consistent with the file layout) rather
// than into copies, and that capacity cannot reach the next tensor.
func TestZeroCopy(t *testing.T) {
	w := NewWriter()
	for i, name := range []string{"a", "b", "c"} {
		data := bytes.Repeat([]byte{byte(i + 1)}, 4*(i+5))
		if err := w.AddTensor(name, tensor.F32, []uint64{uint64(i + 5)}, data); err != nil {
			t.Fatal(err)
		}
	}
	raw := writerBytes(t, w)
	path := writeTemp(t, "zc.gguf", raw)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	base := func(ti *TensorInfo) uintptr {
		return uintptr(unsafe.Pointer(unsafe.SliceData(ti.Data))) - uintptr(f.DataOffset) - uintptr(ti.Offset)
	}
	t1, _ := f.Tensor("b")
	t2, _ := f.Tensor("b")
	if unsafe.SliceData(t1.Data) != unsafe.SliceData(t2.Data) {
		t.Error("two lookups of the same tensor return different memory")
	}
	b0 := base(&f.Tensors[0])
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if base(ti) != b0 {
			t.Errorf("%s: not in the same mapping as tensor 0", ti.Name)
		}
		if cap(ti.Data) != len(ti.Data) {
			t.Errorf("%s: cap %d > len %d lets append overwrite the file mapping", ti.Name, cap(ti.Data), len(ti.Data))
		}
		start := f.DataOffset + int64(ti.Offset)
		if !bytes.Equal(ti.Data, raw[start:start+int64(ti.Bytes())]) {
			t.Errorf("%s: data does not match the file bytes", ti.Name)
		}
	}
	if runtime.GOOS == "linux" && b0%uintptr(os.Getpagesize()) != 0 {
		t.Errorf("mapping base %#x is not page-aligned: not an mmap", b0)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if f.Tensors[0].Data != nil {
		t.Error("Close left Data pointing at the unmapped memory")
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir + "/nope.gguf"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	empty := writeTemp(t, "empty.gguf", nil)
	if _, err := Open(empty); err == nil || !strings.Contains(err.Error(), "gguf: "+empty+": not a GGUF file") {
		t.Errorf("empty file: %v", err)
	}
	trunc := v2File()
	trunc = trunc[:len(trunc)-1]
	p := writeTemp(t, "trunc.gguf", trunc)
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "gguf: "+p+`: tensor "b"`) {
		t.Errorf("truncated file: %v", err)
	}
}
