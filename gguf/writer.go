package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"unicode/utf8"

	"github.com/kiln-llm/kiln/tensor"
)

// Writer builds a GGUF v3 file. Metadata keys keep insertion order; tensors
// are laid out in the order they were added, each at the next multiple of the
// alignment. A Writer is not safe for concurrent use.
type Writer struct {
	// Alignment of the data section and of every tensor (default 32). When it
	// is not 32 the writer stores it as general.alignment (uint32) unless that
	// key was set explicitly, in which case the two must agree.
	Alignment int

	kv       []KV
	kvIndex  map[string]int
	tensors  []wtensor
	tensorIx map[string]int
}

type wtensor struct {
	name  string
	typ   tensor.Type
	dims  []uint64
	size  uint64
	data  []byte
	write func(io.Writer) error
}

// NewWriter returns an empty Writer with the default alignment.
func NewWriter() *Writer {
	return &Writer{
		Alignment: defaultAlignment,
		kvIndex:   map[string]int{},
		tensorIx:  map[string]int{},
	}
}

// Set stores key = v, where v is a Value, a Go scalar (uint8..int64, float32,
// float64, bool, string) or a slice of those ([]Value for an array of
// arrays). Setting an existing key replaces its value in place.
func (w *Writer) Set(key string, v any) error {
	if key == "" {
		return errors.New("gguf: Set: empty key")
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("gguf: Set: key %q is not valid UTF-8", key)
	}
	val, err := ValueOf(v)
	if err != nil {
		return fmt.Errorf("gguf: Set %q: %w", key, err)
	}
	if err := checkNesting(val, 0); err != nil {
		return fmt.Errorf("gguf: Set %q: %w", key, err)
	}
	w.init()
	if i, ok := w.kvIndex[key]; ok {
		w.kv[i].Value = val
		return nil
	}
	w.kvIndex[key] = len(w.kv)
	w.kv = append(w.kv, KV{Key: key, Value: val})
	return nil
}

