package constrain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Validate checks doc against schema with the same supported subset of JSON
// Schema that constrained decoding enforces (it fails on the same
// unsupported keywords). It exists so that tests, here and in the server, can
// prove that generated output validates, independently of the matcher.
func Validate(schema, doc []byte, opts ...Option) error {
	c, err := compileSchema(context.Background(), schema, opts)
	if err != nil {
		return err
	}
	if !utf8.Valid(doc) {
		return errors.New("document is not valid UTF-8")
	}
	v, err := decodeJSON(doc)
	if err != nil {
		return fmt.Errorf("document: %w", err)
	}
	return validNode(c.root, v)
}

// validNode checks v against the union of n's atoms (before or after the
// satisfiability pruning: an unsatisfiable atom matches nothing anyway).
func validNode(n *node, v any) error {
	var vd validator
	return vd.node(n, v, "")
}

// validator checks values against compiled nodes. With a limit it gives up
// (setting err) after that many atom checks: nested unions make the check
// exponential in the value's depth, and the compiler runs it on enum values
// of a client's schema.
type validator struct {
	c     *compiler // for the context, or nil
	limit int       // 0: no limit
	steps int
	err   error // why the check was abandoned
}

// errMismatch is the error of a quiet validator (one with a limit, which
// needs only yes or no): formatting messages and paths would dominate.
var errMismatch = errors.New("value does not match")

func (vd *validator) fail(format string, args ...any) error {
	if vd.limit > 0 {
		return errMismatch
	}
	return fmt.Errorf(format, args...)
}

// sub is the path of a member of the value at path.
func subPath[K any](vd *validator, path string, name func(K) string, k K) string {
	if vd.limit > 0 {
		return ""
	}
	return path + "/" + name(k)
}

func (vd *validator) node(n *node, v any, path string) error {
	var first error
	for _, a := range n.flat {
		if vd.err != nil {
			return vd.err
		}
		vd.steps++
		if vd.limit > 0 && vd.steps > vd.limit {
			vd.err = fmt.Errorf("%w: checking enum/const values takes more than %d steps", ErrSchemaTooComplex, vd.limit)
			return vd.err
		}
		if vd.c != nil {
			if err := vd.c.tick(); err != nil {
				vd.err = err
				return err
			}
		}
		err := vd.atom(a, v, path)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		return vd.fail("at %q: no value is allowed here", path)
	}
	if len(n.flat) > 1 {
		return vd.fail("at %q: no alternative matches (first: %w)", path, first)
	}
	return first
}

func (vd *validator) atom(a *atom, v any, path string) error {
	switch a.kind {
	case aObject:
		o, ok := v.(map[string]any)
		if !ok {
			return vd.fail("at %q: not an object", path)
		}
		idx := make(map[string]int, len(a.props))
		for i, p := range a.props {
			idx[p.name] = i
		}
		for k, x := range o {
			sub := subPath(vd, path, escapePtr, k)
			if i, ok := idx[k]; ok {
				if err := vd.node(a.props[i].n, x, sub); err != nil {
					return err
				}
				continue
			}
			if a.addl == nil {
				return vd.fail("at %q: property %q is not allowed", path, k)
			}
			if err := vd.node(a.addl, x, sub); err != nil {
				return err
			}
		}
		for _, p := range a.props {
			if _, ok := o[p.name]; p.required && !ok {
				return vd.fail("at %q: required property %q is missing", path, p.name)
			}
		}
		if len(o) < a.minProps || (a.maxProps >= 0 && len(o) > a.maxProps) {
			return vd.fail("at %q: %d properties, outside [%d, %d]", path, len(o), a.minProps, a.maxProps)
		}
		return nil
	case aArray:
		arr, ok := v.([]any)
		if !ok {
			return vd.fail("at %q: not an array", path)
		}
		if len(arr) < a.minItems || (a.maxItems >= 0 && len(arr) > a.maxItems) {
			return vd.fail("at %q: %d items, outside [%d, %d]", path, len(arr), a.minItems, a.maxItems)
		}
		for i, x := range arr {
			n := a.itemNode(i)
			if n == nil {
				return vd.fail("at %q: item %d is not allowed", path, i)
			}
			if err := vd.node(n, x, subPath(vd, path, strconv.Itoa, i)); err != nil {
				return err
			}
		}
		return nil
	case aString:
		s, ok := v.(string)
		if !ok {
			return vd.fail("at %q: not a string", path)
		}
		n := utf8.RuneCountInString(s)
		if n < a.minLen || (a.maxLen >= 0 && n > a.maxLen) {
			return vd.fail("at %q: string length %d outside [%d, %d]", path, n, a.minLen, a.maxLen)
		}
		if a.pat != nil && !a.pat.d.matches(s) {
			return vd.fail("at %q: string does not match the pattern or format", path)
		}
		return nil
	case aNumber, aInteger:
		num, ok := v.(json.Number)
		if !ok {
			return vd.fail("at %q: not a number", path)
		}
		if a.kind == aNumber && a.lo == nil && a.hi == nil {
			return nil // the decoder checked the syntax
		}
		r, ok := ratOf(num)
		if !ok {
			return vd.fail("at %q: number %s out of the supported range", path, num)
		}
		if a.kind == aInteger && !r.IsInt() {
			return vd.fail("at %q: %s is not an integer", path, num)
		}
		if !inBounds(a, r) {
			return vd.fail("at %q: %s is out of bounds", path, num)
		}
		return nil
	case aLiteral:
		for _, x := range a.vals {
			if equalJSON(x, v) {
				return nil
			}
		}
		return vd.fail("at %q: value not among the allowed values", path)
	}
	return vd.fail("at %q: bad schema node", path)
}
