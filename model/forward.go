package model

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/kiln-llm/kiln/attention"
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
		if err := c.prepare(s, c.slots[s].n, end); err != nil {
			for s2 := range next {
				c.cut(&c.slots[s2], c.slots[s2].n)
			}
			return nil, fmt.Errorf("model: forward: %w", err)
		}
	}

	st := m.newStep(c, b)
	defer st.release()
	// On failure the blocks added for this step go back to the pool; the
	// lengths never moved.
	fail := func(err error) ([][]float32, error) {
		for s := range next {
			c.cut(&c.slots[s], c.slots[s].n)
		}
		return nil, fmt.Errorf("model: forward: %w", err)
	}
	if err := st.embed(b.Tokens); err != nil {
		return fail(err)
	}
	for l := range m.layers {
		if err := ctx.Err(); err != nil {
			return fail(fmt.Errorf("layer %d: %w", l, err))
		}
		st.layer(l, b.Output)
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("output: %w", err))
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
	// angles are the rows' rope cosines and sines (RopeDims a row) of the
	// global layers' table ([0]) and the sliding-window layers' ([1]),
	// computed by the first layer of each kind in the step (fresh says
	// which are still to be).
	angles [2][]float32
	fresh  [2]bool
	tiles  []attnTile     // attention work items' rows
	items  []attnItem     // attention work items (each for every key/value head)
	split  []attnSplit    // tiles whose runs are items of their own
	parts  []float32      // the split tiles' runs' results (partAt)
	left   []atomic.Int32 // per split tile and key/value head: runs not done
	attn   []attnScratch  // per worker: attention buffers
}

func (m *Model) newStep(c *Cache, b *Batch) *step {
	cf := &m.Config
	n := len(b.Tokens)
	st, _ := m.steps.Get().(*step)
	if st == nil {
		st = &step{}
	}
	st.m, st.c, st.n = m, c, n
	st.pos = append(st.pos[:0], b.Pos...)
	st.seq = append(st.seq[:0], b.Seq...)
	st.x = resize(st.x, n*cf.Embd)
	st.h = resize(st.h, n*cf.Embd)
	st.q = resize(st.q, n*cf.Heads*cf.HeadDim)
	st.k = resize(st.k, n*cf.HeadsKV*cf.HeadDim)
	st.v = resize(st.v, n*cf.HeadsKV*cf.HeadDimV)
	st.att = resize(st.att, n*cf.Heads*cf.HeadDimV)
	st.o = resize(st.o, n*cf.Embd)
	st.g = resize(st.g, n*cf.FF)
	st.u = resize(st.u, n*cf.FF)
	st.fresh = [2]bool{true, true}
	return st
}

// release hands the step's buffers back for the next Forward call.
func (st *step) release() {
	st.m.steps.Put(st)
}

// resize returns buf with length n, reusing its memory when it is large
// enough. Contents are unspecified: every buffer of a step is written before
// it is read.
func resize(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]float32, n)
}

