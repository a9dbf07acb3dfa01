package model

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/kiln-llm/kiln/attention"
	"github.com/kiln-llm/kiln/internal/hugepages"
)

// KVType is the element type of cached keys and values.
type KVType uint8

// KV element types. F16 is the default: it halves the memory and the bytes
// attention reads per step against F32, at a rounding error (2^-11 relative
// per element) far below what quantized weights already add. Q8_0 halves it
// again (blocks of 32 int8 with a half scale, as GGUF's Q8_0; a whole head
// row per scale for head sizes that are not a multiple of 32). KVDefault, the
// zero value, means the model's Options.KV in CacheOptions, and F16 there.
const (
	KVDefault KVType = iota
	KVF16
	KVF32
	KVQ8_0
)

func (t KVType) String() string {
	switch t {
	case KVDefault:
		return "default"
	case KVF16:
		return "f16"
	case KVF32:
		return "f32"
	case KVQ8_0:
		return "q8_0"
	}
	return fmt.Sprintf("KVType(%d)", uint8(t))
}

// ParseKVType reads a KV type name as String prints it ("f16", "f32",
// "q8_0"; case-insensitive).
func ParseKVType(s string) (KVType, error) {
	for _, t := range []KVType{KVF16, KVF32, KVQ8_0} {
		if strings.EqualFold(s, t.String()) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("model: unknown KV cache type %q (want f16, f32 or q8_0)", s)
}

// DefaultBlockSize is the number of positions per KV block.
const DefaultBlockSize = 16

// CacheOptions shapes a Cache. Zero values take the defaults.
type CacheOptions struct {
	Type KVType
	// BlockSize is the number of positions per block (default 16).
	BlockSize int
	// Blocks bounds the pool: at most this many blocks ever hold memory
	// (default: enough for every slot to hold ctx positions, slots x
	// ceil(ctx/BlockSize), so a Forward within the slot limits never runs
	// out of blocks whatever the sharing).
	Blocks int
}

// ErrCacheFull reports that a Forward needed a KV block and the pool had
// none free and none to evict. It only happens with a pool smaller than the
// default.
var ErrCacheFull = errors.New("model: KV cache pool exhausted")

// Cache holds the keys and values of every layer for a fixed number of
// sequence slots, paged: one pool of fixed-size blocks (BlockSize positions
// of every layer) is shared by all slots, each slot maps its positions to
// blocks through a block table, and blocks are reference-counted so that
// slots share a common prefix without copying (CopyPrefix, AttachPrefix). A
// shared or cached block is copied before it is written (copy on write).
//
// Full blocks can be published under a chained hash of the tokens they
// hold (Publish); a later sequence whose prompt starts with the same tokens
// attaches them instead of recomputing them (AttachPrefix). Published blocks
// no slot uses stay cached until the pool needs room, then the least
// recently released go first.
//
// Block memory is allocated on first use, blockGroup blocks at a time, and
// kept, never more than the pool's bound. A Cache belongs to the Model that
// created it and must not be used by two goroutines at once.
type Cache struct {
	owner *Model
	ctx   int
	typ   KVType
	bs    int // positions per block
	limit int // most blocks the pool may hold

	layers, heads, hd, hdv int // heads: key/value heads
	qbK, qbV               int // Q8_0 quants per scale

	groups []kvGroup // storage of blocks id*blockGroup.., grown up to limit
	meta   []blockMeta
	free   []int32 // unpublished blocks no slot uses
	lru    lruList // published blocks no slot uses, least recent first
	index  map[uint64]int32
	slots  []slotCache

	evicted int64
}

// blockGroup is how many blocks share one allocation. A group keeps each
// layer's and key/value head's rows of all its blocks together, so that a
// sequence's consecutive blocks (allocated in turn) lie back to back for
// attention's walk over one head, in memory advised to use 2 MiB pages:
// the CPU's own prefetcher then follows the walk across blocks. 8
// Qwen3-0.6B sequences at 256 positions spent 10.4-12.2 ms a step in
// attention with each block a separate allocation, 8.8-10.3 with the
// blocks of a head back to back in 2 MiB pages, and 10.1-11.5 and
// 10.4-11.0 with only one of the two.
const blockGroup = 16

// kvGroup is the storage of a group of n blocks: per layer and key/value
// head, n*bs rows of head size, position-major, block after block (the
// slices of the other types are nil).
type kvGroup struct {
	n        int
	k32, v32 []float32
	k16, v16 []uint16
	k8, v8   []int8
	ks, vs   []uint16 // Q8_0 scales
}

type blockMeta struct {
	ref        int32
	published  bool
	hash       uint64
	tokens     []int32 // the block's tokens, to confirm a hash match
	prev, next int32   // lru links while unreferenced and published
}

type slotCache struct {
	n     int     // positions [0, n) hold valid keys/values
	table []int32 // block ids, ceil(n/bs) of them between calls
	// chain holds the chained hashes of the leading full blocks whose
	// tokens are known (attached or published), so Publish continues it.
	chain []uint64
}

// NewCache returns an empty cache with slots sequence slots of at most ctx
// positions each, with the KV type of the model's Options and the default
// block size and pool bound. Non-positive arguments give a cache with no
// usable slot or position; Forward then reports the offending slot or
// position.
func (m *Model) NewCache(slots, ctx int) *Cache {
	return m.newCache(slots, ctx, CacheOptions{})
}

// NewCacheWith is NewCache with explicit options. It fails on an unknown
// type or a negative block size or count.
func (m *Model) NewCacheWith(slots, ctx int, o CacheOptions) (*Cache, error) {
	switch {
	case o.Type > KVQ8_0:
		return nil, fmt.Errorf("model: new cache: unknown KV type %d", o.Type)
	case o.BlockSize < 0 || o.Blocks < 0:
		return nil, fmt.Errorf("model: new cache: block size %d and block count %d must not be negative", o.BlockSize, o.Blocks)
	}
	return m.newCache(slots, ctx, o), nil
}

// newCache builds a cache from valid options.
func (m *Model) newCache(slots, ctx int, o CacheOptions) *Cache {
	if o.Type == KVDefault {
		o.Type = m.kv
	}
	if o.Type == KVDefault {
		o.Type = KVF16
	}
	slots, ctx = max(slots, 0), max(ctx, 0)
	bs := o.BlockSize
	if bs == 0 {
		bs = DefaultBlockSize
	}
	limit := o.Blocks
	if limit == 0 {
		per := (ctx + bs - 1) / bs
		limit = 1 << 30 // far beyond any memory; avoids overflow below
		if slots == 0 || per <= limit/max(slots, 1) {
			limit = slots * per
		}
	}
	cf := &m.Config
	return &Cache{
		owner:  m,
		ctx:    ctx,
		typ:    o.Type,
		bs:     bs,
		limit:  limit,
		layers: len(m.layers),
		heads:  cf.HeadsKV,
		hd:     cf.HeadDim,
		hdv:    cf.HeadDimV,
		qbK:    attention.Q8Block(cf.HeadDim),
		qbV:    attention.Q8Block(cf.HeadDimV),
		lru:    lruList{head: -1, tail: -1},
		index:  make(map[uint64]int32),
		slots:  make([]slotCache, slots),
	}
}

// Slots is the number of sequence slots.
func (c *Cache) Slots() int { return len(c.slots) }

// Ctx is the maximum number of positions per slot.
func (c *Cache) Ctx() int { return c.ctx }

// Type is the element type of the cached keys and values.
func (c *Cache) Type() KVType { return c.typ }

// BlockSize is the number of positions per block: AttachPrefix shares and
// Publish registers whole blocks only.
func (c *Cache) BlockSize() int { return c.bs }

// MaxBytes is the memory the cache's blocks can grow to: they are allocated
// on first use, so this is a bound, not what is held now.
func (c *Cache) MaxBytes() int64 {
	return int64(c.limit) * int64(c.bs) * int64(c.PositionBytes())
}

// PositionBytes is the memory one cached position takes over all layers,
// keys and values: what attention reads per position and step.
func (c *Cache) PositionBytes() int {
	el := c.layers * c.heads * (c.hd + c.hdv)
	switch c.typ {
	case KVF32:
		return 4 * el
	case KVQ8_0:
		return el + 2*c.layers*c.heads*(c.hd/c.qbK+c.hdv/c.qbV)
	}
	return 2 * el
}

// CacheStats describes the block pool.
type CacheStats struct {
	BlockSize int
	Limit     int   // most blocks the pool may hold
	Allocated int   // blocks used at least once (memory grows by blockGroup blocks)
	InUse     int   // blocks some slot uses
	Cached    int   // published blocks no slot uses, kept for AttachPrefix
	Bytes     int64 // memory of the allocated blocks
	Evicted   int64 // cached blocks given up to make room
}

// Stats reports the state of the block pool.
func (c *Cache) Stats() CacheStats {
	s := CacheStats{BlockSize: c.bs, Limit: c.limit, Allocated: len(c.meta), Evicted: c.evicted}
	for i := range c.meta {
		switch m := &c.meta[i]; {
		case m.ref > 0:
			s.InUse++
		case m.published:
			s.Cached++
		}
	}
	s.Bytes = int64(len(c.meta)) * int64(c.bs) * int64(c.PositionBytes())
	return s
}

// Clear empties slot, returning its blocks to the pool (published ones stay
// cached for AttachPrefix). An out-of-range slot is ignored.
func (c *Cache) Clear(slot int) {
	c.Truncate(slot, 0)
}

// Truncate forgets positions >= n of slot, returning blocks past the new end
// to the pool. n >= Len(slot) or an out-of-range slot is a no-op; n < 0
// clears the positions.
func (c *Cache) Truncate(slot, n int) {
	if slot < 0 || slot >= len(c.slots) {
		return
	}
	s := &c.slots[slot]
	if n >= s.n {
		return
	}
	c.cut(s, max(n, 0))
}

// cut sets s's length to n and releases the blocks past it.
func (c *Cache) cut(s *slotCache, n int) {
	s.n = n
	keep := (n + c.bs - 1) / c.bs
	// Tail first: cached blocks are evicted in release order, and a
	// prefix is only usable from its head.
	for i := len(s.table) - 1; i >= keep; i-- {
		c.release(s.table[i])
	}
	s.table = s.table[:keep]
	s.chain = s.chain[:min(len(s.chain), n/c.bs)]
}

// Len is the number of cached positions of slot (0 for an out-of-range slot).
func (c *Cache) Len(slot int) int {
	if slot < 0 || slot >= len(c.slots) {
		return 0
	}
	return c.slots[slot].n
}

// CopyPrefix makes slot dst hold the first n positions of slot src, so a
// prompt evaluated once can seed several sequences (n choices of one
// request) that then diverge. The blocks are shared, not copied: a partly
// filled last block is copied by whichever slot writes into it first. dst's
// length becomes n whatever it held before; src == dst just truncates. It
// fails, changing nothing, on an out-of-range slot or n outside
// [0, Len(src)].
func (c *Cache) CopyPrefix(src, dst, n int) error {
	switch {
	case src < 0 || src >= len(c.slots) || dst < 0 || dst >= len(c.slots):
		return fmt.Errorf("model: copy prefix: slots %d -> %d, want both in [0, %d)", src, dst, len(c.slots))
	case n < 0 || n > c.slots[src].n:
		return fmt.Errorf("model: copy prefix: %d positions of slot %d, which holds %d", n, src, c.slots[src].n)
	case src == dst:
		c.Truncate(dst, n)
		return nil
	}
	from, to := &c.slots[src], &c.slots[dst]
	c.cut(to, 0)
	nb := (n + c.bs - 1) / c.bs
	for _, id := range from.table[:nb] {
		c.acquire(id)
	}
	to.table = append(to.table, from.table[:nb]...)
	to.chain = append(to.chain, from.chain[:min(len(from.chain), n/c.bs)]...)
	to.n = n
	return nil
}

// AttachPrefix empties slot and fills it with the longest run of published
// blocks that matches the leading full blocks of tokens, returning the
// number of positions it now holds (a multiple of BlockSize, at most
// len(tokens)). The keys and values of a position depend on every token up
// to it, which the chained hash covers; each match is also confirmed
// against the block's stored tokens.
func (c *Cache) AttachPrefix(slot int, tokens []int) int {
	if slot < 0 || slot >= len(c.slots) {
		return 0
	}
	s := &c.slots[slot]
	c.cut(s, 0)
	var h uint64
	for b := 0; (b+1)*c.bs <= min(len(tokens), c.ctx); b++ {
		blk := tokens[b*c.bs : (b+1)*c.bs]
		h = chainHash(h, blk)
		id, ok := c.index[h]
		if !ok || !sameTokens(c.meta[id].tokens, blk) {
			break
		}
		c.acquire(id)
		s.table = append(s.table, id)
		s.chain = append(s.chain, h)
	}
	s.n = len(s.table) * c.bs
	return s.n
}

// Publish registers the full blocks of slot's first len(tokens) positions,
// which must hold exactly tokens (the caller's record of what it fed), so
// AttachPrefix can find them. Blocks already published are skipped; it is
// cheap to call after every step. A block whose tokens another block
// already published under is left unpublished.
func (c *Cache) Publish(slot int, tokens []int) {
	if slot < 0 || slot >= len(c.slots) {
		return
	}
	s := &c.slots[slot]
	full := min(len(tokens), s.n) / c.bs
	for b := len(s.chain); b < full; b++ {
		var h uint64
		if b > 0 {
			h = s.chain[b-1]
		}
		blk := tokens[b*c.bs : (b+1)*c.bs]
		h = chainHash(h, blk)
		s.chain = append(s.chain, h)
		id := s.table[b]
		if m := &c.meta[id]; !m.published {
			if _, taken := c.index[h]; !taken {
				m.published, m.hash = true, h
				m.tokens = make([]int32, len(blk))
				for i, t := range blk {
					m.tokens[i] = int32(t)
				}
				c.index[h] = id
			}
		}
	}
}

// chainHash extends the hash of a prefix by one block of tokens (FNV-1a
// over the previous hash and the token ids).
func chainHash(prev uint64, tokens []int) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < 8; i++ {
		h = (h ^ (prev >> (8 * i) & 0xff)) * prime
	}
	for _, t := range tokens {
		u := uint32(t)
		for i := 0; i < 4; i++ {
			h = (h ^ uint64(u>>(8*i)&0xff)) * prime
		}
	}
	return h
}

