package tensor

import (
	"fmt"

	"github.com/kiln-llm/kiln/parallel"
)

// Product is one matrix product of a MatMuls call: Dst = W times the inputs.
type Product struct {
	Dst []float32
	W   Matrix
}

// MatMuls is MatMul for several matrices applied to the same inputs: a
// layer's query, key and value projections, or its gate and up projections.
// On the integer route the inputs are quantized once for all of them; for
// one input row (decoding), and for a batch when every matrix is packed,
// the rows of every matrix are also shared out over the workers in one
// dispatch, so the workers meet once instead of once per matrix: a decode
// step of a matrix this small is tens of microseconds, and each meeting
// costs a few of them. Every output is computed by the same
// kernel as MatMul's, so the results are bit for bit MatMul's.
//
// Each product's W must have the columns of the inputs; lengths are checked
// as MatMul checks them.
func MatMuls(x []float32, n int, p *parallel.Pool, ps ...Product) {
	matMuls(x, n, p, activeKernels, ps)
}

func matMuls(x []float32, n int, p *parallel.Pool, ks *kernelSet, ps []Product) {
	kind, shared := sharedAct(ps)
	if !shared || n < 1 {
		for _, pr := range ps {
			matMul(pr.Dst, pr.W, x, n, p, ks, true)
		}
		return
	}
	if n != 1 {
		matMulsBatch(x, n, p, ks, kind, ps)
		return
	}
	cols := checkProducts(x, 1, ps)
	total := 0
	for _, pr := range ps {
		total += slots(pr.W)
	}
	a := qactsPool.Get().(*qacts)
	defer qactsPool.Put(a)
	a.alloc(kind, 1, cols)
	a.quantize(x, 0, 1, ks)
	v := a.view(0)
	// The rows of all products end to end; a worker's range may cross from
	// one matrix into the next. Each matrix starts at a multiple of
	// packRows, and ranges at multiples of decodeGrain, so that a range
	// starts on a packed matrix's group boundary.
	p.For(total, decodeGrain, func(_, lo, hi int) {
		base := 0
		for _, pr := range ps {
			m := pr.W
			l, h := max(lo-base, 0), min(hi-base, m.Rows)
			base += slots(m)
			if l >= h {
				continue
			}
			if m.packed {
				packedRange(pr.Dst, m, 1, a, ks, ks.packedFor(m.Type), l, h, 1)
				continue
			}
			rows := ks.qrows[m.Type]
			if rows == nil {
				rows = goIntRows[m.Type]
			}
			rb := m.rowBytes()
			rows(pr.Dst[l:h], m.Data[l*rb:h*rb], rb, v)
		}
	})
}

// matMulsBatch is matMuls for n > 1 inputs: they are quantized once, padded
// to the widest any packed product wants, and the products run in one
// dispatch if matMulsPacked takes them, else each as MatMul would (a
// padding input adds nothing wherever it runs).
func matMulsBatch(x []float32, n int, p *parallel.Pool, ks *kernelSet, kind Type, ps []Product) {
	cols := checkProducts(x, n, ps)
	npad := n
	for _, pr := range ps {
		npad = max(npad, ks.paddedFor(pr.W, n))
	}
	a := qactsPool.Get().(*qacts)
	defer qactsPool.Put(a)
	a.quantizeInputs(x, n, cols, npad, p, ks, kind)
	if matMulsPacked(ps, n, p, ks, a) {
		return
	}
	for _, pr := range ps {
		if pr.W.Rows > 0 {
			matMulQuantized(pr.Dst, pr.W, n, p, ks, a)
		}
	}
}

// checkProducts panics unless every product of ps takes the columns of
// the first and x and the outputs hold n rows; it returns the columns.
func checkProducts(x []float32, n int, ps []Product) int {
	cols := ps[0].W.Cols
	for _, pr := range ps {
		if pr.W.Cols != cols || len(x) < n*cols || len(pr.Dst) < n*pr.W.Rows {
			panic(fmt.Sprintf("tensor.MatMuls: %s %dx%d with n=%d needs %d input columns, len(x) >= %d and len(dst) >= %d, have %d and %d",
				pr.W.Type, pr.W.Rows, pr.W.Cols, n, cols, n*pr.W.Cols, n*pr.W.Rows, len(x), len(pr.Dst)))
		}
	}
	return cols
}

// slots is the span MatMuls gives m's rows: its row count rounded up to a
// whole number of packed groups.
func slots(m Matrix) int { return (m.Rows + packRows - 1) / packRows * packRows }

// sharedAct reports the input format of ps when they all take the integer
// route with the same one (and there is more than one product to share it).
func sharedAct(ps []Product) (Type, bool) {
	if len(ps) < 2 {
		return 0, false
	}
	kind, ok := actType(ps[0].W.Type)
	if !ok {
		return 0, false
	}
	for _, pr := range ps[1:] {
		if k, ok := actType(pr.W.Type); !ok || k != kind {
			return 0, false
		}
	}
	return kind, true
}