// checkNesting refuses arrays nested deeper than the reader accepts, so the
// writer never produces a file this package cannot open.
func checkNesting(v Value, depth int) error {
	if v.Type != TypeArray {
		return nil
	}
	if depth >= maxNesting {
		return fmt.Errorf("arrays nested more than %d deep", maxNesting)
	}
	if inner, ok := v.V.([]Value); ok {
		for _, x := range inner {
			if err := checkNesting(x, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *Writer) init() {
	if w.kvIndex == nil {
		w.kvIndex = map[string]int{}
	}
	if w.tensorIx == nil {
		w.tensorIx = map[string]int{}
	}
}

func (w *Writer) addTensor(t wtensor) error {
	if t.name == "" {
		return errors.New("gguf: AddTensor: empty tensor name")
	}
	w.init()
	if _, dup := w.tensorIx[t.name]; dup {
		return fmt.Errorf("gguf: AddTensor %q: duplicate tensor name", t.name)
	}
	if len(t.dims) > maxDims {
		return fmt.Errorf("gguf: AddTensor %q: %d dimensions (at most %d)", t.name, len(t.dims), maxDims)
	}
	size, err := tensorBytes(t.typ, t.dims)
	if err != nil {
		return fmt.Errorf("gguf: AddTensor %q: %w", t.name, err)
	}
	t.size = size
	t.dims = append([]uint64(nil), t.dims...)
	w.tensorIx[t.name] = len(w.tensors)
	w.tensors = append(w.tensors, t)
	return nil
}

// AddTensor adds a tensor whose bytes are data (kept, not copied, until the
// file is written). len(data) must match the size implied by typ and dims.
func (w *Writer) AddTensor(name string, typ tensor.Type, dims []uint64, data []byte) error {
	if err := w.addTensor(wtensor{name: name, typ: typ, dims: dims, data: data}); err != nil {
		return err
	}
	t := &w.tensors[len(w.tensors)-1]
	if uint64(len(data)) != t.size {
		w.tensors = w.tensors[:len(w.tensors)-1]
		delete(w.tensorIx, name)
		return fmt.Errorf("gguf: AddTensor %q: %d bytes of data, want %d for %s %v", name, len(data), t.size, typ, dims)
	}
	return nil
}

// AddTensorFunc registers a tensor whose bytes are produced at write time
// (for multi-GB synthetic models): write must write exactly the tensor's byte
// size; the writer checks it.
func (w *Writer) AddTensorFunc(name string, typ tensor.Type, dims []uint64, write func(io.Writer) error) error {
	if write == nil {
		return fmt.Errorf("gguf: AddTensorFunc %q: nil write function", name)
	}
	return w.addTensor(wtensor{name: name, typ: typ, dims: dims, write: write})
}

// layout returns the effective alignment and the KVs to write, adding
// general.alignment when needed.
func (w *Writer) layout() (int, []KV, error) {
	align := w.Alignment
	if align == 0 {
		align = defaultAlignment
	}
	if align < 0 || align&(align-1) != 0 || uint64(align) > math.MaxUint32 {
		return 0, nil, fmt.Errorf("gguf: alignment %d is not a power of two that fits in uint32", align)
	}
	kvs := w.kv
	if i, ok := w.kvIndex[alignmentKey]; ok {
		v := w.kv[i].Value
		a, isU32 := v.V.(uint32)
		if !isU32 || v.Type != TypeUint32 {
			return 0, nil, fmt.Errorf("gguf: key %q: is %s, want uint32", alignmentKey, v.describe())
		}
		if int(a) != align {
			return 0, nil, fmt.Errorf("gguf: key %q is %d but Writer.Alignment is %d", alignmentKey, a, align)
		}
	} else if align != defaultAlignment {
		kvs = append(kvs[:len(kvs):len(kvs)], KV{Key: alignmentKey, Value: Value{Type: TypeUint32, V: uint32(align)}})
	}
	return align, kvs, nil
}

// countingWriter counts bytes and remembers the first write error, so that
// encoding code can write freely and check once.
type countingWriter struct {
	w   *bufio.Writer
	n   int64
	err error
	buf [8]byte
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

func (c *countingWriter) u32(x uint32) {
	binary.LittleEndian.PutUint32(c.buf[:4], x)
	_, _ = c.Write(c.buf[:4])
}

func (c *countingWriter) u64(x uint64) {
	binary.LittleEndian.PutUint64(c.buf[:8], x)
	_, _ = c.Write(c.buf[:8])
}

func (c *countingWriter) str(s string) {
	c.u64(uint64(len(s)))
	if c.err == nil {
		_, c.err = c.w.WriteString(s)
		if c.err == nil {
			c.n += int64(len(s))
		}
	}
}

func (c *countingWriter) zeros(n int) {
	var pad [256]byte
	for n > 0 {
		k := min(n, len(pad))
		_, _ = c.Write(pad[:k])
		n -= k
	}
}

// WriteTo writes the whole file to out and returns the bytes written.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	align, kvs, err := w.layout()
	if err != nil {
		return 0, err
	}
	c := &countingWriter{w: bufio.NewWriterSize(out, 256<<10)}
	_, _ = c.Write([]byte(magic))
	c.u32(3)
	c.u64(uint64(len(w.tensors)))
	c.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		c.str(kv.Key)
		c.u32(uint32(kv.Value.Type))
		c.value(kv.Value)
	}
	offset := uint64(0)
	offsets := make([]uint64, len(w.tensors))
	for i, t := range w.tensors {
		offsets[i] = offset
		c.str(t.name)
		c.u32(uint32(len(t.dims)))
		for _, d := range t.dims {
			c.u64(d)
		}
		c.u32(uint32(t.typ))
		c.u64(offset)
		offset = alignUp(offset+t.size, uint64(align))
	}
	if len(w.tensors) > 0 {
		c.zeros(int(alignUp(uint64(c.n), uint64(align)) - uint64(c.n)))
	}
	dataStart := c.n
	for i, t := range w.tensors {
		c.zeros(int(uint64(dataStart) + offsets[i] - uint64(c.n)))
		if c.err != nil {
			break
		}
		if t.write == nil {
			_, _ = c.Write(t.data)
			continue
		}
		lw := &limitedWriter{w: c, left: t.size}
		if err := t.write(lw); err != nil {
			return c.n, fmt.Errorf("gguf: writing tensor %q: %w", t.name, err)
		}
		if lw.over {
			return c.n, fmt.Errorf("gguf: writing tensor %q: write function wrote more than the tensor's %d bytes", t.name, t.size)
		}
		if lw.left != 0 {
			return c.n, fmt.Errorf("gguf: writing tensor %q: write function wrote %d bytes, want %d", t.name, t.size-lw.left, t.size)
		}
	}
	if c.err == nil {
		c.err = c.w.Flush()
	}
	if c.err != nil {
		return c.n, fmt.Errorf("gguf: write: %w", c.err)
	}
	return c.n, nil
}

// limitedWriter passes at most left bytes through and records an attempt to
// write more, so a buggy tensor function cannot shift every later tensor.
type limitedWriter struct {
	w    io.Writer
	left uint64
	over bool
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if uint64(len(p)) > l.left {
		l.over = true
		return 0, fmt.Errorf("write of %d bytes exceeds the %d left of the tensor", len(p), l.left)
	}
	n, err := l.w.Write(p)
	l.left -= uint64(n)
	return n, err
}

func alignUp(n, align uint64) uint64 { return (n + align - 1) &^ (align - 1) }

func (c *countingWriter) value(v Value) {
	switch x := v.V.(type) {
	case uint8:
		_, _ = c.Write([]byte{x})
	case int8:
		_, _ = c.Write([]byte{byte(x)})
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		_, _ = c.Write([]byte{b})
	case uint16:
		var b [2]byte
		binary.LittleEndian.PutUint16(b[:], x)
		_, _ = c.Write(b[:])
	case int16:
		var b [2]byte
		binary.LittleEndian.PutUint16(b[:], uint16(x))
		_, _ = c.Write(b[:])
	case uint32:
		c.u32(x)
	case int32:
		c.u32(uint32(x))
	case float32:
		c.u32(math.Float32bits(x))
	case uint64:
		c.u64(x)
	case int64:
		c.u64(uint64(x))
	case float64:
		c.u64(math.Float64bits(x))
	case string:
		c.str(x)
	default:
		c.array(v)
	}
}

func (c *countingWriter) array(v Value) {
	c.u32(uint32(v.Elem))
	c.u64(uint64(v.Len()))
	switch x := v.V.(type) {
	case []string:
		for _, s := range x {
			c.str(s)
		}
	case []Value:
		// Elements of an array of arrays are bare arrays (element type,
		// count, elements): the outer Elem already says they are arrays.
		for _, inner := range x {
			c.array(inner)
		}
	default:
		c.numbers(x)
	}
}

func (c *countingWriter) numbers(arr any) {
	le := binary.LittleEndian
	var b []byte
	switch x := arr.(type) {
	case []uint8:
		b = x
	case []int8:
		b = make([]byte, len(x))
		for i, n := range x {
			b[i] = byte(n)
		}
	case []bool:
		b = make([]byte, len(x))
		for i, t := range x {
			if t {
				b[i] = 1
			}
		}
	case []uint16:
		b = make([]byte, 0, 2*len(x))
		for _, n := range x {
			b = le.AppendUint16(b, n)
		}
	case []int16:
		b = make([]byte, 0, 2*len(x))
		for _, n := range x {
			b = le.AppendUint16(b, uint16(n))
		}
	case []uint32:
		b = make([]byte, 0, 4*len(x))
		for _, n := range x {
			b = le.AppendUint32(b, n)
		}
	case []int32:
		b = make([]byte, 0, 4*len(x))
		for _, n := range x {
			b = le.AppendUint32(b, uint32(n))
		}
	case []float32:
		b = make([]byte, 0, 4*len(x))
		for _, n := range x {
			b = le.AppendUint32(b, math.Float32bits(n))
		}
	case []uint64:
		b = make([]byte, 0, 8*len(x))
		for _, n := range x {
			b = le.AppendUint64(b, n)
		}
	case []int64:
		b = make([]byte, 0, 8*len(x))
		for _, n := range x {
			b = le.AppendUint64(b, uint64(n))
		}
	case []float64:
		b = make([]byte, 0, 8*len(x))
		for _, n := range x {
			b = le.AppendUint64(b, math.Float64bits(n))
		}
	}
	_, _ = c.Write(b)
}

// WriteFile writes the file to path+".tmp" and renames it to path, so that a
// reader never sees a half-written model.
func (w *Writer) WriteFile(path string) error {
	tmp := path + ".tmp"
	fd, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	_, werr := w.WriteTo(fd)
	if werr == nil {
		werr = fd.Sync()
	}
	if cerr := fd.Close(); werr == nil && cerr != nil {
		werr = fmt.Errorf("gguf: close %s: %w", tmp, cerr)
	}
	if werr == nil {
		if err := os.Rename(tmp, path); err != nil {
			werr = fmt.Errorf("gguf: %w", err)
		}
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return werr
	}
	return nil
}