func sameTokens(a []int32, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i, t := range a {
		if int(t) != b[i] {
			return false
		}
	}
	return true
}

func (c *Cache) acquire(id int32) {
	m := &c.meta[id]
	if m.ref == 0 && m.published {
		c.lru.remove(c.meta, id)
	}
	m.ref++
}

func (c *Cache) release(id int32) {
	m := &c.meta[id]
	m.ref--
	if m.ref > 0 {
		return
	}
	if m.published {
		c.lru.push(c.meta, id)
	} else {
		c.free = append(c.free, id)
	}
}

// alloc takes a block for writing: a free one, a new one while under the
// bound, else the least recently used cached one.
func (c *Cache) alloc() (int32, error) {
	var id int32
	switch {
	case len(c.free) > 0:
		id = c.free[len(c.free)-1]
		c.free = c.free[:len(c.free)-1]
	case len(c.meta) < c.limit:
		id = int32(len(c.meta))
		if int(id)%blockGroup == 0 {
			c.groups = append(c.groups, c.newGroup(min(blockGroup, c.limit-int(id))))
		}
		c.meta = append(c.meta, blockMeta{prev: -1, next: -1})
	case c.lru.head >= 0:
		id = c.lru.head
		c.lru.remove(c.meta, id)
		m := &c.meta[id]
		delete(c.index, m.hash)
		m.published, m.tokens = false, nil
		c.evicted++
	default:
		return 0, fmt.Errorf("%w (%d blocks of %d positions)", ErrCacheFull, c.limit, c.bs)
	}
	c.meta[id].ref = 1
	return id, nil
}

