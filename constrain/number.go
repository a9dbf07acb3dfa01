package constrain

import (
	"math/big"
	"strings"
)

// Bounded numbers: a prefix of a number is allowed only if some completion of
// it lies within the bounds, so the matcher never writes "9" when the
// maximum is 5, nor "-" when the minimum is 0. Bounded numbers are written
// without exponent, which makes the completions of a prefix a union of
// intervals: for "12" they are [12,13) ∪ [120,130) ∪ ..., for "12.3"
// [12.3,12.4). Integers use the same intervals restricted to integers.

// bound is one end of an interval; r nil is infinite.
type bound struct {
	r    *big.Rat
	incl bool
}

var ten = big.NewInt(10)

// denseMeets reports whether some finite decimal x satisfies lo ≤ x ≤ hi,
// each end inclusive or not (r nil: unbounded on that side). Finite
// decimals are dense, so an interval with lo < hi always has one.
func denseMeets(lo, hi bound) bool {
	if lo.r == nil || hi.r == nil {
		return true
	}
	c := lo.r.Cmp(hi.r)
	return c < 0 || (c == 0 && lo.incl && hi.incl)
}

// maxLower and minUpper intersect bounds.
func maxLower(a, b bound) bound {
	if a.r == nil {
		return b
	}
	if b.r == nil {
		return a
	}
	switch c := a.r.Cmp(b.r); {
	case c > 0:
		return a
	case c < 0:
		return b
	}
	return bound{a.r, a.incl && b.incl}
}

func minUpper(a, b bound) bound {
	if a.r == nil {
		return b
	}
	if b.r == nil {
		return a
	}
	switch c := a.r.Cmp(b.r); {
	case c < 0:
		return a
	case c > 0:
		return b
	}
	return bound{a.r, a.incl && b.incl}
}

// intBounds turns bounds into inclusive integer bounds (nil: unbounded).
func intBounds(lo, hi bound) (*big.Int, *big.Int) {
	var ilo, ihi *big.Int
	if lo.r != nil {
		q, m := new(big.Int).DivMod(lo.r.Num(), lo.r.Denom(), new(big.Int)) // floor
		if m.Sign() != 0 || !lo.incl {
			q.Add(q, big.NewInt(1))
		}
		ilo = q
	}
	if hi.r != nil {
		q, m := new(big.Int).DivMod(hi.r.Num(), hi.r.Denom(), new(big.Int))
		if m.Sign() == 0 && !hi.incl {
			q.Sub(q, big.NewInt(1))
		}
		ihi = q
	}
	return ilo, ihi
}

func intMeets(x, y, ilo, ihi *big.Int) bool {
	l := x
	if ilo != nil && ilo.Cmp(l) > 0 {
		l = ilo
	}
	if y == nil {
		return ihi == nil || l.Cmp(ihi) <= 0
	}
	u := y
	if ihi != nil && ihi.Cmp(u) < 0 {
		u = ihi
	}
	return l.Cmp(u) <= 0
}

