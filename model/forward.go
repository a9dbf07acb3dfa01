package model

import (
	"context"
	"fmt"
	"math"

	"github.com/kiln-llm/kiln/tensor"
)

// Batch is one step's work: tokens of any number of sequences, each with its
// position and KV cache slot. All four slices have the same length.
type Batch struct {
	Tokens []int
	Pos    []int  // position of each token in its sequence
	Seq    []int  // KV cache slot of each token
	Output []bool // whether logits are wanted for this token
}

// Forward runs one step: it writes the batch's keys and values into c and
// returns one logits row (len Vocab) per token with Output set, in batch
// order. A token at position p attends to positions 0..p of its slot
// (sliding-window layers: the last SlidingWindow of them).
//
// Within a slot, the batch's tokens must continue the cached sequence without
// gaps: the first has position Len(slot), the next Len(slot)+1, and so on.
// Rewriting cached positions needs an explicit Truncate first, so a caller's
// bookkeeping error cannot silently corrupt a sequence. Invalid input is
// reported as an error before anything is written; on any error (including
// cancellation of ctx, checked between layers) the cache's lengths are left
// as they were.
func (m *Model) Forward(ctx context.Context, c *Cache, b *Batch) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("model: forward: %w", err)
	}
	next, err := m.validate(c, b)
	if err != nil {
		return nil, fmt.Errorf("model: forward: %w", err)
	}
	n := len(b.Tokens)
	if n == 0 {
		return nil, nil
	}
	for s, end := range next {
		c.reserve(s, end, len(m.layers))
	}

	st := m.newStep(c, b)
	if err := st.embed(b.Tokens); err != nil {
		return nil, fmt.Errorf("model: forward: %w", err)
	}
	for l := range m.layers {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("model: forward: layer %d: %w", l, err)
		}
		st.layer(l, b.Output)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("model: forward: output: %w", err)
	}
	logits := st.logits()
	for s, end := range next {
		c.slots[s].n = end
	}
	return logits, nil
}

// validate checks the batch against the cache and returns, per slot the batch
// touches, the slot's length after the step.
func (m *Model) validate(c *Cache, b *Batch) (map[int]int, error) {
	if c == nil || b == nil {
		return nil, fmt.Errorf("nil cache or batch")
	}
	if c.owner != m {
		return nil, fmt.Errorf("cache was created by another model")
	}
	n := len(b.Tokens)
	if len(b.Pos) != n || len(b.Seq) != n || len(b.Output) != n {
		return nil, fmt.Errorf("batch slices differ in length: %d tokens, %d positions, %d slots, %d output flags",
			n, len(b.Pos), len(b.Seq), len(b.Output))
	}
	next := make(map[int]int)
	for i := 0; i < n; i++ {
		tok, pos, s := b.Tokens[i], b.Pos[i], b.Seq[i]
		if tok < 0 || tok >= m.Config.Vocab {
			return nil, fmt.Errorf("token %d: id %d out of range [0, %d)", i, tok, m.Config.Vocab)
		}
		if s < 0 || s >= len(c.slots) {
			return nil, fmt.Errorf("token %d: slot %d out of range [0, %d)", i, s, len(c.slots))
		}
		if pos < 0 || pos >= c.ctx {
			return nil, fmt.Errorf("token %d: position %d out of range [0, %d)", i, pos, c.ctx)
		}
		want, ok := next[s]
		if !ok {
			want = c.slots[s].n
		}
		switch {
		case pos > want:
			return nil, fmt.Errorf("token %d: position %d of slot %d leaves a gap (next position is %d)", i, pos, s, want)
		case pos < want:
			return nil, fmt.Errorf("token %d: position %d of slot %d is already filled (next position is %d; Truncate to rewrite)", i, pos, s, want)
		}
		next[s] = pos + 1
	}
	return next, nil
}

// step holds the activations of one Forward call. Rows are tokens; after the
// last layer's keys and values are cached, only the rows that want logits
// are kept.
type step struct {
	m       *Model
	c       *Cache
	n       int
	pos     []int
	seq     []int
	x, h    []float32 // residual stream, normed input
	q, k, v []float32
	att, o  []float32
	g, u    []float32
	cs      []float32 // rope cos/sin scratch
	scores  [][]float32
}

