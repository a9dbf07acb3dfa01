package constrain

import (
	"fmt"
	"sort"
	"strings"
)

// allOf is compiled by merging its members into one schema, keyword by
// keyword, with the exact semantics of the conjunction where the compiler
// can express it: types, enum/const and properties intersect, required
// unions, bounds tighten, patterns (and known formats) all apply, and a
// property is constrained by each member's schema for it (its declared
// schema, else its additionalProperties, else the member's default). A union
// member is distributed over the others. What cannot be merged is an error
// naming allOf.

// refsKey is the memo key of an allOf made only of references, so that a
// recursion through such an allOf (which the merge of two recursive
// definitions produces) compiles to a finite graph.
func refsKey(s map[string]any) (string, bool) {
	members, ok := s["allOf"].([]any)
	if !ok || len(members) < 2 || !onlyAnnotations(s, "allOf") {
		return "", false
	}
	var refs []string
	for _, m := range members {
		mm, ok := m.(map[string]any)
		if !ok {
			return "", false
		}
		r, ok := mm["$ref"].(string)
		if !ok || !onlyAnnotations(mm, "$ref") {
			return "", false
		}
		refs = append(refs, r)
	}
	sort.Strings(refs)
	return "allOf(" + strings.Join(refs, "\x00") + ")", true
}

// mergeAllOf returns the schema equivalent to s, which has an allOf.
func (c *compiler) mergeAllOf(s map[string]any, ptr string) (any, error) {
	members, ok := s["allOf"].([]any)
	if !ok || len(members) == 0 {
		return nil, fmt.Errorf("at %s: allOf must be a non-empty array", ptr)
	}
	if len(members) > maxUnionWidth {
		return nil, fmt.Errorf("at %s: %w: allOf of %d members", ptr, ErrSchemaTooComplex, len(members))
	}
	rest := make(map[string]any, len(s))
	for k, v := range s {
		if k != "allOf" {
			rest[k] = v
		}
	}
	var acc any = rest
	for _, m := range members {
		var err error
		if acc, err = c.merge2(acc, m, ptr, 0); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

// deref follows a schema that is only a $ref.
func (c *compiler) deref(v any, ptr string) (any, error) {
	for i := 0; ; i++ {
		m, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		r, ok := m["$ref"].(string)
		if !ok || !onlyAnnotations(m, "$ref") {
			return v, nil
		}
		if i > maxRefDepth {
			return nil, fmt.Errorf("at %s: allOf: %w: $ref chain longer than %d", ptr, ErrSchemaTooComplex, maxRefDepth)
		}
		var err error
		if v, err = c.resolve(r); err != nil {
			return nil, fmt.Errorf("at %s: allOf: %w", ptr, err)
		}
	}
}

func (c *compiler) merge2(x, y any, ptr string, depth int) (any, error) {
	if err := c.tick(); err != nil {
		return nil, err
	}
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("at %s: allOf nested too deeply", ptr)
	}
	var err error
	if x, err = c.deref(x, ptr); err != nil {
		return nil, err
	}
	if y, err = c.deref(y, ptr); err != nil {
		return nil, err
	}
	for _, v := range []any{x, y} {
		if b, ok := v.(bool); ok && !b {
			return false, nil
		}
	}
	if b, ok := x.(bool); ok && b {
		return y, nil
	}
	if b, ok := y.(bool); ok && b {
		return x, nil
	}
	xm, ok1 := x.(map[string]any)
	ym, ok2 := y.(map[string]any)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("at %s: allOf: a schema must be an object or a boolean", ptr)
	}
	if _, has := xm["allOf"]; has {
		v, err := c.mergeAllOf(xm, ptr)
		if err != nil {
			return nil, err
		}
		return c.merge2(v, ym, ptr, depth+1)
	}
	if _, has := ym["allOf"]; has {
		v, err := c.mergeAllOf(ym, ptr)
		if err != nil {
			return nil, err
		}
		return c.merge2(xm, v, ptr, depth+1)
	}
	for _, pair := range [][2]map[string]any{{xm, ym}, {ym, xm}} {
		for _, kw := range []string{"anyOf", "oneOf"} {
			alts, has := pair[0][kw].([]any)
			if !has {
				continue
			}
			if !onlyAnnotations(pair[0], kw) {
				return nil, fmt.Errorf("at %s: unsupported keyword %s combined with sibling keywords", ptr, kw)
			}
			out := make([]any, 0, len(alts))
			for _, a := range alts {
				m, err := c.merge2(a, pair[1], ptr, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, m)
			}
			return map[string]any{"anyOf": out}, nil
		}
	}
	return c.mergeMaps(xm, ym, ptr, depth)
}