// newGroup allocates the storage of n blocks.
func (c *Cache) newGroup(n int) kvGroup {
	nk := c.layers * c.heads * n * c.bs * c.hd
	nv := c.layers * c.heads * n * c.bs * c.hdv
	switch c.typ {
	case KVF32:
		return kvGroup{n: n, k32: hugeSlice[float32](nk), v32: hugeSlice[float32](nv)}
	case KVQ8_0:
		return kvGroup{n: n, k8: hugeSlice[int8](nk), v8: hugeSlice[int8](nv), ks: make([]uint16, nk/c.qbK), vs: make([]uint16, nv/c.qbV)}
	}
	return kvGroup{n: n, k16: hugeSlice[uint16](nk), v16: hugeSlice[uint16](nv)}
}

// hugeSlice makes a slice of n elements in memory advised to use 2 MiB
// pages (see blockGroup).
func hugeSlice[T any](n int) []T {
	x := make([]T, n)
	if n > 0 {
		hugepages.Advise(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), n*int(unsafe.Sizeof(x[0]))))
	}
	return x
}

// rows returns the storage of block id and the first of its rows of layer
// l's key/value head g there.
func (c *Cache) rows(id int32, l, g int) (*kvGroup, int) {
	grp := &c.groups[int(id)/blockGroup]
	return grp, ((l*c.heads+g)*grp.n + int(id)%blockGroup) * c.bs
}

