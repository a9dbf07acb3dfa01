package constrain

import (
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
	c, err := compileSchema(schema, opts)
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
	return validPath(n, v, "")
}

func validPath(n *node, v any, path string) error {
	var first error
	for _, a := range n.flat {
		err := validAtom(a, v, path)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		return fmt.Errorf("at %q: no value is allowed here", path)
	}
	if len(n.flat) > 1 {
		return fmt.Errorf("at %q: no alternative matches (first: %w)", path, first)
	}
	return first
}

func validAtom(a *atom, v any, path string) error {
	switch a.kind {
	case aObject:
		o, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("at %q: not an object", path)
		}
		idx := make(map[string]int, len(a.props))
		for i, p := range a.props {
			idx[p.name] = i
		}
		for k, x := range o {
			sub := path + "/" + escapePtr(k)
			if i, ok := idx[k]; ok {
				if err := validPath(a.props[i].n, x, sub); err != nil {
					return err
				}
				continue
			}
			if a.addl == nil {
				return fmt.Errorf("at %q: property %q is not allowed", path, k)
			}
			if err := validPath(a.addl, x, sub); err != nil {
				return err
			}
		}
		for _, p := range a.props {
			if _, ok := o[p.name]; p.required && !ok {
				return fmt.Errorf("at %q: required property %q is missing", path, p.name)
			}
		}
		if len(o) < a.minProps || (a.maxProps >= 0 && len(o) > a.maxProps) {
			return fmt.Errorf("at %q: %d properties, outside [%d, %d]", path, len(o), a.minProps, a.maxProps)
		}
		return nil
	case aArray:
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("at %q: not an array", path)
		}
		if len(arr) < a.minItems || (a.maxItems >= 0 && len(arr) > a.maxItems) {
			return fmt.Errorf("at %q: %d items, outside [%d, %d]", path, len(arr), a.minItems, a.maxItems)
		}
		for i, x := range arr {
			n := a.itemNode(i)
			if n == nil {
				return fmt.Errorf("at %q: item %d is not allowed", path, i)
			}
			if err := validPath(n, x, path+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		return nil
	case aString:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("at %q: not a string", path)
		}
		n := utf8.RuneCountInString(s)
		if n < a.minLen || (a.maxLen >= 0 && n > a.maxLen) {
			return fmt.Errorf("at %q: string length %d outside [%d, %d]", path, n, a.minLen, a.maxLen)
		}
		return nil
	case aNumber, aInteger:
		num, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("at %q: not a number", path)
		}
		if a.kind == aNumber && a.lo == nil && a.hi == nil {
			return nil // the decoder checked the syntax
		}
		r, ok := ratOf(num)
		if !ok {
			return fmt.Errorf("at %q: number %s out of the supported range", path, num)
		}
		if a.kind == aInteger && !r.IsInt() {
			return fmt.Errorf("at %q: %s is not an integer", path, num)
		}
		if !inBounds(a, r) {
			return fmt.Errorf("at %q: %s is out of bounds", path, num)
		}
		return nil
	case aLiteral:
		for _, x := range a.vals {
			if equalJSON(x, v) {
				return nil
			}
		}
		return fmt.Errorf("at %q: value not among the allowed values", path)
	}
	return fmt.Errorf("at %q: bad schema node", path)
}