func (st *step) embed(tokens []int) error {
	m := st.m
	e := m.Config.Embd
	for i, t := range tokens {
		row := st.x[i*e : (i+1)*e]
		if err := m.tokEmbd.DequantizeRow(t, row); err != nil {
			return fmt.Errorf("token_embd row %d: %w", t, err)
		}
		if s := m.Config.EmbedScale; s != 1 {
			tensor.Scale(row, row, s)
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

	st.norm(ly.attnNorm)
	m.matMuls(st.h[:n*e], n, w,
		tensor.Product{Dst: st.q[:n*nq], W: ly.wq},
		tensor.Product{Dst: st.k[:n*nk], W: ly.wk},
		tensor.Product{Dst: st.v[:n*nv], W: ly.wv})
	// Rows are independent here and, over a prompt, this is as much work
	// as a small matrix product: left to the caller alone, it idled the
	// other cores for 5-8% of a Qwen3 prefill.
	t := 0
	if ly.swa {
		t = 1
	}
	fill := st.fresh[t]
	if fill {
		st.angles[t] = resize(st.angles[t], n*cf.RopeDims)
		st.fresh[t] = false
	}
	angles := st.angles[t]
	w.For(n, max(1, elementGrain/(nq+nk+nv)), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			q := st.q[i*nq : (i+1)*nq]
			k := st.k[i*nk : (i+1)*nk]
			v := st.v[i*nv : (i+1)*nv]
			addBias(q, ly.bq)
			addBias(k, ly.bk)
			addBias(v, ly.bv)
			if ly.qNorm != nil {
				for h := 0; h < cf.Heads; h++ {
					hq := q[h*cf.HeadDim : (h+1)*cf.HeadDim]
					tensor.RMSNorm(hq, hq, ly.qNorm, cf.NormEps)
				}
				for h := 0; h < cf.HeadsKV; h++ {
					hk := k[h*cf.HeadDim : (h+1)*cf.HeadDim]
					tensor.RMSNorm(hk, hk, ly.kNorm, cf.NormEps)
				}
			}
			cs := angles[i*cf.RopeDims : (i+1)*cf.RopeDims]
			if fill {
				ropeAngles(cs, ly.rope, st.pos[i])
			}
			cos, sin := cs[:cf.RopeDims/2], cs[cf.RopeDims/2:]
			tensor.Rope(q, cf.Heads, cf.HeadDim, cos, sin, cf.RopeNeox)
			tensor.Rope(k, cf.HeadsKV, cf.HeadDim, cos, sin, cf.RopeNeox)
			st.c.store(l, st.seq[i], st.pos[i], k, v)
		}
	})

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
	m.matMul(st.o[:n*e], ly.wo, st.att[:n*cf.Heads*cf.HeadDimV], n, w)
	addBias(st.o[:n*e], ly.bo)
	st.residual(ly.postAttnNorm)

	st.norm(ly.ffnNorm)
	ff := cf.FF
	m.matMuls(st.h[:n*e], n, w,
		tensor.Product{Dst: st.g[:n*ff], W: ly.wGate},
		tensor.Product{Dst: st.u[:n*ff], W: ly.wUp})
	g, u := st.g[:n*ff], st.u[:n*ff]
	// An exp per element: over a long prompt as much work as a small
	// matrix product, so it is shared out like one.
	w.For(len(g), elementGrain, func(_, lo, hi int) {
		if m.spec.act == actGELUTanh {
			for j := lo; j < hi; j++ {
				g[j] = geluTanh(g[j]) * u[j]
			}
			return
		}
		tensor.SiLUMul(g[lo:hi], u[lo:hi])
	})
	m.matMul(st.o[:n*e], ly.wDown, g, n, w)
	st.residual(ly.postFFNNorm)
}

// elementGrain is the smallest share of an element-wise loop worth handing
// to another worker: a decode step's loops stay on the caller.
const elementGrain = 4096

// norm writes the RMS norm of the residual stream, scaled by weight, to
// st.h, rows shared out over the workers for long prompts.
func (st *step) norm(weight []float32) {
	e, eps := st.m.Config.Embd, st.m.Config.NormEps
	st.m.pool.For(st.n, max(1, elementGrain/e), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			tensor.RMSNorm(st.h[i*e:(i+1)*e], st.x[i*e:(i+1)*e], weight, eps)
		}
	})
}

// residual adds the block output st.o to the residual stream, after the
// optional post-norm.
func (st *step) residual(postNorm []float32) {
	e := st.m.Config.Embd
	st.m.pool.For(st.n, max(1, elementGrain/e), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			o := st.o[i*e : (i+1)*e]
			if postNorm != nil {
				tensor.RMSNorm(o, o, postNorm, st.m.Config.NormEps)
			}
			tensor.Add(st.x[i*e:(i+1)*e], o)
		}
	})
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

// addBias adds the bias b to each of the rows of x (len(b) elements each).
func addBias(x, b []float32) {
	if b == nil {
		return
	}
	for i := 0; i < len(x); i += len(b) {
		tensor.Add(x[i:i+len(b)], b)
	}
}

// attnTileRows is the most rows of one slot an attention work item takes.
// Consecutive prompt rows read the same cached keys and values, so a tile
// widens each F16 block once for all its rows' heads and runs the
// register-tiled float32 kernels on it; 8 rows give those kernels 8 heads on
// the llama shapes (one query head per KV head) while a 512-row prefill
// still has hundreds of items per layer to share out.
const attnTileRows = 8

// attnSegment is how many positions attention sums in one run (Model.seg).
// A row's positions are cut into runs at multiples of it from position 0,
// the same cut however the row is batched; each run gets its own maximum,
// weights' sum and weighted sum of values, and the runs are folded in
// order. The fixed cut lets a decode step whose (row, key/value head) items
// are too few to keep every worker busy hand out the runs as items of
// their own and fold them after, with the same bits as one worker folding
// them in turn. (One stream of SmolLM2, three key/value heads on two
// workers, left a worker idle a third of attention's time, and attention
// is about half of decoding after 3000 positions: 103-114 -> 117-135
// tok/s.) Rows shorter than a run are computed exactly as without the cut.
const attnSegment = 256

