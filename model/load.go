package model

import (
	"fmt"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/tensor"
)

// weightTypes are the encodings MatMul and DequantizeRow handle; anything
// else is refused at load, because MatMul cannot report an error later.
var weightTypes = map[tensor.Type]bool{
	tensor.F32: true, tensor.F16: true, tensor.BF16: true,
	tensor.Q4_0: true, tensor.Q4_1: true, tensor.Q5_0: true, tensor.Q5_1: true, tensor.Q8_0: true,
	tensor.Q2_K: true, tensor.Q3_K: true, tensor.Q4_K: true, tensor.Q5_K: true, tensor.Q6_K: true,
}

// loader reads tensors of one file, checking shape and type and naming the
// tensor in every error.
type loader struct{ f *gguf.File }

func (l loader) info(name string) (*gguf.TensorInfo, error) {
	t, ok := l.f.Tensor(name)
	if !ok {
		return nil, l.f.Errorf("tensor %q: missing", name)
	}
	if !weightTypes[t.Type] {
		return nil, l.f.Errorf("tensor %q: type %s is not supported", name, t.Type)
	}
	return t, nil
}

// shape reports the tensor's dims with trailing 1s dropped, so that a [n, 1]
// vector and a [n] vector look the same.
func shape(t *gguf.TensorInfo) []uint64 {
	d := t.Dims
	for len(d) > 1 && d[len(d)-1] == 1 {
		d = d[:len(d)-1]
	}
	return d
}

// matrix returns the weight mapping cols inputs to rows outputs (GGUF dims
// [cols, rows]), aliasing the file's bytes.
func (l loader) matrix(name string, cols, rows int) (tensor.Matrix, error) {
	t, err := l.info(name)
	if err != nil {
		return tensor.Matrix{}, err
	}
	d := shape(t)
	if len(d) != 2 || d[0] != uint64(cols) || d[1] != uint64(rows) {
		return tensor.Matrix{}, l.f.Errorf("tensor %q: shape %v, want [%d %d]", name, t.Dims, cols, rows)
	}
	m, err := tensor.NewMatrix(t.Type, rows, cols, t.Data)
	if err != nil {
		return tensor.Matrix{}, l.f.Errorf("tensor %q: %v", name, err)
	}
	// Decoding one row proves the kernels accept this type and row length
	// now, rather than failing inside a forward pass.
	probe := make([]float32, cols)
	if err := tensor.DequantizeRow(t.Type, m.Row(0), probe); err != nil {
		return tensor.Matrix{}, l.f.Errorf("tensor %q: %v", name, err)
	}
	return m, nil
}

// optMatrix is matrix for a tensor that may be absent (ok false).
func (l loader) optMatrix(name string, cols, rows int) (m tensor.Matrix, ok bool, err error) {
	if _, present := l.f.Tensor(name); !present {
		return tensor.Matrix{}, false, nil
	}
	m, err = l.matrix(name, cols, rows)
	return m, err == nil, err
}

// vector decodes a 1-D tensor of n elements to float32.
func (l loader) vector(name string, n int) ([]float32, error) {
	t, err := l.info(name)
	if err != nil {
		return nil, err
	}
	d := shape(t)
	if len(d) != 1 || d[0] != uint64(n) {
		return nil, l.f.Errorf("tensor %q: shape %v, want [%d]", name, t.Dims, n)
	}
	nb, err := t.Type.RowBytes(n)
	if err != nil {
		return nil, l.f.Errorf("tensor %q: %v", name, err)
	}
	if len(t.Data) < nb {
		return nil, l.f.Errorf("tensor %q: %d bytes of data, want %d", name, len(t.Data), nb)
	}
	v := make([]float32, n)
	if err := tensor.DequantizeRow(t.Type, t.Data[:nb], v); err != nil {
		return nil, l.f.Errorf("tensor %q: %v", name, err)
	}
	return v, nil
}

// optVector is vector for a tensor that may be absent (nil, nil).
func (l loader) optVector(name string, n int) ([]float32, error) {
	if _, ok := l.f.Tensor(name); !ok {
		return nil, nil
	}
	return l.vector(name, n)
}

// rows returns rows [lo, lo+n) of m as a matrix sharing m's bytes; fused
// tensors are split this way so the layer code sees separate projections.
func rows(m tensor.Matrix, lo, n int) (tensor.Matrix, error) {
	rb, err := m.Type.RowBytes(m.Cols)
	if err != nil {
		return tensor.Matrix{}, err
	}
	return tensor.NewMatrix(m.Type, n, m.Cols, m.Data[lo*rb:(lo+n)*rb])
}

