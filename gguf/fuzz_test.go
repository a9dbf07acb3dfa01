package gguf

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSeedWriter is a small file with every value type and a few tensors.
func fuzzSeedWriter(t testing.TB, align int) []byte {
	w := NewWriter()
	w.Alignment = align
	for _, kv := range allTypesKVs() {
		mustSet(t, w, kv.Key, kv.Value)
	}
	for _, tt := range testTensors[:4] {
		size, err := tensorBytes(tt.typ, tt.dims)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(tt.name, tt.typ, tt.dims, bytes.Repeat([]byte{0x3c}, int(size))); err != nil {
			t.Fatal(err)
		}
	}
	return writerBytes(t, w)
}

// FuzzParse checks that no input makes the parser panic or accept an
// inconsistent file, and that whatever it accepts survives a rewrite: parse,
// write, parse again gives the same metadata, tensors and bytes.
func FuzzParse(f *testing.F) {
	f.Add(fuzzSeedWriter(f, 32))
	f.Add(fuzzSeedWriter(f, 8))
	f.Add(v2File())
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	if dir := os.Getenv("KILN_TEST_MODELS"); dir != "" {
		// A real llama.cpp header: verbatim (metadata and tensor infos,
		// tensor data cut off), and rebuilt around its two smallest tensors
		// so that mutations start from a file that parses.
		data, err := os.ReadFile(filepath.Join(dir, "stories260K.gguf"))
		if err != nil {
			f.Fatal(err)
		}
		rf, err := parse("stories260K.gguf", data)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:rf.DataOffset])
		w := NewWriter()
		for _, kv := range rf.KV {
			mustSet(f, w, kv.Key, kv.Value)
		}
		for _, name := range []string{"output_norm.weight", "blk.0.attn_norm.weight"} {
			ti, _ := rf.Tensor(name)
			if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, ti.Data); err != nil {
				f.Fatal(err)
			}
		}
		f.Add(writerBytes(f, w))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parse("fuzz.gguf", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "gguf: fuzz.gguf: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkConsistent(t, file, data)
		w := rewriteForFuzz(t, file)
		out := writerBytes(t, w)
		again, err := parse("again.gguf", out)
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v", err)
		}
		checkConsistent(t, again, out)
		if len(again.KV) != len(file.KV)+boolInt(file.Alignment != 32 && !hasKey(file, alignmentKey)) {
			t.Fatalf("%d KVs after rewrite, want %d", len(again.KV), len(file.KV))
		}
		for i, kv := range file.KV {
			if again.KV[i].Key != kv.Key || !bytes.Equal(encodeValue(kv.Value), encodeValue(again.KV[i].Value)) {
				t.Fatalf("KV %d: %s=%s became %s=%s", i, kv.Key, kv.Value, again.KV[i].Key, again.KV[i].Value)
			}
		}
		for i := range file.Tensors {
			a, b := &file.Tensors[i], &again.Tensors[i]
			if a.Name != b.Name || a.Type != b.Type || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("tensor %d: %s changed in the rewrite", i, a.Name)
			}
		}
		// Writing is deterministic and a fixed point after one rewrite.
		if out2 := writerBytes(t, rewriteForFuzz(t, again)); !bytes.Equal(out, out2) {
			t.Fatal("second rewrite differs from the first")
		}
	})
}

// encodeValue returns the file encoding of v, a bit-exact comparison key
// (reflect.DeepEqual would call two NaNs different).
func encodeValue(v Value) []byte {
	var buf bytes.Buffer
	c := &countingWriter{w: bufio.NewWriter(&buf)}
	c.u32(uint32(v.Type))
	c.value(v)
	if err := c.w.Flush(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func hasKey(f *File, key string) bool { _, ok := f.Get(key); return ok }

func rewriteForFuzz(t *testing.T, f *File) *Writer {
	w := NewWriter()
	w.Alignment = f.Alignment
	for _, kv := range f.KV {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatalf("parsed KV %q rejected by the writer: %v", kv.Key, err)
		}
	}
	for _, ti := range f.Tensors {
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, ti.Data); err != nil {
			t.Fatalf("parsed tensor rejected by the writer: %v", err)
		}
	}
	return w
}

// checkConsistent asserts the invariants every parsed file must satisfy.
func checkConsistent(t *testing.T, f *File, data []byte) {
	t.Helper()
	if f.Alignment <= 0 || f.Alignment&(f.Alignment-1) != 0 {
		t.Fatalf("alignment %d", f.Alignment)
	}
	if f.Size() != int64(len(data)) || len(f.KV) != len(f.kvIndex) || len(f.Tensors) != len(f.tensorIx) {
		t.Fatal("inconsistent File")
	}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if !ti.Type.Known() || uint64(len(ti.Data)) != ti.Bytes() || ti.Offset%uint64(f.Alignment) != 0 {
			t.Fatalf("tensor %s: type %s, %d bytes, Bytes %d, offset %d", ti.Name, ti.Type, len(ti.Data), ti.Bytes(), ti.Offset)
		}
		if len(ti.Data) > 0 {
			start := f.DataOffset + int64(ti.Offset)
			if !bytes.Equal(ti.Data, data[start:start+int64(len(ti.Data))]) {
				t.Fatalf("tensor %s: Data is not the file bytes at its offset", ti.Name)
			}
		}
	}
}
