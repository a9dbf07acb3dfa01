// Package gguf reads and writes GGUF (v2 and v3) model files.
//
// Open maps the file read-only and decodes the header (metadata and tensor
// infos) into Go values, while tensor data stays in the mapping: a
// TensorInfo's Data is a zero-copy view, so a multi-GB model costs page cache
// rather than heap. The header parser bounds every count and length by the
// bytes actually present before allocating, so corrupt or hostile files fail
// with an error naming the file and the problem instead of exhausting memory
// or panicking.
//
// Writer builds GGUF v3 files, used for tests and synthetic models.
package gguf

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/kiln-llm/kiln/tensor"
)

// ErrMissing is wrapped by the typed getters when a required key is absent,
// so loaders can tell "absent" from "present but wrong".
var ErrMissing = errors.New("missing")

// KV is one metadata key/value pair.
type KV struct {
	Key   string
	Value Value
}

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name   string
	Dims   []uint64    // ne0 first (ne0 is the contiguous row length), as stored
	Type   tensor.Type // always Known() in a parsed file
	Offset uint64      // relative to the start of the data section
	// Data is the tensor's bytes, a read-only slice of the memory map
	// (zero-copy). Writing to it faults; it is invalid after File.Close.
	Data []byte

	size uint64
}

// Elements returns the number of elements (the product of Dims).
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Bytes returns the size of the tensor's data in bytes, computed from its type
// and dimensions (0 if the type is unknown or the dimensions do not fit it).
func (t *TensorInfo) Bytes() uint64 {
	n, err := tensorBytes(t.Type, t.Dims)
	if err != nil {
		return 0
	}
	return n
}

// File is an open GGUF file. Its exported fields are filled by Open and must
// not be changed; all methods except Close are safe for concurrent use.
type File struct {
	Path       string
	Version    uint32
	Alignment  int
	DataOffset int64        // file offset of the data section
	KV         []KV         // in file order
	Tensors    []TensorInfo // in file order

	kvIndex  map[string]int
	tensorIx map[string]int
	size     int64

	closeOnce sync.Once
	closeErr  error
	release   func() error // unmaps (or drops) the file's bytes

	sealMu sync.Mutex
	seal   func() error // makes private bytes read-only; nil when not private
	sealed bool
}

// Placement says where an opened file's bytes live.
type Placement int

const (
	// Mapped maps the file read-only and shared: nothing is copied, pages
	// come in on demand, and processes serving the same file share one copy
	// in the page cache.
	Mapped Placement = iota
	// HugePages reads the file into private memory that Linux backs with
	// 2 MiB transparent huge pages where it can (elsewhere it is Mapped).
	// The copy is writable until Seal, so that a loader can rewrite weights
	// in place into the layouts its kernels read best. Decoding reads every weight once per token: with 4 KiB pages
	// a 700 MB model crosses 170,000 pages a token, and the TLB misses and
	// the hardware prefetchers, which stop at every 4 KiB boundary, cost
	// 5-20% of decode speed (110M Q8_0 model, 2 threads: 142 against 173
	// tokens/s). The price is the read at start-up and no sharing of the
	// copy between processes.
	HugePages
)

// Open maps path read-only and parses it (Mapped). Tensor Data slices point
// into the mapping, which stays valid until Close.
func Open(path string) (*File, error) { return OpenIn(path, Mapped) }

// OpenIn opens and parses path with its bytes placed as p says. Tensor Data
// slices point into those bytes, which stay valid until Close.
func OpenIn(path string, p Placement) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("gguf: %s: not a regular file", path)
	}
	var data []byte
	var release, seal func() error
	if p == HugePages {
		data, release, seal, err = readHuge(fd, st.Size())
	} else {
		data, release, err = mapFile(fd, st.Size())
	}
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	f, err := parse(path, data)
	if err != nil {
		if rerr := release(); rerr != nil {
			return nil, errors.Join(err, fmt.Errorf("gguf: %s: unmap: %w", path, rerr))
		}
		return nil, err
	}
	f.release, f.seal = release, seal
	return f, nil
}

// Writable reports whether the tensors' bytes are this process's own copy
// (HugePages on Linux) and Seal has not run: until then the loader may
// rewrite them in place.
func (f *File) Writable() bool {
	f.sealMu.Lock()
	defer f.sealMu.Unlock()
	return f.seal != nil && !f.sealed
}

// Seal makes a writable file's bytes read-only for good, as a mapping's
// are, so that a stray write faults instead of corrupting weights. It does
// nothing on a file that is not writable.
func (f *File) Seal() error {
	f.sealMu.Lock()
	defer f.sealMu.Unlock()
	if f.seal == nil || f.sealed {
		return nil
	}
	if err := f.seal(); err != nil {
		return fmt.Errorf("gguf: %s: protect: %w", f.Path, err)
	}
	f.sealed = true
	return nil
}