func (m *Model) loadTensors(f *gguf.File) error {
	c := &m.Config
	l := loader{f}
	te, ok := f.Tensor("token_embd.weight")
	if !ok {
		return f.Errorf("tensor %q: missing", "token_embd.weight")
	}
	if d := shape(te); len(d) != 2 || d[1] == 0 || d[1] > maxVocab {
		return f.Errorf("tensor %q: shape %v, want [%d vocab] with vocab in [1, %d]", "token_embd.weight", te.Dims, c.Embd, maxVocab)
	}
	c.Vocab = int(te.Dims[1])
	var err error
	if m.tokEmbd, err = l.matrix("token_embd.weight", c.Embd, c.Vocab); err != nil {
		return err
	}
	if m.outputNorm, err = l.vector("output_norm.weight", c.Embd); err != nil {
		return err
	}
	out, ok, err := l.optMatrix("output.weight", c.Embd, c.Vocab)
	if err != nil {
		return err
	}
	if ok {
		m.output = out
	} else {
		m.output, c.TiedOutput = m.tokEmbd, true
	}
	freqFactors, err := l.optVector("rope_freqs.weight", c.RopeDims/2)
	if err != nil {
		return err
	}
	if _, ok := f.Tensor("rope_factors_long.weight"); ok {
		return f.Errorf("tensor %q: LongRoPE scaling is not supported", "rope_factors_long.weight")
	}
	global := ropeFreqs(c.RopeDims, c.RopeBase, c.RopeScale, freqFactors)
	local := ropeFreqs(c.RopeDims, c.RopeBaseSWA, c.RopeScaleSWA, freqFactors)

	m.layers = make([]layer, c.Layers)
	for i := range m.layers {
		ly := &m.layers[i]
		ly.swa = c.SWA[i]
		ly.rope = global
		if ly.swa {
			ly.rope = local
		}
		if err := m.loadLayer(l, i, ly); err != nil {
			return err
		}
	}
	return nil
}

func (m *Model) loadLayer(l loader, i int, ly *layer) error {
	c := &m.Config
	s := m.spec
	name := func(t string) string { return fmt.Sprintf("blk.%d.%s", i, t) }
	nq, nk, nv := c.Heads*c.HeadDim, c.HeadsKV*c.HeadDim, c.HeadsKV*c.HeadDimV
	var err error
	if ly.attnNorm, err = l.vector(name("attn_norm.weight"), c.Embd); err != nil {
		return err
	}
	if s.fusedQKV {
		qkv, err := l.matrix(name("attn_qkv.weight"), c.Embd, nq+nk+nv)
		if err != nil {
			return err
		}
		if ly.wq, err = rows(qkv, 0, nq); err != nil {
			return l.f.Errorf("tensor %q: %v", name("attn_qkv.weight"), err)
		}
		if ly.wk, err = rows(qkv, nq, nk); err != nil {
			return l.f.Errorf("tensor %q: %v", name("attn_qkv.weight"), err)
		}
		if ly.wv, err = rows(qkv, nq+nk, nv); err != nil {
			return l.f.Errorf("tensor %q: %v", name("attn_qkv.weight"), err)
		}
		b, err := l.optVector(name("attn_qkv.bias"), nq+nk+nv)
		if err != nil {
			return err
		}
		if b != nil {
			ly.bq, ly.bk, ly.bv = b[:nq], b[nq:nq+nk], b[nq+nk:]
		}
	} else {
		if ly.wq, err = l.matrix(name("attn_q.weight"), c.Embd, nq); err != nil {
			return err
		}
		if ly.wk, err = l.matrix(name("attn_k.weight"), c.Embd, nk); err != nil {
			return err
		}
		if ly.wv, err = l.matrix(name("attn_v.weight"), c.Embd, nv); err != nil {
			return err
		}
		bias := l.optVector
		if s.requireQKVBias {
			bias = l.vector
		}
		if ly.bq, err = bias(name("attn_q.bias"), nq); err != nil {
			return err
		}
		if ly.bk, err = bias(name("attn_k.bias"), nk); err != nil {
			return err
		}
		if ly.bv, err = bias(name("attn_v.bias"), nv); err != nil {
			return err
		}
	}
	if s.qkNorm {
		if ly.qNorm, err = l.vector(name("attn_q_norm.weight"), c.HeadDim); err != nil {
			return err
		}
		if ly.kNorm, err = l.vector(name("attn_k_norm.weight"), c.HeadDim); err != nil {
			return err
		}
	}
	if ly.wo, err = l.matrix(name("attn_output.weight"), c.Heads*c.HeadDimV, c.Embd); err != nil {
		return err
	}
	if ly.bo, err = l.optVector(name("attn_output.bias"), c.Embd); err != nil {
		return err
	}
	if s.postNorms {
		if ly.postAttnNorm, err = l.vector(name("post_attention_norm.weight"), c.Embd); err != nil {
			return err
		}
		if ly.postFFNNorm, err = l.vector(name("post_ffw_norm.weight"), c.Embd); err != nil {
			return err
		}
	}
	if ly.ffnNorm, err = l.vector(name("ffn_norm.weight"), c.Embd); err != nil {
		return err
	}
	if s.fusedGateUp {
		gu, err := l.matrix(name("ffn_up.weight"), c.Embd, 2*c.FF)
		if err != nil {
			return err
		}
		if ly.wGate, err = rows(gu, 0, c.FF); err != nil {
			return l.f.Errorf("tensor %q: %v", name("ffn_up.weight"), err)
		}
		if ly.wUp, err = rows(gu, c.FF, c.FF); err != nil {
			return l.f.Errorf("tensor %q: %v", name("ffn_up.weight"), err)
		}
	} else {
		if ly.wGate, err = l.matrix(name("ffn_gate.weight"), c.Embd, c.FF); err != nil {
			return err
		}
		if ly.wUp, err = l.matrix(name("ffn_up.weight"), c.Embd, c.FF); err != nil {
			return err
		}
	}
	if ly.wDown, err = l.matrix(name("ffn_down.weight"), c.FF, c.Embd); err != nil {
		return err
	}
	return nil
}
