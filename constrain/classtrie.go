package constrain

import "slices"

// A pattern's DFA only tells bytes apart by their column of transitions:
// for `\w+( \w+)*` a word byte, a space and anything else. Seen through
// those classes, the 151k tokens of a large vocabulary spell only a few
// thousand distinct strings, so the first visit of a DFA state (a plan,
// see patPlan) walks a trie of class strings, built once per byte
// partition and vocabulary, instead of the byte trie. Three classes are fixed because
// the plan walk treats them apart from the DFA: dead bytes (controls, which
// a JSON string must escape, and bytes no state reads) end a class string
// for good; a quote ends the string value, where the plan records exits;
// a backslash starts an escape, whose meaning depends on the exact bytes
// after it, so the (few) tokens that write one before any quote are walked
// in the byte trie from there.
const (
	clsDead  = 0
	clsQuote = 1
	clsBack  = 2
	clsFirst = 3 // the first class decided by the DFA
)

// classTrie is the Index's byte trie with every byte replaced by its class
// under one DFA, identical paths merged and dead subtrees dropped. Node i
// (preorder, the root implicit) has class kls[i] at depth dep[i]; its
// subtree ends before end[i]. Tokens spelled by a class path ending at a
// live-class node i are ids[idAt[i]:idAt[i+1]]; a quote or backslash node
// is a leaf standing for the byte-trie nodes bnodes[bnAt[i]:bnAt[i+1]].
// Immutable once built.
type classTrie struct {
	nc     int    // number of classes, the fixed ones included
	rep    []byte // a byte of each class, to read the DFA with
	kls    []uint8
	dep    []uint16
	end    []int32
	idAt   []int32
	ids    []int32
	bnAt   []int32
	bnodes []int32
}

// byteClasses partitions the bytes by their column in d's transition
// table, apart from the fixed classes. Classes are numbered in the order of
// their first byte, so equal partitions (of different patterns) come out
// the same and share a class trie.
func byteClasses(d *dfa) (cls [256]uint8, rep []byte) {
	rep = []byte{0, '"', '\\'}
	byHash := map[uint64][]uint8{} // column hash -> classes with it
	col := make([]int32, d.n)
	column := func(b int, out []int32) []int32 {
		for s := range out {
			out[s] = d.next[s<<8|b]
		}
		return out
	}
	other := make([]int32, d.n)
	for b := 0x20; b < 256; b++ {
		switch b {
		case '"':
			cls[b] = clsQuote
			continue
		case '\\':
			cls[b] = clsBack
			continue
		}
		column(b, col)
		if !slices.ContainsFunc(col, func(t int32) bool { return t >= 0 }) {
			continue // clsDead
		}
		k := uint64(fnvOffset)
		for _, t := range col {
			k = (k ^ uint64(uint32(t))) * fnvPrime
		}
		found := false
		for _, c := range byHash[k] {
			if slices.Equal(column(int(rep[c]), other), col) {
				cls[b], found = c, true
				break
			}
		}
		if !found {
			c := uint8(len(rep))
			rep = append(rep, byte(b))
			byHash[k] = append(byHash[k], c)
			cls[b] = c
		}
	}
	return cls, rep
}

// newClassTrie builds the class trie of the Index under the byte partition
// cls (rep: a byte of each class): one pass over the byte trie in preorder
// (skipping dead subtrees) finds the class node of every byte node,
// creating nodes through a hash of edges; a depth-first pass numbers them
// in preorder; counting sorts group the tokens and the leaves' byte nodes
// by node. It costs about one or two permissive plan walks over the byte
// trie, once per partition and vocabulary.
func (ix *Index) newClassTrie(cls [256]uint8, rep []byte) *classTrie {
	ct := &classTrie{rep: rep}
	nc := int32(len(ct.rep))
	ct.nc = int(nc)
	// Node 0 is the root; node c has class kls[c] under parent par[c].
	kls, par := []uint8{0}, []int32{-1}
	var h childHash
	h.init(1024)
	tb, dep, end, idLo := ix.tb, ix.dep, ix.end, ix.idLo
	n := int32(len(tb))
	path := make([]int32, ix.maxDepth+1)
	type edge struct{ parent, k, child int32 }
	last := make([]edge, ix.maxDepth+1) // the last edge taken at each depth
	for i := range last {
		last[i].parent = -1
	}
	toks := make([]int32, 0, 2*len(ix.ids)) // class node, byte node pairs
	var leaves []int32
	ntok := 0
	for i := int32(0); i < n; {
		k := int32(cls[tb[i]])
		if k == clsDead {
			i = end[i]
			continue
		}
		dp := dep[i]
		p := path[dp-1]
		var c int32
		if e := &last[dp]; e.parent == p && e.k == k {
			// Siblings mostly share a class (letters): skip the hash.
			c = e.child
		} else {
			if c = h.get(p*nc + k); c == 0 {
				c = int32(len(kls))
				kls, par = append(kls, uint8(k)), append(par, p)
				h.put(p*nc+k, c)
			}
			*e = edge{p, k, c}
		}
		if k == clsQuote || k == clsBack {
			leaves = append(leaves, c, i)
			i = end[i]
			continue
		}
		path[dp] = c
		top := int32(len(ix.ids))
		if i+1 < n {
			top = idLo[i+1]
		}
		if idLo[i] < top {
			toks = append(toks, c, i)
			ntok += int(top - idLo[i])
		}
		i++
	}
	// Children lists in creation order, then preorder numbers: node c
	// becomes pre[c] (the root -1).
	m := int32(len(kls)) - 1
	kidAt, kids := groupBy(pairsOf(par[1:], 1), m+1)
	pre := make([]int32, m+1)
	pre[0] = -1
	ct.kls, ct.dep, ct.end = make([]uint8, m), make([]uint16, m), make([]int32, m)
	type frame struct{ node, next int32 } // next: index in kids
	stack := []frame{{0, kidAt[0]}}
	num := int32(0)
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next == kidAt[f.node+1] {
			if f.node != 0 {
				ct.end[pre[f.node]] = num
			}
			stack = stack[:len(stack)-1]
			continue
		}
		c := kids[f.next]
		f.next++
		pre[c] = num
		ct.kls[num] = kls[c]
		ct.dep[num] = uint16(len(stack))
		num++
		stack = append(stack, frame{c, kidAt[c]})
	}
	// Tokens and leaf byte nodes by node, in byte-trie order within one.
	for l := 0; l < len(toks); l += 2 {
		toks[l] = pre[toks[l]]
	}
	for l := 0; l < len(leaves); l += 2 {
		leaves[l] = pre[leaves[l]]
	}
	var at []int32
	at, toks = groupBy(toks, m)
	ct.idAt, ct.ids = make([]int32, m+1), make([]int32, ntok)
	w := int32(0)
	for x := range m {
		ct.idAt[x] = w
		for _, i := range toks[at[x]:at[x+1]] {
			for j := idLo[i]; j < ix.idHi[i]; j++ {
				ct.ids[w] = ix.ids[j]
				w++
			}
		}
	}
	ct.idAt[m] = w
	ct.bnAt, ct.bnodes = groupBy(leaves, m)
	return ct
}

