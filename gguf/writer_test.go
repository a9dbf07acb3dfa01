package gguf

import (
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/internal/testmodels"
	"github.com/kiln-llm/kiln/tensor"
)

// allTypesKVs covers every value type as scalar and array, plus the edge
// cases that trip up encoders: empty arrays, empty strings, arrays of arrays
// (nested, heterogeneous, empty), extreme values.
func allTypesKVs() []KV {
	return []KV{
		{"u8", Value{Type: TypeUint8, V: uint8(255)}},
		{"i8", Value{Type: TypeInt8, V: int8(-128)}},
		{"u16", Value{Type: TypeUint16, V: uint16(65535)}},
		{"i16", Value{Type: TypeInt16, V: int16(-32768)}},
		{"u32", Value{Type: TypeUint32, V: uint32(math.MaxUint32)}},
		{"i32", Value{Type: TypeInt32, V: int32(math.MinInt32)}},
		{"f32", Value{Type: TypeFloat32, V: float32(1e-5)}},
		{"bool.t", Value{Type: TypeBool, V: true}},
		{"bool.f", Value{Type: TypeBool, V: false}},
		{"str", Value{Type: TypeString, V: "héllo ▁wörld\n"}},
		{"str.empty", Value{Type: TypeString, V: ""}},
		{"u64", Value{Type: TypeUint64, V: uint64(math.MaxUint64)}},
		{"i64", Value{Type: TypeInt64, V: int64(math.MinInt64)}},
		{"f64", Value{Type: TypeFloat64, V: math.Pi}},
		{"a.u8", Value{Type: TypeArray, Elem: TypeUint8, V: []uint8{0, 1, 255}}},
		{"a.i8", Value{Type: TypeArray, Elem: TypeInt8, V: []int8{-1, 0, 127}}},
		{"a.u16", Value{Type: TypeArray, Elem: TypeUint16, V: []uint16{1, 65535}}},
		{"a.i16", Value{Type: TypeArray, Elem: TypeInt16, V: []int16{-2, 3}}},
		{"a.u32", Value{Type: TypeArray, Elem: TypeUint32, V: []uint32{7, math.MaxUint32}}},
		{"a.i32", Value{Type: TypeArray, Elem: TypeInt32, V: []int32{-7, 1 << 30}}},
		{"a.f32", Value{Type: TypeArray, Elem: TypeFloat32, V: []float32{-0.5, 3.25, float32(math.Inf(1))}}},
		{"a.bool", Value{Type: TypeArray, Elem: TypeBool, V: []bool{true, false, true}}},
		{"a.str", Value{Type: TypeArray, Elem: TypeString, V: []string{"a", "", "<0x0A>", "▁the"}}},
		{"a.u64", Value{Type: TypeArray, Elem: TypeUint64, V: []uint64{0, math.MaxUint64}}},
		{"a.i64", Value{Type: TypeArray, Elem: TypeInt64, V: []int64{math.MinInt64, 5}}},
		{"a.f64", Value{Type: TypeArray, Elem: TypeFloat64, V: []float64{1e300, -2}}},
		{"a.empty.str", Value{Type: TypeArray, Elem: TypeString, V: []string{}}},
		{"a.empty.f32", Value{Type: TypeArray, Elem: TypeFloat32, V: []float32{}}},
		{"a.empty.arr", Value{Type: TypeArray, Elem: TypeArray, V: []Value{}}},
		{"a.arr", Value{Type: TypeArray, Elem: TypeArray, V: []Value{
			{Type: TypeArray, Elem: TypeInt32, V: []int32{1, 2, 3}},
			{Type: TypeArray, Elem: TypeString, V: []string{"x", ""}},
			{Type: TypeArray, Elem: TypeFloat64, V: []float64{}},
			{Type: TypeArray, Elem: TypeArray, V: []Value{
				{Type: TypeArray, Elem: TypeBool, V: []bool{false}},
			}},
		}}},
	}
}

type testTensor struct {
	name string
	typ  tensor.Type
	dims []uint64
}

