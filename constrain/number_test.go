package constrain

import (
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// TestNumViableBruteForce checks the interval reasoning of numViable
// against enumeration: a prefix is viable exactly when some number written
// in the enumerated form starts with it and lies within the bounds.
func TestNumViableBruteForce(t *testing.T) {
	type bcase struct {
		integer    bool
		lo, hi     string // "" = unbounded
		loEx, hiEx bool
	}
	cases := []bcase{
		{true, "-30", "300", false, false}, {true, "7", "", false, false}, {true, "", "-12", false, true},
		{true, "5", "5", false, false}, {true, "1.5", "19.5", false, false}, {true, "99", "101", true, true},
		{false, "0.25", "2.5", true, false}, {false, "-1", "-0.5", false, true}, {false, "3", "", false, false},
		{false, "", "0", false, true}, {false, "0.5", "0.5", false, false}, {false, "10", "12.75", true, true},
	}
	// Every number with up to 3 integer digits (integers) or up to 13 and
	// 3 fraction digits (numbers), with and without sign.
	var all []string
	for i := 0; i < 1000; i++ {
		all = append(all, fmt.Sprint(i), fmt.Sprint(-i))
	}
	for i := 0; i < 14; i++ {
		for f := 0; f < 1000; f++ {
			for _, fs := range []string{fmt.Sprintf("%d", f/100), fmt.Sprintf("%02d", f/10), fmt.Sprintf("%03d", f)} {
				all = append(all, fmt.Sprintf("%d.%s", i, fs), fmt.Sprintf("-%d.%s", i, fs))
			}
		}
	}
	for _, c := range cases {
		a := &atom{kind: aNumber, loEx: c.loEx, hiEx: c.hiEx}
		if c.integer {
			a.kind = aInteger
		}
		if c.lo != "" {
			a.lo, _ = new(big.Rat).SetString(c.lo)
		}
		if c.hi != "" {
			a.hi, _ = new(big.Rat).SetString(c.hi)
		}
		viable := map[string]bool{}  // prefixes of valid numbers
		invalid := map[string]bool{} // prefixes of invalid numbers
		prefixes := map[string]bool{}
		for _, s := range all {
			if c.integer && strings.Contains(s, ".") {
				continue
			}
			r, _ := new(big.Rat).SetString(s)
			ok := inBounds(a, r)
			for k := 1; k <= len(s); k++ {
				prefixes[s[:k]] = true
				if ok {
					viable[s[:k]] = true
				} else {
					invalid[s[:k]] = true
				}
			}
		}
		for p := range prefixes {
			if len(p) > 5 || (!c.integer && strings.Count(p, ".") == 1 && len(p)-strings.Index(p, ".") > 3) {
				continue // prefixes whose completions may need more digits than enumerated
			}
			if numFree(a, p) && invalid[p] {
				t.Errorf("%+v: numFree(%q) but an out-of-bounds number has that prefix", c, p)
			}
			want := viable[p]
			if (c.hi == "" || c.lo == "") && !want {
				continue // unbounded side: completions may lie beyond the enumeration
			}
			if got := numViable(a, p); got != want {
				t.Errorf("%+v: numViable(%q) = %v, want %v", c, p, got, want)
			}
		}
	}
}
