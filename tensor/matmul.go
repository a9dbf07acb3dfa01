package tensor

import (
	"encoding/binary"
	"fmt"
	"runtime/debug"
	"sync"
	"unsafe"
)

// Matrix is a 2-D weight as GGUF stores it: Rows rows of Cols elements
// (Cols = ne0, contiguous), row-major, each row a whole number of blocks.
type Matrix struct {
	Type       Type
	Rows, Cols int
	Data       []byte
}

// NewMatrix checks that data holds exactly rows rows of cols elements of type
// t, so that Row and MatMul can slice it without further checks. Empty
// shapes are refused too: a weight with no rows or columns is always a broken
// file, and refusing it here means Row(0) of any validated matrix is safe.
func NewMatrix(t Type, rows, cols int, data []byte) (Matrix, error) {
	if rows <= 0 || cols <= 0 {
		return Matrix{}, fmt.Errorf("matrix %s: shape %dx%d is not positive", t, rows, cols)
	}
	rb, err := t.RowBytes(cols)
	if err != nil {
		return Matrix{}, fmt.Errorf("matrix %dx%d: %w", rows, cols, err)
	}
	if rows > 0 && rb > 0 && rows > len(data)/rb+1 {
		return Matrix{}, fmt.Errorf("matrix %s %dx%d: %d bytes of data is too short", t, rows, cols, len(data))
	}
	if rows*rb != len(data) {
		return Matrix{}, fmt.Errorf("matrix %s %dx%d: want %d bytes of data, have %d", t, rows, cols, rows*rb, len(data))
	}
	return Matrix{Type: t, Rows: rows, Cols: cols, Data: data}, nil
}

// rowBytes is the stride of a validated matrix.
func (m Matrix) rowBytes() int { return m.Cols / m.Type.BlockSize() * m.Type.BlockBytes() }

// Row returns the encoded bytes of row i (sharing m.Data).
func (m Matrix) Row(i int) []byte {
	rb := m.rowBytes()
	return m.Data[i*rb : (i+1)*rb : (i+1)*rb]
}

// MatMul computes dst[i*m.Rows + r] = dot(row r of m, x[i*m.Cols:(i+1)*m.Cols])
// for i in [0, n), accumulating in float32.
//
// It is the single entry point the model uses for every weight, so faster
// kernels can later replace its inside without touching callers. This
// portable version decodes each weight row once into a per-worker scratch
// buffer (F32 rows are read in place when the host and alignment allow) and
// dots it with all n input rows, which amortises decoding over a batch.
// Rows are split into contiguous ranges over workers goroutines; workers <= 1
// runs on the caller's goroutine.
//
// m must come from NewMatrix (or satisfy its checks). Mismatched dst or x
// lengths are a programming error in the caller, not bad input data, and
// panic like an out-of-range slice would. Such a panic always reaches the
// caller's goroutine, even when a worker raised it, so a recover there sees it.
func MatMul(dst []float32, m Matrix, x []float32, n int, workers int) {
	if n < 0 || len(x) < n*m.Cols || len(dst) < n*m.Rows {
		panic(fmt.Sprintf("tensor.MatMul: %s %dx%d with n=%d needs len(x) >= %d and len(dst) >= %d, have %d and %d",
			m.Type, m.Rows, m.Cols, n, n*m.Cols, n*m.Rows, len(x), len(dst)))
	}
	if n == 0 || m.Rows == 0 {
		return
	}
	workers = max(1, min(workers, m.Rows))
	if workers == 1 {
		matMulRows(dst, m, x, n, 0, m.Rows)
		return
	}
	var g workerGroup
	per := (m.Rows + workers - 1) / workers
	for lo := 0; lo < m.Rows; lo += per {
		hi := min(lo+per, m.Rows)
		g.Go(func() { matMulRows(dst, m, x, n, lo, hi) })
	}
	g.Wait()
}

// workerGroup is a WaitGroup whose Wait re-raises the first panic of its
// goroutines on the waiting goroutine. An unrecovered panic in a goroutine
// kills the process whatever its caller does; carried over, it stays a
// failure of this call that the caller may recover from.
type workerGroup struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	caught *workerPanic
}

// Go runs fn on a new goroutine.
func (g *workerGroup) Go(fn func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer func() {
			if r := recover(); r != nil {
				// The stack must be taken here, while the panicking frames
				// are still on it.
				p := &workerPanic{value: r, stack: debug.Stack()}
				g.mu.Lock()
				if g.caught == nil {
					g.caught = p
				}
				g.mu.Unlock()
			}
		}()
		fn()
	}()
}

// Wait waits for every goroutine, then panics with a *workerPanic if any of
// them panicked.
func (g *workerGroup) Wait() {
	g.wg.Wait()
	if g.caught != nil {
		panic(g.caught)
	}
}

// workerPanic is a panic carried from a worker goroutine. Its message holds
// the original value and the worker's stack, which is otherwise lost once the
// panic moves to another goroutine.
type workerPanic struct {
	value any
	stack []byte
}

func (p *workerPanic) Error() string {
	return fmt.Sprintf("%v [panic in a tensor.MatMul worker goroutine]\n%s", p.value, p.stack)
}

// Unwrap exposes an error value (such as a runtime.Error) to errors.As.
func (p *workerPanic) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// matMulRows does rows [lo, hi) of MatMul with its own decode buffer.
func matMulRows(dst []float32, m Matrix, x []float32, n, lo, hi int) {
	direct := m.Type == F32 && canViewF32(m.Data)
	var scratch []float32
	if !direct {
		scratch = make([]float32, m.Cols)
	}
	for r := lo; r < hi; r++ {
		var w []float32
		if direct {
			w = viewF32(m.Row(r))
		} else {
			w = scratch[:m.Cols]
			// Cannot fail: the matrix was validated by NewMatrix.
			_ = DequantizeRow(m.Type, m.Row(r), w)
		}
		for i := 0; i < n; i++ {
			dst[i*m.Rows+r] = dot(w, x[i*m.Cols:(i+1)*m.Cols])
		}
	}
}

// dot uses eight independent float32 accumulators, which both lets the CPU
// overlap the additions and shortens each rounding chain eightfold.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		aa := a[i : i+8 : i+8]
		bb := b[i : i+8 : i+8]
		s0 += aa[0] * bb[0]
		s1 += aa[1] * bb[1]
		s2 += aa[2] * bb[2]
		s3 += aa[3] * bb[3]
		s4 += aa[4] * bb[4]
		s5 += aa[5] * bb[5]
		s6 += aa[6] * bb[6]
		s7 += aa[7] * bb[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// canViewF32 reports whether b can be reinterpreted as little-endian float32
// values in place: the host must be little-endian and b 4-byte aligned (GGUF
// aligns tensor data to 32 bytes, so mmapped files qualify).
func canViewF32(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	var probe [2]byte
	binary.NativeEndian.PutUint16(probe[:], 1)
	return probe[0] == 1 && uintptr(unsafe.Pointer(&b[0]))%4 == 0
}

// viewF32 reinterprets b (see canViewF32) as float32 values without copying.
func viewF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}