var testTensors = []testTensor{
	{"tok_embd.weight", tensor.F32, []uint64{8, 3}},
	{"norm", tensor.F16, []uint64{5}},
	{"q8", tensor.Q8_0, []uint64{64, 2}},
	{"q4k", tensor.Q4_K, []uint64{256, 1, 2}},
	{"q6k", tensor.Q6_K, []uint64{512}},
	{"bf16", tensor.BF16, []uint64{3, 1, 1, 2}},
	{"q5_1", tensor.Q5_1, []uint64{32}},
	{"empty", tensor.F32, []uint64{0, 4}},
	{"scalar", tensor.F32, nil},
}

func randomBytes(rng *rand.Rand, n uint64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	for _, align := range []int{32, 1, 8, 64, 4096} {
		t.Run("align"+strconv.Itoa(align), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(align)))
			w := NewWriter()
			w.Alignment = align
			kvs := allTypesKVs()
			for _, kv := range kvs {
				mustSet(t, w, kv.Key, kv.Value)
			}
			datas := map[string][]byte{}
			for i, tt := range testTensors {
				size, err := tensorBytes(tt.typ, tt.dims)
				if err != nil {
					t.Fatal(err)
				}
				data := randomBytes(rng, size)
				datas[tt.name] = data
				if i%2 == 0 {
					err = w.AddTensor(tt.name, tt.typ, tt.dims, data)
				} else {
					err = w.AddTensorFunc(tt.name, tt.typ, tt.dims, func(out io.Writer) error {
						// Several small writes, as a generator would do.
						for len(data) > 0 {
							k := min(len(data), 7)
							if _, err := out.Write(data[:k]); err != nil {
								return err
							}
							data = data[k:]
						}
						return nil
					})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "rt.gguf")
			if err := w.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("temporary file left behind: %v", err)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Version != 3 || f.Alignment != align {
				t.Errorf("version %d alignment %d, want 3 and %d", f.Version, f.Alignment, align)
			}
			wantKVs := len(kvs)
			if align != 32 {
				wantKVs++ // general.alignment added by the writer
				if v, _ := f.Get(alignmentKey); v.Type != TypeUint32 || v.V != uint32(align) {
					t.Errorf("general.alignment = %#v", v)
				}
			}
			if len(f.KV) != wantKVs {
				t.Fatalf("%d KVs, want %d", len(f.KV), wantKVs)
			}
			for i, kv := range kvs {
				if f.KV[i].Key != kv.Key {
					t.Errorf("KV %d is %q, want %q (insertion order)", i, f.KV[i].Key, kv.Key)
				}
				got, ok := f.Get(kv.Key)
				if !ok || !reflect.DeepEqual(got, kv.Value) {
					t.Errorf("%s = %#v, want %#v", kv.Key, got, kv.Value)
				}
			}
			if len(f.Tensors) != len(testTensors) {
				t.Fatalf("%d tensors, want %d", len(f.Tensors), len(testTensors))
			}
			for i, tt := range testTensors {
				ti := &f.Tensors[i]
				if ti.Name != tt.name || ti.Type != tt.typ || !reflect.DeepEqual(ti.Dims, append([]uint64{}, tt.dims...)) {
					t.Errorf("tensor %d = %s %s %v, want %s %s %v", i, ti.Name, ti.Type, ti.Dims, tt.name, tt.typ, tt.dims)
				}
				if ti.Offset%uint64(align) != 0 {
					t.Errorf("%s: offset %d not aligned to %d", tt.name, ti.Offset, align)
				}
				if !bytes.Equal(ti.Data, datas[tt.name]) {
					t.Errorf("%s: data differs", tt.name)
				}
				if ti.Bytes() != uint64(len(datas[tt.name])) {
					t.Errorf("%s: Bytes() = %d, want %d", tt.name, ti.Bytes(), len(datas[tt.name]))
				}
			}
			if (f.DataOffset)%int64(align) != 0 {
				t.Errorf("data section at %d not aligned", f.DataOffset)
			}
			st, _ := os.Stat(path)
			if f.Size() != st.Size() {
				t.Errorf("Size() = %d, want %d", f.Size(), st.Size())
			}
		})
	}
}