func (m *Model) newStep(c *Cache, b *Batch) *step {
	cf := &m.Config
	n := len(b.Tokens)
	st := &step{
		m: m, c: c, n: n,
		pos: append([]int(nil), b.Pos...),
		seq: append([]int(nil), b.Seq...),
		x:   make([]float32, n*cf.Embd),
		h:   make([]float32, n*cf.Embd),
		q:   make([]float32, n*cf.Heads*cf.HeadDim),
		k:   make([]float32, n*cf.HeadsKV*cf.HeadDim),
		v:   make([]float32, n*cf.HeadsKV*cf.HeadDimV),
		att: make([]float32, n*cf.Heads*cf.HeadDimV),
		o:   make([]float32, n*cf.Embd),
		g:   make([]float32, n*cf.FF),
		u:   make([]float32, n*cf.FF),
		cs:  make([]float32, cf.RopeDims),
	}
	return st
}

func (st *step) embed(tokens []int) error {
	m := st.m
	e := m.Config.Embd
	for i, t := range tokens {
		row := st.x[i*e : (i+1)*e]
		if err := tensor.DequantizeRow(m.tokEmbd.Type, m.tokEmbd.Row(t), row); err != nil {
			return fmt.Errorf("token_embd row %d: %w", t, err)
		}
		if s := m.Config.EmbedScale; s != 1 {
			for j := range row {
				row[j] *= s
			}
		}
	}
	return nil
}

// layer runs decoder block l over the step's rows.
func (st *step) layer(l int, output []bool) {
	m, cf, ly := st.m, &st.m.Config, &st.m.layers[l]
	e, w := cf.Embd, m.pool
	nq, nk, nv := cf.Heads*cf.HeadDim, cf.HeadsKV*cf.HeadDim, cf.HeadsKV*cf.HeadDimV
	n := st.n

	for i := 0; i < n; i++ {
		rmsNorm(st.h[i*e:(i+1)*e], st.x[i*e:(i+1)*e], ly.attnNorm, cf.NormEps)
	}
	tensor.MatMul(st.q[:n*nq], ly.wq, st.h[:n*e], n, w)
	tensor.MatMul(st.k[:n*nk], ly.wk, st.h[:n*e], n, w)
	tensor.MatMul(st.v[:n*nv], ly.wv, st.h[:n*e], n, w)
	addBias(st.q[:n*nq], ly.bq)
	addBias(st.k[:n*nk], ly.bk)
	addBias(st.v[:n*nv], ly.bv)
	for i := 0; i < n; i++ {
		q := st.q[i*nq : (i+1)*nq]
		k := st.k[i*nk : (i+1)*nk]
		if ly.qNorm != nil {
			for h := 0; h < cf.Heads; h++ {
				hq := q[h*cf.HeadDim : (h+1)*cf.HeadDim]
				rmsNorm(hq, hq, ly.qNorm, cf.NormEps)
			}
			for h := 0; h < cf.HeadsKV; h++ {
				hk := k[h*cf.HeadDim : (h+1)*cf.HeadDim]
				rmsNorm(hk, hk, ly.kNorm, cf.NormEps)
			}
		}
		rope(q, cf.Heads, cf.HeadDim, ly.rope, st.pos[i], cf.RopeNeox, st.cs)
		rope(k, cf.HeadsKV, cf.HeadDim, ly.rope, st.pos[i], cf.RopeNeox, st.cs)
		sc := &st.c.slots[st.seq[i]]
		p := st.pos[i]
		copy(sc.k[l][p*nk:(p+1)*nk], k)
		copy(sc.v[l][p*nv:(p+1)*nv], st.v[i*nv:(i+1)*nv])
	}

	if l == len(m.layers)-1 {
		// Keys and values of every row are cached; the rest of the last
		// block only matters for rows whose logits are wanted.
		st.keep(output, nq)
		n = st.n
		if n == 0 {
			return
		}
	}

	st.attention(l)
	tensor.MatMul(st.o[:n*e], ly.wo, st.att[:n*cf.Heads*cf.HeadDimV], n, w)
	addBias(st.o[:n*e], ly.bo)
	st.residual(ly.postAttnNorm)

	for i := 0; i < n; i++ {
		rmsNorm(st.h[i*e:(i+1)*e], st.x[i*e:(i+1)*e], ly.ffnNorm, cf.NormEps)
	}
	ff := cf.FF
	tensor.MatMul(st.g[:n*ff], ly.wGate, st.h[:n*e], n, w)
	tensor.MatMul(st.u[:n*ff], ly.wUp, st.h[:n*e], n, w)
	g, u := st.g[:n*ff], st.u[:n*ff]
	switch m.spec.act {
	case actGELUTanh:
		for j := range g {
			g[j] = geluTanh(g[j]) * u[j]
		}
	default:
		for j := range g {
			g[j] = silu(g[j]) * u[j]
		}
	}
	tensor.MatMul(st.o[:n*e], ly.wDown, g, n, w)
	st.residual(ly.postFFNNorm)
}

