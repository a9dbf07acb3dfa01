package gguf

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// builder assembles GGUF bytes by hand, so tests can produce files the
// Writer never would (v2, corrupt fields, odd layouts).
type builder struct{ b []byte }

func (b *builder) raw(p ...byte) *builder { b.b = append(b.b, p...); return b }
func (b *builder) u32(x uint32) *builder  { b.b = binary.LittleEndian.AppendUint32(b.b, x); return b }
func (b *builder) u64(x uint64) *builder  { b.b = binary.LittleEndian.AppendUint64(b.b, x); return b }
func (b *builder) str(s string) *builder  { return b.u64(uint64(len(s))).raw([]byte(s)...) }

func (b *builder) header(version uint32, nTensors, nKV uint64) *builder {
	return b.raw('G', 'G', 'U', 'F').u32(version).u64(nTensors).u64(nKV)
}

func (b *builder) kvU32(key string, v uint32) *builder {
	return b.str(key).u32(uint32(TypeUint32)).u32(v)
}

func (b *builder) kvStr(key, v string) *builder {
	return b.str(key).u32(uint32(TypeString)).str(v)
}

func (b *builder) tensor(name string, typ uint32, off uint64, dims ...uint64) *builder {
	b.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		b.u64(d)
	}
	return b.u32(typ).u64(off)
}

func (b *builder) pad(align int) *builder {
	for len(b.b)%align != 0 {
		b.b = append(b.b, 0)
	}
	return b
}

func (b *builder) fill(n int, v byte) *builder {
	b.b = append(b.b, bytes.Repeat([]byte{v}, n)...)
	return b
}

func (b *builder) bytes() []byte { return b.b }

// writeTemp writes data to a fresh file in t's temp dir and returns its path.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writerBytes runs w.WriteTo into memory.
func writerBytes(t testing.TB, w *Writer) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes()
}

func mustSet(t testing.TB, w *Writer, key string, v any) {
	t.Helper()
	if err := w.Set(key, v); err != nil {
		t.Fatal(err)
	}
}