// TestWriterGoValues checks the Go-type to GGUF-type mapping of Set.
func TestWriterGoValues(t *testing.T) {
	cases := []struct {
		in   any
		typ  ValueType
		elem ValueType
	}{
		{uint8(1), TypeUint8, 0},
		{int8(1), TypeInt8, 0},
		{uint16(1), TypeUint16, 0},
		{int16(1), TypeInt16, 0},
		{uint32(1), TypeUint32, 0},
		{int32(1), TypeInt32, 0},
		{float32(1), TypeFloat32, 0},
		{true, TypeBool, 0},
		{"s", TypeString, 0},
		{uint64(1), TypeUint64, 0},
		{int64(1), TypeInt64, 0},
		{1.5, TypeFloat64, 0},
		{[]uint8{1}, TypeArray, TypeUint8},
		{[]int8{1}, TypeArray, TypeInt8},
		{[]uint16{1}, TypeArray, TypeUint16},
		{[]int16{1}, TypeArray, TypeInt16},
		{[]uint32{1}, TypeArray, TypeUint32},
		{[]int32{1}, TypeArray, TypeInt32},
		{[]float32{1}, TypeArray, TypeFloat32},
		{[]bool{true}, TypeArray, TypeBool},
		{[]string{"a"}, TypeArray, TypeString},
		{[]uint64{1}, TypeArray, TypeUint64},
		{[]int64{1}, TypeArray, TypeInt64},
		{[]float64{1}, TypeArray, TypeFloat64},
		{[]Value{{Type: TypeArray, Elem: TypeUint8, V: []uint8{}}}, TypeArray, TypeArray},
	}
	w := NewWriter()
	for i, c := range cases {
		mustSet(t, w, "k"+strconv.Itoa(i), c.in)
	}
	f, err := parse("mem.gguf", writerBytes(t, w))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		v, ok := f.Get("k" + strconv.Itoa(i))
		if !ok || v.Type != c.typ || v.Elem != c.elem || !reflect.DeepEqual(v.V, c.in) {
			t.Errorf("Set(%T) read back as %#v", c.in, v)
		}
	}
}

func TestWriterSetReplaces(t *testing.T) {
	w := NewWriter()
	mustSet(t, w, "a", uint32(1))
	mustSet(t, w, "b", "x")
	mustSet(t, w, "a", "now a string")
	f, err := parse("mem.gguf", writerBytes(t, w))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.KV) != 2 || f.KV[0].Key != "a" || f.KV[0].Value.V != "now a string" || f.KV[1].Key != "b" {
		t.Errorf("KVs after replacing a: %v", f.KV)
	}
}