// attnSplitItems is Model.splitBelow's default: a step splits its tiles'
// runs into items of their own when it has fewer than this many items a
// worker. More items even out the workers' shares; each costs a fold.
const attnSplitItems = 4

// kvAhead is how many KV blocks ahead of its multiplications attention
// prefetches. One block (2-4 KB of a head's keys or values) was too short
// a lead for a decode step of many sequences, whose walks are bound by
// memory: BenchmarkDecodeStream with one query head per KV head, 17-18 ->
// 23-25 GB/s on two workers with 4 or 8 blocks ahead (with three, bound by
// their arithmetic, it made no difference).
const kvAhead = 4

// attnTile is one attention work item's rows: n consecutive batch rows of
// one slot at consecutive positions, from batch row row.
type attnTile struct{ row, n int }

// attnItem is a tile's work over runs s0 to s1-1 (see attnSegment), for
// each key/value head: all the tile's runs, or one run of a tile whose runs
// are items of their own, the tile's entry split in step.split.
type attnItem struct {
	t      attnTile
	s0, s1 int
	split  int // -1: the item folds its runs itself
}

// attnSplit is a tile whose runs s0 to s1-1 are items of their own. Their
// results are runs part to part+s1-s0-1 of step.parts (per key/value
// head), folded by whichever worker finishes the last of them.
type attnSplit struct {
	t            attnTile
	s0, s1, part int
}

// attnPart is attention's partial result for nh heads over a run of
// positions, per head: the largest scaled score, the sum of the weights
// exp(scaled score - m) and the unnormalized weighted sum of value rows.
// m is -Inf when the head saw no position of the run.
type attnPart struct {
	m, l []float32 // nh each
	out  []float32 // nh*hdv
}

// partAt lays an attnPart for nh heads of hdv values over buf.
func partAt(buf []float32, nh, hdv int) attnPart {
	return attnPart{m: buf[:nh], l: buf[nh : 2*nh], out: buf[2*nh : 2*nh+nh*hdv]}
}

// partLen is the floats partAt takes.
func partLen(nh, hdv int) int { return nh * (hdv + 2) }

// fold adds run b, which follows a, into a: both rescaled to the larger
// maximum. A head that saw nothing of b keeps a; one that saw nothing of a
// takes b as it is. The run with the larger maximum keeps its factor of
// exactly 1 without multiplying by it, which gives the same bits (a
// prompt's rows fold once per run and head, and the exponentials and
// multiplications were 2% of a SmolLM2 prefill); the explicit conversions
// keep the compiler from fusing a product into the sum, so the bits do not
// depend on the build's instruction set either.
func (a attnPart) fold(b attnPart) {
	hdv := len(a.out) / len(a.m)
	for h, mb := range b.m {
		if math.IsInf(float64(mb), -1) {
			continue
		}
		ao, bo := a.out[h*hdv:(h+1)*hdv], b.out[h*hdv:(h+1)*hdv]
		ma := a.m[h]
		if math.IsInf(float64(ma), -1) {
			a.m[h], a.l[h] = mb, b.l[h]
			copy(ao, bo)
			continue
		}
		if ma >= mb {
			cb := tensor.Expf(mb - ma)
			a.l[h] += float32(b.l[h] * cb)
			for k := range ao {
				ao[k] += float32(bo[k] * cb)
			}
			continue
		}
		ca := tensor.Expf(ma - mb)
		a.m[h], a.l[h] = mb, float32(a.l[h]*ca)+b.l[h]
		for k := range ao {
			ao[k] = float32(ao[k]*ca) + bo[k]
		}
	}
}

// attnScratch is one worker's attention buffers.
type attnScratch struct {
	q    []float32 // a tile's query heads, gathered
	sc   []float32 // a run's scores, then weights: a row per head
	kv   []float32 // one block's keys or values, widened
	acc  []float32 // the item's result (partAt)
	run  []float32 // one run's result before it is folded into acc
	walk []int32   // the item's blocks in reading order: table index<<1 | values
}