// mergedKeys are the keywords mergeMaps combines; any other keyword must
// agree between the members (or appear in one only).
var mergedKeys = map[string]bool{
	"type": true, "nullable": true, "enum": true, "const": true,
	"properties": true, "required": true, "additionalProperties": true,
	"items": true, "prefixItems": true, "pattern": true, "format": true,
	"minLength": true, "maxLength": true, "minItems": true, "maxItems": true,
	"minProperties": true, "maxProperties": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true,
}

func (c *compiler) mergeMaps(x, y map[string]any, ptr string, depth int) (any, error) {
	out := map[string]any{}
	// Types.
	tx, err := c.types(x, ptr)
	if err != nil {
		return nil, err
	}
	ty, err := c.types(y, ptr)
	if err != nil {
		return nil, err
	}
	var types []any
	for _, a := range tx {
		for _, b := range ty {
			switch {
			case a == b:
				types = append(types, a)
			case a == "integer" && b == "number", a == "number" && b == "integer":
				types = append(types, "integer")
			}
		}
	}
	if len(types) == 0 {
		return false, nil
	}
	out["type"] = types
	// enum and const.
	lits := func(m map[string]any) ([]any, bool, error) {
		var vals []any
		has := false
		if v, ok := m["const"]; ok {
			vals, has = []any{v}, true
		}
		if v, ok := m["enum"]; ok {
			e, ok := v.([]any)
			if !ok {
				return nil, false, fmt.Errorf("at %s: enum must be an array", ptr)
			}
			if has {
				vals = intersectValues(vals, e)
			} else {
				vals, has = e, true
			}
		}
		return vals, has, nil
	}
	lx, hx, err := lits(x)
	if err != nil {
		return nil, err
	}
	ly, hy, err := lits(y)
	if err != nil {
		return nil, err
	}
	switch {
	case hx && hy:
		out["enum"] = intersectValues(lx, ly)
	case hx:
		out["enum"] = lx
	case hy:
		out["enum"] = ly
	}
	// Other keywords: unmerged ones must agree.
	for _, pair := range [][2]map[string]any{{x, y}, {y, x}} {
		for k, v := range pair[0] {
			if mergedKeys[k] || annotations[k] || strings.HasPrefix(k, "x-") {
				continue
			}
			if w, ok := pair[1][k]; ok && !equalJSON(v, w) {
				return nil, fmt.Errorf("at %s: allOf: cannot merge differing %s", ptr, k)
			}
			out[k] = v
		}
	}
	// Bounds.
	for _, k := range []string{"minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum"} {
		if err := mergeBound(out, x, y, k, 1, ptr); err != nil {
			return nil, err
		}
	}
	for _, k := range []string{"maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum"} {
		if err := mergeBound(out, x, y, k, -1, ptr); err != nil {
			return nil, err
		}
	}
	// Patterns and known formats.
	var pats patternList
	for _, m := range []map[string]any{x, y} {
		switch p := m["pattern"].(type) {
		case string:
			pats = append(pats, p)
		case patternList:
			pats = append(pats, p...)
		case nil:
		default:
			return nil, fmt.Errorf("at %s: pattern must be a string", ptr)
		}
		if f, ok := m["format"].(string); ok {
			if fp, known := formatPatterns[f]; known {
				pats = append(pats, fp)
			}
		}
	}
	if len(pats) > 0 {
		out["pattern"] = pats
	}
	// Objects.
	if hasAny(x, y, "properties", "required", "additionalProperties") {
		if err := c.mergeObject(out, x, y, ptr, depth); err != nil {
			return nil, err
		}
	}
	// Arrays.
	if hasAny(x, y, "items", "prefixItems") {
		if err := c.mergeArray(out, x, y, ptr, depth); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func hasAny(x, y map[string]any, keys ...string) bool {
	for _, k := range keys {
		if _, ok := x[k]; ok {
			return true
		}
		if _, ok := y[k]; ok {
			return true
		}
	}
	return false
}

// mergeBound keeps the tighter of two numeric bounds: the larger if sign is
// 1 (lower bounds), the smaller if -1.
func mergeBound(out, x, y map[string]any, k string, sign int, ptr string) error {
	var best any
	for _, m := range []map[string]any{x, y} {
		v, ok := m[k]
		if !ok {
			continue
		}
		if _, isBool := v.(bool); isBool {
			return fmt.Errorf("at %s: allOf: cannot merge boolean %s (draft 4)", ptr, k)
		}
		r, ok := ratOf(v)
		if !ok {
			return fmt.Errorf("at %s: %s must be a number", ptr, k)
		}
		if best == nil {
			best = v
			continue
		}
		b, _ := ratOf(best)
		if r.Cmp(b)*sign > 0 {
			best = v
		}
	}
	if best != nil {
		out[k] = best
	}
	return nil
}

// memberProp is what member m says about property k: its declared schema,
// else its additionalProperties, else the default of the mode.
func (c *compiler) memberProp(m map[string]any, k string) any {
	if p, ok := m["properties"].(map[string]any); ok {
		if v, ok := p[k]; ok {
			return v
		}
	}
	return c.memberAddl(m)
}

func (c *compiler) memberAddl(m map[string]any) any {
	if v, ok := m["additionalProperties"]; ok {
		return v
	}
	// Strict mode closes object schemas only: a member that says nothing
	// about objects leaves their keys alone.
	_, hasProps := m["properties"]
	_, hasReq := m["required"]
	return !c.opt.strict || !(hasProps || hasReq || m["type"] == "object")
}

// conj is the conjunction of two sub-schemas, merged lazily by the compile
// of the allOf it returns (which keeps recursive definitions finite).
func conj(a, b any) any {
	if ab, ok := a.(bool); ok {
		if ab {
			return b
		}
		return false
	}
	if bb, ok := b.(bool); ok {
		if bb {
			return a
		}
		return false
	}
	if equalJSONSchema(a, b) {
		return a
	}
	return map[string]any{"allOf": []any{a, b}}
}

func equalJSONSchema(a, b any) bool {
	am, ok1 := a.(map[string]any)
	bm, ok2 := b.(map[string]any)
	if ok1 && ok2 {
		ra, _ := am["$ref"].(string)
		rb, _ := bm["$ref"].(string)
		if ra != "" && ra == rb && len(am) == 1 && len(bm) == 1 {
			return true
		}
	}
	return false
}

func (c *compiler) mergeObject(out, x, y map[string]any, ptr string, depth int) error {
	names := map[string]bool{}
	for _, m := range []map[string]any{x, y} {
		if p, ok := m["properties"]; ok {
			pm, ok := p.(map[string]any)
			if !ok {
				return fmt.Errorf("at %s: properties must be an object", ptr)
			}
			for k := range pm {
				names[k] = true
			}
		}
	}
	props := make(map[string]any, len(names))
	for k := range names {
		props[k] = conj(c.memberProp(x, k), c.memberProp(y, k))
	}
	out["properties"] = props
	out["additionalProperties"] = conj(c.memberAddl(x), c.memberAddl(y))
	var req []any
	seen := map[string]bool{}
	for _, m := range []map[string]any{x, y} {
		r, ok := m["required"]
		if !ok {
			continue
		}
		ra, ok := r.([]any)
		if !ok {
			return fmt.Errorf("at %s: required must be an array of strings", ptr)
		}
		for _, v := range ra {
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("at %s: required must be an array of strings", ptr)
			}
			if !seen[s] {
				seen[s] = true
				req = append(req, s)
				if _, declared := props[s]; !declared {
					props[s] = conj(c.memberProp(x, s), c.memberProp(y, s))
				}
			}
		}
	}
	if req != nil {
		out["required"] = req
	}
	return nil
}

func (c *compiler) mergeArray(out, x, y map[string]any, ptr string, depth int) error {
	item := func(m map[string]any, i int) (any, error) {
		if p, ok := m["prefixItems"]; ok {
			pa, ok := p.([]any)
			if !ok {
				return nil, fmt.Errorf("at %s: prefixItems must be an array", ptr)
			}
			if i < len(pa) {
				return pa[i], nil
			}
		}
		v, ok := m["items"]
		if !ok {
			return true, nil
		}
		if _, tuple := v.([]any); tuple {
			return nil, fmt.Errorf("at %s: allOf: cannot merge the array form of items; use prefixItems", ptr)
		}
		return v, nil
	}
	n := 0
	for _, m := range []map[string]any{x, y} {
		if p, ok := m["prefixItems"].([]any); ok {
			n = max(n, len(p))
		}
	}
	if n > 0 {
		pre := make([]any, n)
		for i := range pre {
			a, err := item(x, i)
			if err != nil {
				return err
			}
			b, err := item(y, i)
			if err != nil {
				return err
			}
			pre[i] = conj(a, b)
		}
		out["prefixItems"] = pre
	}
	a, err := item(x, n)
	if err != nil {
		return err
	}
	b, err := item(y, n)
	if err != nil {
		return err
	}
	out["items"] = conj(a, b)
	return nil
}