func TestWriterErrors(t *testing.T) {
	data := make([]byte, 16)
	cases := []struct {
		name string
		run  func(w *Writer) error
		want string
	}{
		{"go int", func(w *Writer) error { return w.Set("k", 5) }, "no fixed GGUF width"},
		{"unsupported go type", func(w *Writer) error { return w.Set("k", struct{}{}) }, "cannot store"},
		{"empty key", func(w *Writer) error { return w.Set("", uint8(1)) }, "empty key"},
		{"bad utf8 key", func(w *Writer) error { return w.Set("a\xffb", uint8(1)) }, "not valid UTF-8"},
		{"value type mismatch", func(w *Writer) error { return w.Set("k", Value{Type: TypeUint32, V: "x"}) }, "holds Go string"},
		{"array elem mismatch", func(w *Writer) error {
			return w.Set("k", Value{Type: TypeArray, Elem: TypeInt32, V: []uint32{1}})
		}, "holds Go []uint32"},
		{"array of non-arrays", func(w *Writer) error { return w.Set("k", []Value{{Type: TypeUint8, V: uint8(1)}}) }, "element 0"},
		{"too deep", func(w *Writer) error {
			v := Value{Type: TypeArray, Elem: TypeUint8, V: []uint8{}}
			for range maxNesting {
				v = Value{Type: TypeArray, Elem: TypeArray, V: []Value{v}}
			}
			return w.Set("k", v)
		}, "nested"},
		{"data length", func(w *Writer) error { return w.AddTensor("t", tensor.F32, []uint64{5}, data) }, "16 bytes of data, want 20"},
		{"unknown type", func(w *Writer) error { return w.AddTensor("t", tensor.Type(99), []uint64{4}, data) }, "unknown tensor type 99"},
		{"block size", func(w *Writer) error { return w.AddTensor("t", tensor.Q8_0, []uint64{16}, data) }, "block size"},
		{"too many dims", func(w *Writer) error { return w.AddTensor("t", tensor.F32, []uint64{1, 1, 1, 4, 1}, data) }, "5 dimensions"},
		{"duplicate tensor", func(w *Writer) error {
			if err := w.AddTensor("t", tensor.F32, []uint64{4}, data); err != nil {
				return err
			}
			return w.AddTensor("t", tensor.F32, []uint64{4}, data)
		}, "duplicate tensor name"},
		{"empty tensor name", func(w *Writer) error { return w.AddTensor("", tensor.F32, []uint64{4}, data) }, "empty tensor name"},
		{"nil func", func(w *Writer) error { return w.AddTensorFunc("t", tensor.F32, []uint64{4}, nil) }, "nil write function"},
		{"func short", func(w *Writer) error {
			if err := w.AddTensorFunc("t", tensor.F32, []uint64{4}, func(out io.Writer) error {
				_, err := out.Write(data[:15])
				return err
			}); err != nil {
				return err
			}
			_, err := w.WriteTo(io.Discard)
			return err
		}, "wrote 15 bytes, want 16"},
		{"func long ignoring error", func(w *Writer) error {
			if err := w.AddTensorFunc("t", tensor.F32, []uint64{4}, func(out io.Writer) error {
				_, _ = out.Write(data[:8])
				_, _ = out.Write(data[:12])
				return nil
			}); err != nil {
				return err
			}
			_, err := w.WriteTo(io.Discard)
			return err
		}, "more than the tensor's 16 bytes"},
		{"func error", func(w *Writer) error {
			if err := w.AddTensorFunc("t", tensor.F32, []uint64{4}, func(io.Writer) error { return errors.New("boom") }); err != nil {
				return err
			}
			_, err := w.WriteTo(io.Discard)
			return err
		}, "boom"},
		{"bad alignment", func(w *Writer) error { w.Alignment = 48; _, err := w.WriteTo(io.Discard); return err }, "not a power of two"},
		{"alignment key disagrees", func(w *Writer) error {
			w.Alignment = 64
			if err := w.Set(alignmentKey, uint32(32)); err != nil {
				return err
			}
			_, err := w.WriteTo(io.Discard)
			return err
		}, "Writer.Alignment is 64"},
		{"alignment key type", func(w *Writer) error {
			if err := w.Set(alignmentKey, uint64(32)); err != nil {
				return err
			}
			_, err := w.WriteTo(io.Discard)
			return err
		}, "want uint32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run(NewWriter())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestWriterOutputError(t *testing.T) {
	w := NewWriter()
	mustSet(t, w, "k", strings.Repeat("x", 2<<20)) // larger than the write buffer
	_, err := w.WriteTo(failWriter{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error %v, want the output's error", err)
	}
	dir := t.TempDir()
	if err := w.WriteFile(filepath.Join(dir, "missing-dir", "x.gguf")); err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestWriterMatchesLlamaCpp rewrites real files (made by llama.cpp's gguf
// writer and our Python tools) from their parsed contents and expects the
// exact same bytes: same header encoding, tensor packing and padding.
func TestWriterMatchesLlamaCpp(t *testing.T) {
	dir := testmodels.Dir(t)
	for _, name := range []string{"stories260K.gguf", "synth/synth-llama-gqa-mix-q4_k_m.gguf", "synth/synth-qwen3-q5_1.gguf"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := writerBytes(t, rewrite(t, f))
			if !bytes.Equal(got, want) {
				n := 0
				for n < min(len(got), len(want)) && got[n] == want[n] {
					n++
				}
				t.Fatalf("rewritten file differs from the original at byte %d (len %d vs %d)", n, len(got), len(want))
			}
		})
	}
}

// rewrite builds a Writer holding everything f holds.
func rewrite(t testing.TB, f *File) *Writer {
	t.Helper()
	w := NewWriter()
	w.Alignment = f.Alignment
	for _, kv := range f.KV {
		mustSet(t, w, kv.Key, kv.Value)
	}
	for _, ti := range f.Tensors {
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, ti.Data); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// TestAddTensorKeepsDims checks the writer copies dims (callers reuse slices).
func TestAddTensorKeepsDims(t *testing.T) {
	w := NewWriter()
	dims := []uint64{4}
	if err := w.AddTensor("t", tensor.F32, dims, make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	dims[0] = 8
	f, err := parse("mem.gguf", writerBytes(t, w))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Tensors[0].Dims; len(got) != 1 || got[0] != 4 {
		t.Errorf("dims %v, want [4]", got)
	}
}