// prepare makes slot ready for positions [from, end): the block holding from
// is made private (copied if shared or published) and blocks are added up to
// end. On error the slot is as before.
func (c *Cache) prepare(slot, from, end int) error {
	s := &c.slots[slot]
	if from%c.bs != 0 {
		b := from / c.bs
		id := s.table[b]
		if m := &c.meta[id]; m.ref > 1 || m.published {
			nid, err := c.alloc()
			if err != nil {
				return fmt.Errorf("slot %d: copy of a shared block: %w", slot, err)
			}
			c.copyBlock(nid, id)
			c.release(id)
			s.table[b] = nid
		}
	}
	for len(s.table)*c.bs < end {
		id, err := c.alloc()
		if err != nil {
			c.cut(s, s.n)
			return fmt.Errorf("slot %d: position %d: %w", slot, len(s.table)*c.bs, err)
		}
		s.table = append(s.table, id)
	}
	return nil
}

func (c *Cache) copyBlock(dst, src int32) {
	nk, nv := c.bs*c.hd, c.bs*c.hdv
	for l := range c.layers {
		for g := range c.heads {
			d, rd := c.rows(dst, l, g)
			s, rs := c.rows(src, l, g)
			k0, k1, v0, v1 := rs*c.hd, rs*c.hd+nk, rs*c.hdv, rs*c.hdv+nv
			switch c.typ {
			case KVF32:
				copy(d.k32[rd*c.hd:], s.k32[k0:k1])
				copy(d.v32[rd*c.hdv:], s.v32[v0:v1])
			case KVF16:
				copy(d.k16[rd*c.hd:], s.k16[k0:k1])
				copy(d.v16[rd*c.hdv:], s.v16[v0:v1])
			case KVQ8_0:
				copy(d.k8[rd*c.hd:], s.k8[k0:k1])
				copy(d.v8[rd*c.hdv:], s.v8[v0:v1])
				copy(d.ks[rd*c.hd/c.qbK:], s.ks[k0/c.qbK:k1/c.qbK])
				copy(d.vs[rd*c.hdv/c.qbV:], s.vs[v0/c.qbV:v1/c.qbV])
			}
		}
	}
}