// numViable reports whether the number prefix text (no exponent) can still
// be completed to a number of atom a within its bounds. text "" asks whether
// any number at all is within the bounds.
func numViable(a *atom, text string) bool {
	if a.lo == nil && a.hi == nil {
		return true
	}
	lo := bound{a.lo, !a.loEx}
	hi := bound{a.hi, !a.hiEx}
	integer := a.kind == aInteger
	if text == "" {
		if integer {
			ilo, ihi := intBounds(lo, hi)
			return ilo == nil || ihi == nil || ilo.Cmp(ihi) <= 0
		}
		return denseMeets(lo, hi)
	}
	body, neg := strings.CutPrefix(text, "-")
	// Work on magnitudes: for a negative prefix mirror the bounds.
	mlo, mhi := lo, hi
	if neg {
		mlo = bound{negRat(hi.r), hi.incl}
		mhi = bound{negRat(lo.r), lo.incl}
	}
	zero := bound{new(big.Rat), true}
	mlo = maxLower(mlo, zero)
	if body == "" {
		if integer {
			ilo, ihi := intBounds(mlo, mhi)
			return intMeets(ilo, nil, nil, ihi)
		}
		return denseMeets(mlo, mhi)
	}
	intPart, frac, dot := strings.Cut(body, ".")
	p, ok := new(big.Int).SetString(intPart, 10)
	if !ok {
		return false
	}
	if dot {
		scale := new(big.Int).Exp(ten, big.NewInt(int64(len(frac))), nil)
		num := new(big.Int).Mul(p, scale)
		if frac != "" {
			f, ok := new(big.Int).SetString(frac, 10)
			if !ok {
				return false
			}
			num.Add(num, f)
		}
		x := new(big.Rat).SetFrac(num, scale)
		y := new(big.Rat).SetFrac(new(big.Int).Add(num, big.NewInt(1)), scale)
		return denseMeets(maxLower(mlo, bound{x, true}), minUpper(mhi, bound{y, false}))
	}
	// The completions are the intervals I_j = [p·10^j, (p+1)·10^j) (for
	// integers [p·10^j, (p+1)·10^j - 1]), rising with j. Only the first
	// one that reaches the lower bound can matter: it meets the bounds
	// unless it starts above the upper bound, and later ones start higher.
	if p.Sign() == 0 {
		if integer {
			ilo, ihi := intBounds(mlo, mhi)
			return intMeets(p, p, ilo, ihi)
		}
		return denseMeets(mlo, minUpper(mhi, bound{big.NewRat(1, 1), false}))
	}
	p1 := new(big.Int).Add(p, big.NewInt(1))
	j := 0
	var ilo, ihi *big.Int
	var target *big.Int // the smallest upper end that reaches the lower bound
	if integer {
		ilo, ihi = intBounds(mlo, mhi)
		if ilo != nil {
			target = new(big.Int).Add(ilo, big.NewInt(1)) // (p+1)·10^j - 1 ≥ ilo
		}
	} else if mlo.r != nil {
		// (p+1)·10^j > mlo  ⟸  (p+1)·10^j > floor(mlo)+1 > mlo
		q := new(big.Int).Quo(mlo.r.Num(), mlo.r.Denom())
		target = q.Add(q, big.NewInt(1))
	}
	if target != nil && target.Sign() > 0 {
		j = max(0, len(target.String())-len(p1.String())-1)
		for new(big.Int).Mul(p1, new(big.Int).Exp(ten, big.NewInt(int64(j)), nil)).Cmp(target) < 0 {
			j++
		}
	}
	scale := new(big.Int).Exp(ten, big.NewInt(int64(j)), nil)
	x := new(big.Int).Mul(p, scale)
	y := new(big.Int).Mul(p1, scale)
	if integer {
		return intMeets(x, y.Sub(y, big.NewInt(1)), ilo, ihi)
	}
	return denseMeets(maxLower(mlo, bound{new(big.Rat).SetInt(x), true}), minUpper(mhi, bound{new(big.Rat).SetInt(y), false}))
}

func negRat(r *big.Rat) *big.Rat {
	if r == nil {
		return nil
	}
	return new(big.Rat).Neg(r)
}

// inBounds reports whether the number text lies within a's bounds.
func inBounds(a *atom, r *big.Rat) bool {
	if a.lo != nil {
		c := r.Cmp(a.lo)
		if c < 0 || (c == 0 && a.loEx) {
			return false
		}
	}
	if a.hi != nil {
		c := r.Cmp(a.hi)
		if c > 0 || (c == 0 && a.hiEx) {
			return false
		}
	}
	return true
}

func numComplete(a *atom, text string) bool {
	if a.lo == nil && a.hi == nil {
		return true
	}
	r, ok := new(big.Rat).SetString(text)
	return ok && inBounds(a, r)
}

// numFree reports whether every completion of the number prefix text lies
// within a's bounds, after which the matcher stops checking (so a long
// number costs linear, not quadratic, time).
func numFree(a *atom, text string) bool {
	body, neg := strings.CutPrefix(text, "-")
	intPart, frac, dot := strings.Cut(body, ".")
	if intPart == "" {
		return false
	}
	lo := bound{a.lo, !a.loEx}
	hi := bound{a.hi, !a.hiEx}
	mlo, mhi := lo, hi
	if neg {
		mlo = bound{negRat(hi.r), hi.incl}
		mhi = bound{negRat(lo.r), lo.incl}
	}
	above := func(x *big.Rat) bool { // x ≥ mlo (or >)
		if mlo.r == nil {
			return true
		}
		c := x.Cmp(mlo.r)
		return c > 0 || (c == 0 && mlo.incl)
	}
	p, ok := new(big.Rat).SetString(intPart)
	if !ok {
		return false
	}
	if !dot {
		// Completions reach arbitrarily far up (unless "0"), so only an
		// unbounded top can hold them all; the lowest completion is p.
		if intPart == "0" || mhi.r != nil {
			return false
		}
		return above(p)
	}
	scale := new(big.Rat).SetInt(new(big.Int).Exp(ten, big.NewInt(int64(len(frac))), nil))
	x := new(big.Rat).Set(p)
	if frac != "" {
		f, ok := new(big.Rat).SetString(frac)
		if !ok {
			return false
		}
		x.Add(x, f.Quo(f, scale))
	}
	if !above(x) {
		return false
	}
	if mhi.r == nil {
		return true
	}
	top := new(big.Rat).Add(x, new(big.Rat).Inv(scale)) // completions stay below top
	return top.Cmp(mhi.r) <= 0
}