// attention computes softmax(q.K^T * scale) V for every row and query head
// against the cached keys and values of the row's slot, up to its position.
//
// Work items are (tile, key/value head, runs): the query heads sharing a
// key/value head are done together, so each cached row is read once per
// item. A tile of one row (decode) scores against every visible position
// of a run block by block through the slot's table, takes the
// exponentials (shifted by the run's maximum) and the weighted sum of
// value rows, widening F16 rows on the fly, and folds the run into the
// ones before; the total is divided by the weights' sum at the end. A tile
// of several rows of a prompt does the same for all their heads at once
// over the union of the positions they see; each row's weights outside
// its own range (later positions, or before a sliding window) are set to
// exactly 0. The kernels sum every score and output in one fixed order
// however many heads and rows they take (see package attention), and the
// runs are cut and folded in one fixed order however they are shared out,
// so a row of a tile gets bit for bit what it would get alone.
func (st *step) attention(l int) {
	m, cf, c := st.m, &st.m.Config, st.c
	ly := &m.layers[l]
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
	st.makeTiles()
	parts := st.planItems(first, m.pool.Workers())
	hkv, hdv := cf.HeadsKV, cf.HeadDimV
	span := 0
	for _, t := range st.tiles {
		span = max(span, st.pos[t.row+t.n-1]-first(st.pos[t.row])+1)
	}
	if len(st.attn) < m.pool.Workers() {
		st.attn = make([]attnScratch, m.pool.Workers())
	}
	group := cf.Heads / hkv
	heads := min(attnTileRows, st.n) * group
	ps := partLen(heads, hdv)
	st.parts = resize(st.parts, parts*hkv*ps)
	if len(st.left) < len(st.split)*hkv {
		st.left = make([]atomic.Int32, len(st.split)*hkv)
	}
	for i, sp := range st.split {
		for g := range hkv {
			st.left[i*hkv+g].Store(int32(sp.s1 - sp.s0))
		}
	}
	ni := len(st.items)
	m.pool.For(ni*hkv, 1, func(worker, lo, hi int) {
		buf := &st.attn[worker]
		buf.q = resize(buf.q, heads*cf.HeadDim)
		buf.sc = resize(buf.sc, heads*min(span, m.seg))
		buf.kv = resize(buf.kv, c.bs*max(cf.HeadDim, hdv))
		buf.acc = resize(buf.acc, ps)
		buf.run = resize(buf.run, ps)
		for it := lo; it < hi; it++ {
			// Last tiles first: they see the most positions, and handing
			// them out early evens out the workers' shares.
			item, g := st.items[ni-1-it/hkv], it%hkv
			nh := item.t.n * group
			if item.split < 0 {
				acc := partAt(buf.acc, nh, hdv)
				st.attend(l, item, g, first, buf, acc)
				st.emit(item.t, g, acc)
				continue
			}
			// A run of a split tile: its result goes to its place in
			// st.parts, and the worker that does the tile's last run folds
			// them all in order (the atomic count orders the others'
			// writes before its reads).
			sp := &st.split[item.split]
			part := func(s int) attnPart {
				return partAt(st.parts[((sp.part+s-sp.s0)*hkv+g)*ps:], nh, hdv)
			}
			st.attend(l, item, g, first, buf, part(item.s0))
			if st.left[item.split*hkv+g].Add(-1) > 0 {
				continue
			}
			acc := part(sp.s0)
			for s := sp.s0 + 1; s < sp.s1; s++ {
				acc.fold(part(s))
			}
			st.emit(sp.t, g, acc)
		}
	})
}

// makeTiles splits the step's rows into st.tiles: runs of consecutive rows
// of one slot at consecutive positions, at most attnTileRows each.
func (st *step) makeTiles() {
	st.tiles = st.tiles[:0]
	for i := 0; i < st.n; i++ {
		if k := len(st.tiles) - 1; k >= 0 {
			t := &st.tiles[k]
			last := t.row + t.n - 1
			if t.n < attnTileRows && st.seq[last] == st.seq[i] && st.pos[last]+1 == st.pos[i] {
				t.n++
				continue
			}
		}
		st.tiles = append(st.tiles, attnTile{row: i, n: 1})
	}
}

// planItems lists st.tiles' attention items in st.items, each tile with
// all its runs, unless the step has fewer than splitBelow items a worker:
// then each run of a tile with several is an item of its own, the tile is
// listed in st.split and planItems returns how many runs' results
// st.parts must hold for each key/value head.
func (st *step) planItems(first func(int) int, workers int) (parts int) {
	seg := st.m.seg
	split := len(st.tiles)*st.m.Config.HeadsKV < st.m.splitBelow*workers
	st.items, st.split = st.items[:0], st.split[:0]
	for _, t := range st.tiles {
		s0, s1 := first(st.pos[t.row])/seg, st.pos[t.row+t.n-1]/seg+1
		if !split || s1-s0 == 1 {
			st.items = append(st.items, attnItem{t, s0, s1, -1})
			continue
		}
		for s := s0; s < s1; s++ {
			st.items = append(st.items, attnItem{t, s, s + 1, len(st.split)})
		}
		st.split = append(st.split, attnSplit{t, s0, s1, parts})
		parts += s1 - s0
	}
	return parts
}