// store writes the keys k (all key/value heads) and values v of layer l at
// pos of slot, whose block must be prepared.
func (c *Cache) store(l, slot, pos int, k, v []float32) {
	s := &c.slots[slot]
	id := s.table[pos/c.bs]
	for g := 0; g < c.heads; g++ {
		blk, row := c.rows(id, l, g)
		row += pos % c.bs
		kh, vh := k[g*c.hd:(g+1)*c.hd], v[g*c.hdv:(g+1)*c.hdv]
		switch c.typ {
		case KVF32:
			copy(blk.k32[row*c.hd:], kh)
			copy(blk.v32[row*c.hdv:], vh)
		case KVF16:
			attention.ToF16(blk.k16[row*c.hd:(row+1)*c.hd], kh)
			attention.ToF16(blk.v16[row*c.hdv:(row+1)*c.hdv], vh)
		case KVQ8_0:
			attention.QuantizeQ8(blk.k8[row*c.hd:(row+1)*c.hd], blk.ks[row*c.hd/c.qbK:], kh, c.qbK)
			attention.QuantizeQ8(blk.v8[row*c.hdv:(row+1)*c.hdv], blk.vs[row*c.hdv/c.qbV:], vh, c.qbV)
		}
	}
}

// prefetchPiece is the most bytes of one block's keys or values of one head
// that a decode step prefetches at once (see pieces).
const prefetchPiece = 2048