// Sealed reports whether Seal made the file's bytes read-only, which means
// a loader had the chance to rewrite them.
func (f *File) Sealed() bool {
	f.sealMu.Lock()
	defer f.sealMu.Unlock()
	return f.sealed
}

// Close releases the mapping. Every Data slice becomes invalid (reading it
// may crash the process), so Close must only be called once nothing uses the
// tensors. The Data fields of f.Tensors are cleared to make misuse visible.
// Calling Close again returns the first result.
func (f *File) Close() error {
	f.closeOnce.Do(func() {
		for i := range f.Tensors {
			f.Tensors[i].Data = nil
		}
		if f.release != nil {
			if err := f.release(); err != nil {
				f.closeErr = fmt.Errorf("gguf: %s: unmap: %w", f.Path, err)
			}
		}
	})
	return f.closeErr
}

// Size returns the file size in bytes.
func (f *File) Size() int64 { return f.size }

// Get returns the value of key.
func (f *File) Get(key string) (Value, bool) {
	i, ok := f.kvIndex[key]
	if !ok {
		return Value{}, false
	}
	return f.KV[i].Value, true
}

// Tensor returns the tensor called name. The pointer is into f.Tensors.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tensorIx[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// Errorf returns an error prefixed with "gguf: <path>: ", for loaders that
// find the file's contents unusable. It supports %w.
func (f *File) Errorf(format string, args ...any) error {
	return fmt.Errorf("gguf: %s: "+format, append([]any{f.Path}, args...)...)
}

func (f *File) keyErr(key string, err error) error {
	return fmt.Errorf("gguf: %s: key %q: %w", f.Path, key, err)
}

func (f *File) wrongType(key string, v Value, want string) error {
	if v.Type == TypeUint64 && want == "integer" {
		return f.keyErr(key, fmt.Errorf("uint64 value %v overflows int64", v.V))
	}
	return f.keyErr(key, fmt.Errorf("is %s, want %s", v.describe(), want))
}

// lookup returns key's value, or ErrMissing wrapped with the file and key.
func (f *File) lookup(key string) (Value, error) {
	v, ok := f.Get(key)
	if !ok {
		return Value{}, f.keyErr(key, ErrMissing)
	}
	return v, nil
}

// RequireInt returns an integer-valued key of any integer type.
func (f *File) RequireInt(key string) (int64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	n, ok := v.Int()
	if !ok {
		return 0, f.wrongType(key, v, "integer")
	}
	return n, nil
}

// IntOr returns def when key is absent, and an error when it is present with
// a non-integer type (a wrong type is a broken file, not a default).
func (f *File) IntOr(key string, def int64) (int64, error) {
	if _, ok := f.Get(key); !ok {
		return def, nil
	}
	return f.RequireInt(key)
}

// RequireFloat returns a float-valued key; integers are accepted and converted.
func (f *File) RequireFloat(key string) (float64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	x, ok := v.Float()
	if !ok {
		return 0, f.wrongType(key, v, "float")
	}
	return x, nil
}

// FloatOr returns def when key is absent, and an error on a wrong type.
func (f *File) FloatOr(key string, def float64) (float64, error) {
	if _, ok := f.Get(key); !ok {
		return def, nil
	}
	return f.RequireFloat(key)
}

// RequireString returns a string-valued key.
func (f *File) RequireString(key string) (string, error) {
	v, err := f.lookup(key)
	if err != nil {
		return "", err
	}
	s, ok := v.Str()
	if !ok {
		return "", f.wrongType(key, v, "string")
	}
	return s, nil
}

// StringOr returns def when key is absent, and an error on a wrong type.
func (f *File) StringOr(key, def string) (string, error) {
	if _, ok := f.Get(key); !ok {
		return def, nil
	}
	return f.RequireString(key)
}

// BoolOr returns def when key is absent, and an error on a wrong type.
func (f *File) BoolOr(key string, def bool) (bool, error) {
	v, ok := f.Get(key)
	if !ok {
		return def, nil
	}
	b, ok := v.Bool()
	if !ok {
		return false, f.wrongType(key, v, "bool")
	}
	return b, nil
}

// Strings returns an array-of-strings key (the File's own slice: read-only).
func (f *File) Strings(key string) ([]string, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	s, ok := v.Strings()
	if !ok {
		return nil, f.wrongType(key, v, "array of string")
	}
	return s, nil
}

// Float32s returns a numeric array key as float32 (the File's own slice when
// stored as float32: read-only).
func (f *File) Float32s(key string) ([]float32, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	s, ok := v.Float32s()
	if !ok {
		return nil, f.wrongType(key, v, "numeric array")
	}
	return s, nil
}

// Ints returns an integer array key as a new []int64.
func (f *File) Ints(key string) ([]int64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	s, ok := v.Ints()
	if !ok {
		return nil, f.wrongType(key, v, "integer array")
	}
	return s, nil
}
