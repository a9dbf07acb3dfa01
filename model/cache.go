package model

import "fmt"

// Cache holds the keys and values of every layer for a fixed number of
// sequence slots. Storage grows per slot as positions are written (doubling,
// capped at the context size), so many idle slots or a long context cost
// nothing until used. A Cache belongs to the Model that created it and must
// not be used by two Forward calls at once.
type Cache struct {
	owner          *Model
	ctx            int
	kvDimK, kvDimV int // floats per position and layer
	slots          []slotCache
}

type slotCache struct {
	n    int         // positions [0, n) hold valid keys/values
	cap  int         // positions allocated in every layer's buffers
	k, v [][]float32 // per layer, cap*kvDim floats, position-major
}

// NewCache returns an empty cache with slots sequence slots of at most ctx
// positions each. Non-positive arguments give a cache with no usable slot or
// position; Forward then reports the offending slot or position.
func (m *Model) NewCache(slots, ctx int) *Cache {
	if slots < 0 {
		slots = 0
	}
	if ctx < 0 {
		ctx = 0
	}
	return &Cache{
		owner:  m,
		ctx:    ctx,
		kvDimK: m.Config.HeadsKV * m.Config.HeadDim,
		kvDimV: m.Config.HeadsKV * m.Config.HeadDimV,
		slots:  make([]slotCache, slots),
	}
}

// Slots is the number of sequence slots.
func (c *Cache) Slots() int { return len(c.slots) }

// Ctx is the maximum number of positions per slot.
func (c *Cache) Ctx() int { return c.ctx }

// Clear empties slot and releases its memory. An out-of-range slot is ignored.
func (c *Cache) Clear(slot int) {
	if slot < 0 || slot >= len(c.slots) {
		return
	}
	c.slots[slot] = slotCache{}
}

// Truncate forgets positions >= n of slot, keeping its memory for reuse (a
// shared prompt prefix stays cached). n >= Len(slot) or an out-of-range slot
// is a no-op; n < 0 clears the positions.
func (c *Cache) Truncate(slot, n int) {
	if slot < 0 || slot >= len(c.slots) {
		return
	}
	if n < 0 {
		n = 0
	}
	if s := &c.slots[slot]; n < s.n {
		s.n = n
	}
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
// request) that then diverge: dst gets its own copy, later writes to either
// slot leave the other alone. dst's length becomes n whatever it held
// before; src == dst just truncates. It fails, changing nothing, on an
// out-of-range slot or n outside [0, Len(src)].
func (c *Cache) CopyPrefix(src, dst, n int) error {
	switch {
	case src < 0 || src >= len(c.slots) || dst < 0 || dst >= len(c.slots):
		return fmt.Errorf("model: copy prefix: slots %d -> %d, want both in [0, %d)", src, dst, len(c.slots))
	case n < 0 || n > c.slots[src].n:
		return fmt.Errorf("model: copy prefix: %d positions of slot %d, which holds %d", n, src, c.slots[src].n)
	case src == dst:
		c.slots[dst].n = n
		return nil
	}
	// Nothing of dst survives, so growing it need not copy its old data.
	c.slots[dst].n = 0
	if n == 0 {
		return nil
	}
	c.reserve(dst, n, len(c.owner.layers))
	from, to := &c.slots[src], &c.slots[dst]
	for l := range to.k {
		copy(to.k[l], from.k[l][:n*c.kvDimK])
		copy(to.v[l], from.v[l][:n*c.kvDimV])
	}
	to.n = n
	return nil
}

// reserve makes room for n positions in slot, keeping the valid ones.
func (c *Cache) reserve(slot, n, layers int) {
	s := &c.slots[slot]
	if n <= s.cap {
		return
	}
	newCap := max(n, 2*s.cap, 16)
	newCap = min(newCap, c.ctx)
	if s.k == nil {
		s.k = make([][]float32, layers)
		s.v = make([][]float32, layers)
	}
	for l := 0; l < layers; l++ {
		k := make([]float32, newCap*c.kvDimK)
		copy(k, s.k[l][:s.n*c.kvDimK])
		s.k[l] = k
		v := make([]float32, newCap*c.kvDimV)
		copy(v, s.v[l][:s.n*c.kvDimV])
		s.v[l] = v
	}
	s.cap = newCap
}