// pieces is how many pieces of at most prefetchPiece bytes a decode step
// cuts a block's keys (values, with values) of one head into. The step
// multiplies them piece by piece, prefetching the matching piece of the
// block kvAhead steps ahead before each: a burst of more prefetches than the
// CPU can keep in flight stalls on its miss buffers while memory then idles
// during the multiplications. Qwen3-0.6B's blocks are 4 KB a head (F16, 128
// wide); 8 sequences at 256 positions (236 MB of keys and values a step)
// spent 12.5-12.9 ms a step in attention with whole blocks, 10.6-11.3 in two
// pieces, no less in four, and more in eight (smaller pieces cost more
// kernel calls, and the value sums reload their outputs for each). The sums
// are the same: each score is its own, and each output's chain over the rows
// runs on in order from one piece to the next.
func (c *Cache) pieces(values bool) int {
	d := c.hd
	if values {
		d = c.hdv
	}
	bytes := c.bs * d // Q8_0: a byte an element, besides the scales
	switch c.typ {
	case KVF32:
		bytes *= 4
	case KVF16:
		bytes *= 2
	}
	return max(1, bytes/prefetchPiece)
}

// prefetch asks the CPU for piece p of n of the keys (or, with values, the
// values) of layer l's KV head g in block id, so that attention finds them
// in the cache when its walk over a sequence's blocks reaches that one.
func (c *Cache) prefetch(id int32, l, g int, values bool, p, n int) {
	blk, row := c.rows(id, l, g)
	d := c.hd
	if values {
		d = c.hdv
	}
	lo, hi := row*d+c.bs*d*p/n, row*d+c.bs*d*(p+1)/n
	switch c.typ {
	case KVF32:
		x := blk.k32
		if values {
			x = blk.v32
		}
		attention.Prefetch(x[lo:hi])
	case KVF16:
		x := blk.k16
		if values {
			x = blk.v16
		}
		attention.Prefetch(x[lo:hi])
	case KVQ8_0:
		// The scales too: a block's are one line, and waiting for it on
		// every block stalled the dequantization (SmolLM2 decoding at
		// 3000 positions: 22% of the samples, 11% with the line fetched
		// ahead; 97-103 -> 124 tok/s).
		x, sc, qb := blk.k8, blk.ks, c.qbK
		if values {
			x, sc, qb = blk.v8, blk.vs, c.qbV
		}
		attention.Prefetch(x[lo:hi])
		attention.Prefetch(sc[lo/qb : (hi+qb-1)/qb])
	}
}

// check verifies the pool's bookkeeping: reference counts equal the uses in
// block tables, unreferenced blocks are free or cached exactly once. Tests
// call it after every operation.
func (c *Cache) check() error {
	refs := make([]int32, len(c.meta))
	for i, s := range c.slots {
		if want := (s.n + c.bs - 1) / c.bs; len(s.table) != want {
			return fmt.Errorf("slot %d: %d blocks for %d positions", i, len(s.table), s.n)
		}
		if len(s.chain) > s.n/c.bs {
			return fmt.Errorf("slot %d: %d chained hashes for %d positions", i, len(s.chain), s.n)
		}
		for _, id := range s.table {
			refs[id]++
		}
	}
	inLRU := make([]bool, len(c.meta))
	for id := c.lru.head; id >= 0; id = c.meta[id].next {
		inLRU[id] = true
	}
	for id := range c.meta {
		m := &c.meta[id]
		if m.ref != refs[id] {
			return fmt.Errorf("block %d: refcount %d, used %d times", id, m.ref, refs[id])
		}
		free := slices.Contains(c.free, int32(id))
		switch {
		case m.ref > 0 && (free || inLRU[id]):
			return fmt.Errorf("block %d: in use and free", id)
		case m.ref == 0 && m.published && (!inLRU[id] || free):
			return fmt.Errorf("block %d: cached but not (only) in the LRU list", id)
		case m.ref == 0 && !m.published && (!free || inLRU[id]):
			return fmt.Errorf("block %d: unused but not (only) in the free list", id)
		case m.published && c.index[m.hash] != int32(id):
			return fmt.Errorf("block %d: published but not indexed", id)
		}
	}
	return nil
}

// lruList is a doubly linked list threaded through blockMeta.
type lruList struct{ head, tail int32 }

func (l *lruList) push(meta []blockMeta, id int32) {
	meta[id].prev, meta[id].next = l.tail, -1
	if l.tail >= 0 {
		meta[l.tail].next = id
	} else {
		l.head = id
	}
	l.tail = id
}

func (l *lruList) remove(meta []blockMeta, id int32) {
	m := &meta[id]
	if m.prev >= 0 {
		meta[m.prev].next = m.next
	} else {
		l.head = m.next
	}
	if m.next >= 0 {
		meta[m.next].prev = m.prev
	} else {
		l.tail = m.prev
	}
	m.prev, m.next = -1, -1
}
