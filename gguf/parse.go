package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"unicode/utf8"

	"github.com/kiln-llm/kiln/tensor"
)

const (
	magic            = "GGUF"
	defaultAlignment = 32
	alignmentKey     = "general.alignment"

	// maxDims is ggml's GGML_MAX_DIMS: no runtime can use a tensor with more.
	maxDims = 4
	// maxNesting bounds arrays of arrays. Real files nest at most once; the
	// bound keeps a hostile file from driving the parser's recursion deep.
	maxNesting = 8

	// Smallest encodings, used to bound counts by the bytes left before
	// allocating: a KV is a key length, a 1-byte key, a type and a 1-byte
	// value; a tensor info is a name length, a 1-byte name, n_dims, a type and
	// an offset.
	minKVBytes     = 8 + 1 + 4 + 1
	minTensorBytes = 8 + 1 + 4 + 4 + 8
)

// decoder reads little-endian fields from the header bytes. Every read is
// bounds-checked; the first failure is kept in err and later reads return
// zero values, so the parsing code can check once per logical item.
type decoder struct {
	buf []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("at offset %d: %s", d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) remaining() int { return len(d.buf) - d.off }

func (d *decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.remaining() {
		d.fail("truncated file: %s needs %d bytes, %d left", what, n, d.remaining())
		return nil
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

func (d *decoder) u8(what string) uint8 {
	b := d.take(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) u16(what string) uint16 {
	b := d.take(2, what)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

func (d *decoder) u32(what string) uint32 {
	b := d.take(4, what)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (d *decoder) u64(what string) uint64 {
	b := d.take(8, what)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// count reads a uint64 element count and checks that n elements of at least
// minSize bytes each can fit in what is left, so that callers may allocate n.
func (d *decoder) count(minSize int, what string) int {
	start := d.off
	n := d.u64(what + " count")
	if d.err != nil {
		return 0
	}
	left := d.remaining()
	if minSize > 0 && n > uint64(left/minSize) {
		d.off = start
		d.fail("%s count %d cannot fit in the %d bytes left", what, n, left)
		return 0
	}
	if minSize == 0 && n > uint64(left) {
		d.off = start
		d.fail("%s length %d exceeds the %d bytes left", what, n, left)
		return 0
	}
	return int(n)
}

// rawString returns the bytes of a length-prefixed string without copying.
func (d *decoder) rawString(what string) []byte {
	n := d.count(0, what)
	return d.take(n, what)
}

func (d *decoder) str(what string) string {
	return string(d.rawString(what))
}

// parse decodes a whole GGUF file held in data. Tensor Data slices alias
// data. Every error names path and says what is wrong and where.
func parse(path string, data []byte) (*File, error) {
	f, err := parseData(data)
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

func parseData(data []byte) (*File, error) {
	d := &decoder{buf: data}
	if len(data) < 4 || string(data[:4]) != magic {
		n := min(len(data), 4)
		return nil, fmt.Errorf("not a GGUF file (magic %q, want %q)", data[:n], magic)
	}
	d.off = 4
	version := d.u32("version")
	if d.err != nil {
		return nil, d.err
	}
	switch version {
	case 2, 3:
	case 1:
		return nil, fmt.Errorf("GGUF version 1 is not supported (only 2 and 3)")
	default:
		if version != 0 && bits.ReverseBytes32(version) <= 3 {
			return nil, fmt.Errorf("GGUF version %d: looks like a big-endian file, which is not supported", version)
		}
		return nil, fmt.Errorf("unsupported GGUF version %d (want 2 or 3)", version)
	}
	nTensors := d.u64("tensor count")
	nKV := d.u64("kv count")
	if d.err != nil {
		return nil, d.err
	}
	if nKV > uint64(d.remaining()/minKVBytes) {
		return nil, fmt.Errorf("kv count %d cannot fit in a %d-byte file", nKV, len(data))
	}
	if nTensors > uint64(d.remaining()/minTensorBytes) {
		return nil, fmt.Errorf("tensor count %d cannot fit in a %d-byte file", nTensors, len(data))
	}

	f := &File{
		Version:  version,
		KV:       make([]KV, 0, nKV),
		kvIndex:  make(map[string]int, nKV),
		tensorIx: make(map[string]int, nTensors),
		size:     int64(len(data)),
	}
	for i := range int(nKV) {
		start := d.off
		kb := d.rawString(fmt.Sprintf("key of kv %d", i))
		if d.err != nil {
			return nil, d.err
		}
		key := string(kb)
		if key == "" {
			return nil, fmt.Errorf("at offset %d: kv %d has an empty key", start, i)
		}
		if !utf8.ValidString(key) {
			return nil, fmt.Errorf("at offset %d: kv %d: key %q is not valid UTF-8", start, i, key)
		}
		if j, dup := f.kvIndex[key]; dup {
			return nil, fmt.Errorf("at offset %d: duplicate key %q (kv %d and %d)", start, key, j, i)
		}
		typ := ValueType(d.u32("value type"))
		v := d.value(typ, 0, key)
		if d.err != nil {
			return nil, fmt.Errorf("key %q: %w", key, d.err)
		}
		f.kvIndex[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}

	f.Alignment = defaultAlignment
	if v, ok := f.Get(alignmentKey); ok {
		a, isU32 := v.V.(uint32)
		if !isU32 || v.Type != TypeUint32 {
			return nil, fmt.Errorf("key %q: is %s, want uint32", alignmentKey, v.describe())
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("key %q: alignment %d is not a nonzero power of two", alignmentKey, a)
		}
		f.Alignment = int(a)
	}

	f.Tensors = make([]TensorInfo, nTensors)
	for i := range f.Tensors {
		if err := d.tensorInfo(&f.Tensors[i], i); err != nil {
			return nil, err
		}
		t := &f.Tensors[i]
		if j, dup := f.tensorIx[t.Name]; dup {
			return nil, fmt.Errorf("duplicate tensor name %q (tensors %d and %d)", t.Name, j, i)
		}
		if t.Offset%uint64(f.Alignment) != 0 {
			return nil, fmt.Errorf("tensor %q: offset %d is not a multiple of the alignment %d", t.Name, t.Offset, f.Alignment)
		}
		f.tensorIx[t.Name] = i
	}

	headerEnd := uint64(d.off)
	dataStart := (headerEnd + uint64(f.Alignment) - 1) &^ (uint64(f.Alignment) - 1)
	f.DataOffset = int64(dataStart)
	if len(f.Tensors) == 0 {
		// Vocab-only files may end right after the header, without padding.
		return f, nil
	}
	if dataStart > uint64(len(data)) {
		return nil, fmt.Errorf("data section at offset %d starts past the end of the %d-byte file", dataStart, len(data))
	}
	section := data[dataStart:]
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Offset > uint64(len(section)) || t.size > uint64(len(section))-t.Offset {
			return nil, fmt.Errorf("tensor %q: data [%d, +%d) at file offset %d extends past the end of the %d-byte file",
				t.Name, t.Offset, t.size, dataStart+t.Offset, len(data))
		}
		end := t.Offset + t.size
		t.Data = section[t.Offset:end:end]
	}
	if err := checkOverlaps(f.Tensors); err != nil {
		return nil, err
	}
	return f, nil
}

// checkOverlaps rejects tensors whose bytes overlap: a writer never produces
// them, and two weights sharing storage would silently corrupt a model.
func checkOverlaps(ts []TensorInfo) error {
	order := make([]int, len(ts))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return ts[order[a]].Offset < ts[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		prev, cur := &ts[order[k-1]], &ts[order[k]]
		if prev.size > 0 && cur.size > 0 && prev.Offset+prev.size > cur.Offset {
			return fmt.Errorf("tensors %q [%d, %d) and %q [%d, %d) overlap",
				prev.Name, prev.Offset, prev.Offset+prev.size, cur.Name, cur.Offset, cur.Offset+cur.size)
		}
	}
	return nil
}

func (d *decoder) tensorInfo(t *TensorInfo, i int) error {
	start := d.off
	name := d.str(fmt.Sprintf("name of tensor %d", i))
	nDims := d.u32("n_dims")
	if d.err != nil {
		return d.err
	}
	if name == "" {
		return fmt.Errorf("at offset %d: tensor %d has an empty name", start, i)
	}
	if nDims > maxDims {
		return fmt.Errorf("at offset %d: tensor %q has %d dimensions (at most %d)", start, name, nDims, maxDims)
	}
	t.Name = name
	t.Dims = make([]uint64, nDims)
	for j := range t.Dims {
		t.Dims[j] = d.u64("dimension")
	}
	t.Type = tensor.Type(d.u32("tensor type"))
	t.Offset = d.u64("tensor offset")
	if d.err != nil {
		return fmt.Errorf("tensor %q: %w", name, d.err)
	}
	size, err := tensorBytes(t.Type, t.Dims)
	if err != nil {
		return fmt.Errorf("at offset %d: tensor %q: %w", start, name, err)
	}
	t.size = size
	return nil
}

// tensorBytes computes a tensor's byte size with every overflow checked, so
// that a hostile header cannot make a huge size wrap to a small one.
func tensorBytes(typ tensor.Type, dims []uint64) (uint64, error) {
	if !typ.Known() {
		return 0, fmt.Errorf("unknown tensor type %d", uint32(typ))
	}
	elems := uint64(1)
	for _, n := range dims {
		hi, lo := bits.Mul64(elems, n)
		if hi != 0 || lo > math.MaxInt64 || n > math.MaxInt64 {
			return 0, fmt.Errorf("dimensions %v: element count overflows int64", dims)
		}
		elems = lo
	}
	rowLen := uint64(1)
	if len(dims) > 0 {
		rowLen = dims[0]
	}
	block := uint64(typ.BlockSize())
	if rowLen%block != 0 {
		return 0, fmt.Errorf("%s: row length %d is not a multiple of the block size %d", typ, rowLen, block)
	}
	if rowLen == 0 {
		return 0, nil
	}
	hi, size := bits.Mul64(elems/block, uint64(typ.BlockBytes()))
	if hi != 0 || size > math.MaxInt64 {
		return 0, fmt.Errorf("dimensions %v: byte size of %s data overflows int64", dims, typ)
	}
	return size, nil
}

// value decodes one value of type typ. depth counts enclosing arrays.
func (d *decoder) value(typ ValueType, depth int, what string) Value {
	if d.err != nil {
		return Value{}
	}
	switch typ {
	case TypeUint8:
		return Value{Type: typ, V: d.u8(what)}
	case TypeInt8:
		return Value{Type: typ, V: int8(d.u8(what))}
	case TypeUint16:
		return Value{Type: typ, V: d.u16(what)}
	case TypeInt16:
		return Value{Type: typ, V: int16(d.u16(what))}
	case TypeUint32:
		return Value{Type: typ, V: d.u32(what)}
	case TypeInt32:
		return Value{Type: typ, V: int32(d.u32(what))}
	case TypeFloat32:
		return Value{Type: typ, V: math.Float32frombits(d.u32(what))}
	case TypeUint64:
		return Value{Type: typ, V: d.u64(what)}
	case TypeInt64:
		return Value{Type: typ, V: int64(d.u64(what))}
	case TypeFloat64:
		return Value{Type: typ, V: math.Float64frombits(d.u64(what))}
	case TypeBool:
		at := d.off
		b := d.u8(what)
		if b > 1 {
			d.off = at
			d.fail("bool value %d is neither 0 nor 1", b)
		}
		return Value{Type: typ, V: b == 1}
	case TypeString:
		return Value{Type: typ, V: d.str(what)}
	case TypeArray:
		return d.array(depth)
	}
	d.off -= 4 // point at the type field
	d.fail("unknown value type %d", uint32(typ))
	return Value{}
}

func (d *decoder) array(depth int) Value {
	if depth >= maxNesting {
		d.fail("arrays nested more than %d deep", maxNesting)
		return Value{}
	}
	elem := ValueType(d.u32("array element type"))
	if d.err != nil {
		return Value{}
	}
	if !elem.valid() {
		d.off -= 4
		d.fail("array of unknown value type %d", uint32(elem))
		return Value{}
	}
	n := d.count(elem.minSize(), "array of "+elem.String())
	if d.err != nil {
		return Value{}
	}
	v := Value{Type: TypeArray, Elem: elem}
	switch elem {
	case TypeString:
		v.V = d.stringArray(n)
	case TypeArray:
		arr := make([]Value, n)
		for i := range arr {
			arr[i] = d.value(TypeArray, depth+1, "array element")
			if d.err != nil {
				return Value{}
			}
		}
		v.V = arr
	case TypeBool:
		raw := d.take(n, "bool array")
		arr := make([]bool, len(raw))
		for i, b := range raw {
			if b > 1 {
				d.off -= len(raw) - i
				d.fail("bool array element %d is %d, neither 0 nor 1", i, b)
				return Value{}
			}
			arr[i] = b == 1
		}
		v.V = arr
	default:
		raw := d.take(n*elem.size(), "array of "+elem.String())
		if d.err != nil {
			return Value{}
		}
		v.V = decodeNumbers(elem, raw, n)
	}
	return v
}

// stringArray reads n strings into a single allocation: a 150k-entry
// vocabulary would otherwise cost 150k small allocations at every load.
func (d *decoder) stringArray(n int) []string {
	start := d.off
	total := 0
	for i := range n {
		l := d.count(0, "array string")
		d.take(l, "array string")
		if d.err != nil {
			d.err = fmt.Errorf("string %d of %d: %w", i, n, d.err)
			return nil
		}
		total += l
	}
	arena := make([]byte, 0, total)
	spans := make([][2]int, n)
	d2 := decoder{buf: d.buf, off: start}
	for i := range n {
		b := d2.rawString("string")
		spans[i] = [2]int{len(arena), len(arena) + len(b)}
		arena = append(arena, b...)
	}
	all := string(arena)
	out := make([]string, n)
	for i, s := range spans {
		out[i] = all[s[0]:s[1]]
	}
	return out
}

func decodeNumbers(elem ValueType, raw []byte, n int) any {
	le := binary.LittleEndian
	switch elem {
	case TypeUint8:
		out := make([]uint8, n)
		copy(out, raw)
		return out
	case TypeInt8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(raw[i])
		}
		return out
	case TypeUint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(raw[2*i:])
		}
		return out
	case TypeInt16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(raw[2*i:]))
		}
		return out
	case TypeUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(raw[4*i:])
		}
		return out
	case TypeInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(raw[4*i:]))
		}
		return out
	case TypeFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return out
	case TypeUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(raw[8*i:])
		}
		return out
	case TypeInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(raw[8*i:]))
		}
		return out
	case TypeFloat64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return out
	}
	return nil
}