// pairsOf returns the (key, value) pairs (keys[j], j+base).
func pairsOf(keys []int32, base int32) []int32 {
	out := make([]int32, 0, 2*len(keys))
	for j, k := range keys {
		out = append(out, k, int32(j)+base)
	}
	return out
}

// childHash maps a class-trie edge (parent*classes+class) to the child, 0
// for none: open addressing with linear probing, kept at most half full, so
// the table of a large class trie stays small enough for the cache.
type childHash struct {
	keys, vals []int32 // keys -1: empty
	n          int
}

func (h *childHash) init(size int) {
	h.keys, h.vals, h.n = make([]int32, size), make([]int32, size), 0
	for i := range h.keys {
		h.keys[i] = -1
	}
}

func (h *childHash) slot(key int32) int {
	mask := len(h.keys) - 1
	i := int(uint32(key)*0x9E3779B1>>7) & mask
	for h.keys[i] != key && h.keys[i] != -1 {
		i = (i + 1) & mask
	}
	return i
}

func (h *childHash) get(key int32) int32 {
	if i := h.slot(key); h.keys[i] == key {
		return h.vals[i]
	}
	return 0
}

func (h *childHash) put(key, val int32) {
	if 2*(h.n+1) > len(h.keys) {
		keys, vals := h.keys, h.vals
		h.init(2 * len(keys))
		for i, k := range keys {
			if k != -1 {
				h.put(k, vals[i])
			}
		}
	}
	i := h.slot(key)
	h.keys[i], h.vals[i] = key, val
	h.n++
}

// groupBy sorts the values of (key, value) pairs with keys in [0, m) by
// key, stably: vals[at[k]:at[k+1]] have key k.
func groupBy(pairs []int32, m int32) (at, vals []int32) {
	at = make([]int32, m+1)
	for l := 0; l < len(pairs); l += 2 {
		at[pairs[l]+1]++
	}
	for k := int32(1); k <= m; k++ {
		at[k] += at[k-1]
	}
	pos := slices.Clone(at[:m])
	vals = make([]int32, len(pairs)/2)
	for l := 0; l < len(pairs); l += 2 {
		k := pairs[l]
		vals[pos[k]] = pairs[l+1]
		pos[k]++
	}
	return at, vals
}

// size is the memory a classTrie holds, for the cache budget.
func (ct *classTrie) size() int {
	return len(ct.rep) + 7*len(ct.kls) + 4*(len(ct.end)+len(ct.idAt)+len(ct.ids)+len(ct.bnAt)+len(ct.bnodes)) + 512
}

// reachablePatterns returns the distinct patterns (by source) of the
// satisfiable string atoms reachable from root.
func reachablePatterns(root *node) []*strPattern {
	var out []*strPattern
	srcs := map[string]bool{}
	seen := map[*node]bool{}
	stack := []*node{root}
	push := func(n *node) {
		if n != nil && !seen[n] {
			seen[n] = true
			stack = append(stack, n)
		}
	}
	seen[root] = true
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, a := range n.flat {
			if !a.sat {
				continue
			}
			if a.pat != nil && !srcs[a.pat.src] {
				srcs[a.pat.src] = true
				out = append(out, a.pat)
			}
			for _, p := range a.props {
				push(p.n)
			}
			push(a.addl)
			for _, p := range a.prefix {
				push(p)
			}
			push(a.items)
		}
	}
	return out
}