// attend is attention for the rows of item's tile and key/value head g over
// the item's runs, folded in order into acc: its t.n*group query heads
// against the positions of those runs that the tile's rows see. A tile of
// one row (decode) multiplies the F16 rows as they are; a longer one
// widens each block once for all its heads.
func (st *step) attend(l int, item attnItem, g int, first func(int) int, buf *attnScratch, acc attnPart) {
	cf, c, t := &st.m.Config, st.c, item.t
	hd, bs, seg := cf.HeadDim, c.bs, st.m.seg
	nq := cf.Heads * hd
	group := cf.Heads / cf.HeadsKV
	nh := t.n * group
	q := buf.q[:nh*hd]
	for r := 0; r < t.n; r++ {
		i := t.row + r
		copy(q[r*group*hd:(r+1)*group*hd], st.q[i*nq+g*group*hd:i*nq+(g+1)*group*hd])
	}
	w := attnWalk{st: st, l: l, g: g, t: t, first: first, q: q, table: c.slots[st.seq[t.row]].table, buf: buf}
	// Run s covers positions a(s) to b(s) of the tile's range.
	p0 := st.pos[t.row]
	a := func(s int) int { return max(first(p0), s*seg) }
	b := func(s int) int { return min(p0+t.n-1, (s+1)*seg-1) }
	// The item reads each run's key blocks, then its value blocks: step k
	// of that walk is prefetched while step k-kvAhead is multiplied.
	walk := buf.walk[:0]
	for s := item.s0; s < item.s1; s++ {
		for v := range int32(2) {
			for blk := a(s) / bs; blk <= b(s)/bs; blk++ {
				walk = append(walk, int32(blk)<<1|v)
			}
		}
	}
	buf.walk = walk
	for k := range kvAhead {
		w.fetch(k, 0, 1)
	}
	w.k = kvAhead
	for s := item.s0; s < item.s1; s++ {
		if s == item.s0 {
			w.run(a(s), b(s), acc)
			continue
		}
		run := partAt(buf.run, nh, cf.HeadDimV)
		w.run(a(s), b(s), run)
		acc.fold(run)
	}
}

// attnWalk is one attention item's way through its tile's cached blocks.
type attnWalk struct {
	st    *step
	l, g  int
	t     attnTile
	first func(int) int
	q     []float32 // the tile's query heads
	table []int32   // the slot's blocks
	buf   *attnScratch
	k     int // the walk's step (buf.walk) to prefetch next
}

// fetch prefetches piece p of n of step k of the walk.
func (w *attnWalk) fetch(k, p, n int) {
	if k < len(w.buf.walk) {
		e := w.buf.walk[k]
		w.st.c.prefetch(w.table[e>>1], w.l, w.g, e&1 == 1, p, n)
	}
}

// block is the walk's next step: it calls f on the part of the slot's
// block blk that positions a to b cover, cut into pieces (see
// Cache.pieces), with its storage, the first row of the walk's layer and
// head in it, how many rows, and the first one's column in the run's
// scores; before each piece it prefetches the matching piece of the step
// kvAhead ahead.
func (w *attnWalk) block(blk, a, b, pieces int, f func(kb *kvGroup, row, rows, col int)) {
	c, bs := w.st.c, w.st.c.bs
	r0, r1 := max(a-blk*bs, 0), min(b-blk*bs+1, bs)
	kb, row := c.rows(w.table[blk], w.l, w.g)
	row, col := row+r0, blk*bs+r0-a
	for p := range pieces {
		w.fetch(w.k, p, pieces)
		lo, hi := (r1-r0)*p/pieces, (r1-r0)*(p+1)/pieces
		if lo < hi {
			f(kb, row+lo, hi-lo, col+lo)
		}
	}
	w.k++
}