// residual adds the block output st.o to the residual stream, after the
// optional post-norm.
func (st *step) residual(postNorm []float32) {
	e := st.m.Config.Embd
	for i := 0; i < st.n; i++ {
		o := st.o[i*e : (i+1)*e]
		if postNorm != nil {
			rmsNorm(o, o, postNorm, st.m.Config.NormEps)
		}
		x := st.x[i*e : (i+1)*e]
		for j, v := range o {
			x[j] += v
		}
	}
}

// keep compacts the rows (residual, queries, positions, slots) to those with
// output set, preserving order.
func (st *step) keep(output []bool, nq int) {
	e := st.m.Config.Embd
	j := 0
	for i := 0; i < st.n; i++ {
		if !output[i] {
			continue
		}
		if i != j {
			copy(st.x[j*e:(j+1)*e], st.x[i*e:(i+1)*e])
			copy(st.q[j*nq:(j+1)*nq], st.q[i*nq:(i+1)*nq])
			st.pos[j], st.seq[j] = st.pos[i], st.seq[i]
		}
		j++
	}
	st.n = j
}

func addBias(x, b []float32) {
	if b == nil {
		return
	}
	for i := range x {
		x[i] += b[i%len(b)]
	}
}

// attention computes softmax(q.K^T * scale) V for every row and query head
// against the cached keys and values of the row's slot, up to its position.
func (st *step) attention(l int) {
	m, cf := st.m, &st.m.Config
	ly := &m.layers[l]
	hd, hdv := cf.HeadDim, cf.HeadDimV
	nq, nk, nv := cf.Heads*hd, cf.HeadsKV*hd, cf.HeadsKV*hdv
	group := cf.Heads / cf.HeadsKV
	window := 0
	if ly.swa {
		window = cf.SlidingWindow
	}
	first := func(p int) int {
		if window > 0 && p-window+1 > 0 {
			return p - window + 1
		}
		return 0
	}
	span := 0
	for i := 0; i < st.n; i++ {
		span = max(span, st.pos[i]-first(st.pos[i])+1)
	}
	items := st.n * cf.Heads
	if len(st.scores) < m.pool.Workers() {
		st.scores = make([][]float32, m.pool.Workers())
	}
	m.pool.For(items, 1, func(chunk, lo, hi int) {
		if len(st.scores[chunk]) < span {
			st.scores[chunk] = make([]float32, span)
		}
		sbuf := st.scores[chunk]
		for it := lo; it < hi; it++ {
			i, h := it/cf.Heads, it%cf.Heads
			p := st.pos[i]
			j0 := first(p)
			kvh := h / group
			sc := &st.c.slots[st.seq[i]]
			keys, vals := sc.k[l], sc.v[l]
			q := st.q[i*nq+h*hd : i*nq+(h+1)*hd]
			s := sbuf[:p-j0+1]
			maxS := float32(math.Inf(-1))
			for j := j0; j <= p; j++ {
				k := keys[j*nk+kvh*hd : j*nk+(kvh+1)*hd]
				var d float32
				for t, qv := range q {
					d += qv * k[t]
				}
				d *= cf.AttnScale
				s[j-j0] = d
				maxS = max(maxS, d)
			}
			var sum float64
			for t, d := range s {
				ev := math.Exp(float64(d - maxS))
				s[t] = float32(ev)
				sum += ev
			}
			inv := float32(1 / sum)
			out := st.att[(i*cf.Heads+h)*hdv : (i*cf.Heads+h+1)*hdv]
			clear(out)
			for j := j0; j <= p; j++ {
				wj := s[j-j0] * inv
				v := vals[j*nv+kvh*hdv : j*nv+(kvh+1)*hdv]
				for t := range out {
					out[t] += wj * v[t]
				}
			}
		}
	})
}

// logits applies the final norm and output projection to the kept rows.
func (st *step) logits() [][]float32 {
	m, cf := st.m, &st.m.Config
	e, n := cf.Embd, st.n
	if n == 0 {
		return [][]float32{}
	}
	for i := 0; i < n; i++ {
		rmsNorm(st.h[i*e:(i+1)*e], st.x[i*e:(i+1)*e], m.outputNorm, cf.NormEps)
	}
	buf := make([]float32, n*cf.Vocab)
	tensor.MatMul(buf, m.output, st.h[:n*e], n, m.pool)
	out := make([][]float32, n)
	for i := range out {
		out[i] = buf[i*cf.Vocab : (i+1)*cf.Vocab : (i+1)*cf.Vocab]
	}
	return out
}
