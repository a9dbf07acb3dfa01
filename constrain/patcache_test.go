package constrain

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// Pattern plans are shared by every request that uses the same pattern:
// a second compile of the schema finds the first one's plans, and its
// masks are the same as with plans built afresh.
func TestPatPlansShared(t *testing.T) {
	ix := NewIndex(byteVocab{})
	schema := []byte(`{"type":"object","properties":{"w":{"type":"string","pattern":"^\\w+( \\w+)*$","maxLength":12},"e":{"type":"string","format":"email"}},"required":["w","e"],"additionalProperties":false}`)
	prefixes := []string{`{"w": "`, `{"w": "ab`, `{"w": "ab c`, `{"w": "ab", "e": "`, `{"w": "ab", "e": "x@`}
	masks := func() [][]bool {
		var out [][]bool
		for _, p := range prefixes {
			comp, err := CompileSchemaContext(context.Background(), schema)
			if err != nil {
				t.Fatal(err)
			}
			c := ix.New(comp)
			for i := 0; i < len(p); i++ {
				if err := c.Accept(int(p[i])); err != nil {
					t.Fatalf("%q: %v", p, err)
				}
			}
			allowed := make([]bool, 257)
			for i := range allowed {
				allowed[i] = true
			}
			c.Allow(allowed)
			out = append(out, allowed)
		}
		return out
	}
	first := masks()
	ix.pats.mu.Lock()
	cached := len(ix.pats.plans)
	ix.pats.mu.Unlock()
	if cached == 0 {
		t.Fatal("no plan was shared")
	}
	second := masks() // new compiles: served from the shared cache
	ix.pats.mu.Lock()
	if len(ix.pats.plans) != cached {
		t.Errorf("second pass built %d more plans", len(ix.pats.plans)-cached)
	}
	ix.pats.plans, ix.pats.dfas, ix.pats.order, ix.pats.bytes = nil, nil, nil, 0
	ix.pats.mu.Unlock()
	fresh := masks()
	for i := range prefixes {
		for id := range 257 {
			if first[i][id] != second[i][id] || first[i][id] != fresh[i][id] {
				t.Errorf("%q: token %d allowed %v / %v (shared) / %v (fresh)", prefixes[i], id, first[i][id], second[i][id], fresh[i][id])
			}
		}
	}
}

// The shared cache stays within its budget, evicting the oldest plans,
// and serves concurrent requests (run with -race).
func TestPatPlansBoundedConcurrent(t *testing.T) {
	ix := NewIndex(byteVocab{})
	ix.pats.budget = 4 << 10
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 20 {
				schema := fmt.Sprintf(`{"type":"string","pattern":"^[a-z]{%d,}x$"}`, (g+k)%10+1)
				c, err := ix.Schema([]byte(schema))
				if err != nil {
					t.Error(err)
					return
				}
				allowed := make([]bool, 257)
				for _, b := range []byte(`"abc`) {
					for i := range allowed {
						allowed[i] = true
					}
					c.Allow(allowed)
					if !allowed[b] {
						t.Errorf("%s: %q not allowed", schema, b)
						return
					}
					if err := c.Accept(int(b)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	ix.pats.mu.Lock()
	defer ix.pats.mu.Unlock()
	if ix.pats.bytes > ix.pats.budget && len(ix.pats.order) > 1 {
		t.Errorf("cache holds %d bytes over a budget of %d", ix.pats.bytes, ix.pats.budget)
	}
	if len(ix.pats.order) != len(ix.pats.plans)+len(ix.pats.tries) {
		t.Errorf("order %d, plans %d, tries %d", len(ix.pats.order), len(ix.pats.plans), len(ix.pats.tries))
	}
	sum := 0
	for _, p := range ix.pats.plans {
		sum += p.size()
	}
	for _, ct := range ix.pats.tries {
		sum += ct.size()
	}
	if sum != ix.pats.bytes {
		t.Errorf("accounted %d bytes, plans and tries hold %d", ix.pats.bytes, sum)
	}
}

// charDist agrees with the length table: with maxLength only, a state is
// good at count c exactly when c + dist <= maxLength.
func TestCharDistMatchesLenTable(t *testing.T) {
	for _, pat := range []string{`^\w+( \w+)*$`, `ab|cd`, `^[^a-z\s]{1,4}$`, `^(0x)?[0-9a-f]+$`, `é+x`, `^[A-Z]{3}-\d{4}$`} {
		d, err := compilePattern(pat)
		if err != nil {
			t.Fatal(err)
		}
		const maxLen = 9
		tab, err := newLenTable(d, 0, maxLen)
		if err != nil {
			t.Fatal(err)
		}
		dist := d.charDist()
		for s := int32(0); s < int32(d.n); s++ {
			for c := 0; c <= maxLen+2; c++ {
				if got, want := c+int(dist[s]) <= maxLen, tab.good(c, s); got != want {
					t.Errorf("%s: state %d count %d: dist %d says %v, table %v", pat, s, c, dist[s], got, want)
				}
			}
		}
	}
}

// dropPlans empties the Index's cache of pattern plans but keeps the class
// tries, as after New for a pattern whose states were never visited.
func dropPlans(ix *Index) {
	pc := &ix.pats
	pc.mu.Lock()
	defer pc.mu.Unlock()
	var order []sharedKey
	for _, k := range pc.order {
		if k.pos == trieKey {
			order = append(order, k)
		} else {
			pc.bytes -= pc.plans[k].size()
			delete(pc.plans, k)
		}
	}
	pc.order = order
}