// run is attention over positions a to b, one run, into run.
func (w *attnWalk) run(a, b int, run attnPart) {
	st, t := w.st, w.t
	cf, c := &st.m.Config, st.c
	hd, hdv, bs := cf.HeadDim, cf.HeadDimV, c.bs
	nh := len(run.m)
	group := nh / t.n
	n := b - a + 1
	sc, q, kv := w.buf.sc[:nh*n], w.q, w.buf.kv
	// A decode step takes each block in pieces, prefetching as it goes (see
	// Cache.pieces); a tile widens each block once for all its heads, whole.
	pieces := 1
	if t.n == 1 {
		pieces = c.pieces(false)
	}
	for blk := a / bs; blk <= b/bs; blk++ {
		w.block(blk, a, b, pieces, func(kb *kvGroup, row, rows, col int) {
			switch {
			case c.typ == KVF32:
				attention.ScoresF32(sc[col:], n, q, nh, kb.k32[row*hd:], rows, hd)
			case c.typ == KVF16 && t.n == 1:
				attention.ScoresF16(sc[col:], n, q, nh, kb.k16[row*hd:], rows, hd, kv)
			case c.typ == KVF16:
				attention.ScoresTileF16(sc[col:], n, q, nh, kb.k16[row*hd:], rows, hd, kv)
			case c.typ == KVQ8_0:
				attention.ScoresQ8(sc[col:], n, q, nh, kb.k8[row*hd:], kb.ks[row*hd/c.qbK:], c.qbK, rows, hd, kv)
			}
		})
	}
	// Row r sees columns [lo, hi) of the run: exponentials there, exact
	// zeros around (all zeros, and no maximum, for a row that sees none).
	p0 := st.pos[t.row]
	for r := 0; r < t.n; r++ {
		lo, hi := max(w.first(p0+r)-a, 0), min(p0+r-a+1, n)
		for h := r * group; h < (r+1)*group; h++ {
			sh := sc[h*n : (h+1)*n]
			if lo >= hi {
				clear(sh)
				run.l[h], run.m[h] = 0, float32(math.Inf(-1))
				continue
			}
			clear(sh[:lo])
			clear(sh[hi:])
			run.l[h], run.m[h] = tensor.ExpScores(sh[lo:hi], cf.AttnScale)
		}
	}
	out := run.out
	clear(out)
	if t.n == 1 {
		pieces = c.pieces(true)
	}
	for blk := a / bs; blk <= b/bs; blk++ {
		w.block(blk, a, b, pieces, func(vb *kvGroup, row, rows, col int) {
			switch {
			case c.typ == KVF32:
				attention.AccumF32(out, sc[col:], n, nh, vb.v32[row*hdv:], rows, hdv)
			case c.typ == KVF16 && t.n == 1:
				attention.AccumF16(out, sc[col:], n, nh, vb.v16[row*hdv:], rows, hdv, kv)
			case c.typ == KVF16:
				attention.AccumTileF16(out, sc[col:], n, nh, vb.v16[row*hdv:], rows, hdv, kv)
			case c.typ == KVQ8_0:
				attention.AccumQ8(out, sc[col:], n, nh, vb.v8[row*hdv:], vb.vs[row*hdv/c.qbV:], c.qbV, rows, hdv, kv)
			}
		})
	}
}

// emit divides acc's weighted sums, left unnormalized, by their weights'
// sums once, into the rows' places in st.att (head h of tile row r is
// query head g*group+h%group of batch row t.row+r).
func (st *step) emit(t attnTile, g int, acc attnPart) {
	cf := &st.m.Config
	hdv, group := cf.HeadDimV, cf.Heads/cf.HeadsKV
	for h, s := range acc.l {
		i := t.row + h/group
		tensor.Scale(st.att[(i*cf.Heads+g*group+h%group)*hdv:][:hdv], acc.out[h*hdv:(h+1)*hdv], 1/s)
	}
}

// logits applies the final norm and output projection to the kept rows.
func (st *step) logits() [][]float32 {
	m, cf := st.m, &st.m.Config
	e, n := cf.Embd, st.n
	if n == 0 {
		return [][]float32{}
	}
	for i := 0; i < n; i++ {
		tensor.RMSNorm(st.h[i*e:(i+1)*e], st.x[i*e:(i+1)*e], m.outputNorm, cf.NormEps)
	}
	buf := make([]float32, n*cf.Vocab)
	m.matMul(buf, m.output, st.h[:n*e], n, m.pool)
	out := make([][]float32, n)
	for i := range out {
		out[i] = buf[i*cf.Vocab : (i+1)*cf.Vocab : (i+1)*cf.Vocab]
	}
	return out
}
