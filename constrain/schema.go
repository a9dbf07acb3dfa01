package constrain

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// Option changes how a schema is interpreted.
type Option func(*options)

type options struct {
	strict bool
	// maxBytes overrides maxSchemaBytes (tests only; 0: the default).
	maxBytes int
}

// Strict follows OpenAI's structured-output strict mode: an object schema
// without additionalProperties allows no keys beyond its properties.
func Strict(on bool) Option { return func(o *options) { o.strict = on } }

// maxProps bounds the properties of one object schema: the matcher keeps the
// set of properties already written in a fixed-size bit set so that copying a
// state never allocates.
const maxProps = 128

// maxSchemaDepth bounds schema nesting so a hostile schema cannot exhaust the
// stack of the compiler.
const maxSchemaDepth = 200

// Limits on what a client-supplied schema may cost. Every compile step is
// linear in the schema given memoization, so these bound the time and memory
// of one compile to a few milliseconds and megabytes; schemas beyond them are
// refused with ErrSchemaTooComplex (a client error) rather than tying up the
// server.
const (
	maxSchemaBytes  = 256 << 10 // bytes of schema text
	maxNodes        = 10000     // compiled sub-schemas (after $ref interning)
	maxAtoms        = 10000     // compiled typed alternatives
	maxUnionWidth   = 256       // members of one anyOf/oneOf
	maxEnumWidth    = 4096      // values of one enum
	maxRefDepth     = 64        // nested $ref resolutions on the compile path
	maxAlternatives = 128       // typed alternatives of one flattened union
	maxEnumWork     = 1 << 20   // validation steps spent checking enum values
)

// ErrSchemaTooComplex is wrapped by the errors of a schema that exceeds one of
// the compile limits (size, node count, union width, $ref depth, ...).
var ErrSchemaTooComplex = errors.New("schema too large or complex")

type atomKind uint8

const (
	aObject atomKind = iota + 1
	aArray
	aString
	aNumber
	aInteger
	aLiteral // enum, const, boolean, null
)

// node is one schema: a union of atoms (anyOf, type arrays), possibly through
// references. flat is filled after compilation.
type node struct {
	id    int
	group int // index of the flattening group (nodes with the same flat)
	atoms []*atom
	subs  []*node // anyOf members and $ref targets
	flat  []*atom // atoms of the whole union, sat ones only after analysis
	sat   bool
}

type prop struct {
	name     string
	n        *node
	required bool
}

type atom struct {
	id   int
	kind atomKind
	sat  bool

	// object
	props   []prop
	keys    *trie // canonical encoded names; term = property index
	reqMask pset
	// satMaskCache holds the properties whose schema can be satisfied.
	satMaskCache pset
	addl         *node // nil: no additional properties
	minProps     int
	maxProps     int // -1: unbounded

	// array
	prefix   []*node
	items    *node // nil: no items beyond prefix
	minItems int
	maxItems int // -1

	// string
	minLen int
	maxLen int         // -1
	pat    *strPattern // pattern and format, nil: none

	// number / integer
	lo, hi     *big.Rat // nil: unbounded
	loEx, hiEx bool

	// literal
	lit  *trie
	vals []any // decoded (json.Number for numbers)
}

// pset is a set of property indices.
type pset [2]uint64

func (s pset) has(i int) bool  { return s[i>>6]&(1<<(uint(i)&63)) != 0 }
func (s *pset) add(i int)      { s[i>>6] |= 1 << (uint(i) & 63) }
func (s pset) and(t pset) pset { return pset{s[0] & t[0], s[1] & t[1]} }
func (s pset) andNot(t pset) pset {
	return pset{s[0] &^ t[0], s[1] &^ t[1]}
}
func (s pset) empty() bool { return s[0] == 0 && s[1] == 0 }
func (s pset) count() int  { return popcount(s[0]) + popcount(s[1]) }

func popcount(x uint64) int {
	n := 0
	for x != 0 {
		x &= x - 1
		n++
	}
	return n
}

// trie is a byte trie over a set of byte strings.
type trie struct {
	nodes []tnode
}

type tnode struct {
	edges []tedge
	term  int  // index of the string ending here, -1 if none
	mask  pset // for key tries: properties in this subtree
	esc   bool // the path ends inside an escape sequence (key tries)
	last  byte // last byte of the path (for literal tries: is it a number?)
}

type tedge struct {
	b    byte
	next int32
}

func newTrie() *trie { return &trie{nodes: []tnode{{term: -1}}} }

func (t *trie) insert(s []byte, idx int) {
	cur := 0
	if idx < maxProps {
		t.nodes[0].mask.add(idx)
	}
	esc := 0 // bytes of an escape sequence still to come
	for _, b := range s {
		switch {
		case esc > 0:
			esc--
			if b == 'u' && esc == 0 {
				esc = 4
			}
		case b == '\\':
			esc = 1
		}
		nx := t.child(cur, b)
		if nx < 0 {
			t.nodes = append(t.nodes, tnode{term: -1, last: b, esc: esc > 0})
			nx = len(t.nodes) - 1
			t.nodes[cur].edges = append(t.nodes[cur].edges, tedge{b, int32(nx)})
		}
		cur = nx
		if idx < maxProps {
			t.nodes[cur].mask.add(idx)
		}
	}
	if t.nodes[cur].term < 0 {
		t.nodes[cur].term = idx
	}
}

func (t *trie) child(cur int, b byte) int {
	for _, e := range t.nodes[cur].edges {
		if e.b == b {
			return int(e.next)
		}
	}
	return -1
}

// Compiled is a compiled schema. It is immutable, so one compile can back any
// number of constraints (the choices of one request) concurrently.
type Compiled struct {
	root  *node
	nodes int // compiled nodes, for tests and diagnostics
	atoms int
	// pats are the distinct patterns the output may meet, whose class
	// tries an Index prepares when it makes a constraint.
	pats []*strPattern
}

type compiler struct {
	ctx       context.Context
	ops       int // work since the last context check
	doc       any
	opt       options
	memo      map[string]*node
	resolving map[string]bool // pointers whose $ref chain is being followed
	nodes     []*node
	ptrs      []string // JSON pointer of each node, for error messages
	atoms     []*atom
	depth     int
	refDepth  int

	pendingLits []pendingLit
}

// tick counts one unit of compile work and checks the context now and then,
// so a server can abandon a compile whose client has gone.
func (c *compiler) tick() error {
	c.ops++
	if c.ops&1023 != 0 || c.ctx == nil {
		return nil
	}
	if err := c.ctx.Err(); err != nil {
		return fmt.Errorf("compile abandoned: %w", err)
	}
	return nil
}

var annotations = map[string]bool{
	"title": true, "description": true, "examples": true, "default": true,
	"$schema": true, "$id": true, "$comment": true, "$defs": true, "definitions": true,
	"format": true, "readOnly": true, "writeOnly": true, "deprecated": true,
	"contentEncoding": true, "contentMediaType": true, "$anchor": true, "strict": true,
}

var unsupported = []string{
	"not", "if", "then", "else", "patternProperties", "dependentRequired",
	"dependentSchemas", "dependencies", "propertyNames", "unevaluatedProperties",
	"unevaluatedItems", "contains", "minContains", "maxContains", "uniqueItems",
	"multipleOf", "$dynamicRef", "$recursiveRef",
}

// CompileSchema checks that schema is a JSON Schema of the supported subset
// and can be satisfied, so the server can answer 400 before generating.
func CompileSchema(schema []byte, opts ...Option) error {
	_, err := CompileSchemaContext(context.Background(), schema, opts...)
	return err
}

// CompileSchemaContext compiles schema for use with (*Index).New. It gives up
// with an error wrapping ctx.Err() once ctx is done; errors wrapping
// ErrSchemaTooComplex mean the schema exceeds the compile limits. Every other
// error is also the client's (an unsupported or unsatisfiable schema).
func CompileSchemaContext(ctx context.Context, schema []byte, opts ...Option) (*Compiled, error) {
	return compileSchema(ctx, schema, opts)
}

func compileSchema(ctx context.Context, schema []byte, opts []Option) (*Compiled, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	limit := maxSchemaBytes
	if o.maxBytes > 0 {
		limit = o.maxBytes
	}
	if len(schema) > limit {
		return nil, fmt.Errorf("schema: %w: %d bytes, more than %d", ErrSchemaTooComplex, len(schema), limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("schema: compile abandoned: %w", err)
	}
	doc, err := decodeJSON(schema)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	c := &compiler{ctx: ctx, doc: doc, opt: o, memo: map[string]*node{}, resolving: map[string]bool{}}
	root, err := c.compile(doc, "#")
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if err := c.finish(); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if !root.sat {
		return nil, errors.New("schema: no JSON value satisfies the schema")
	}
	return &Compiled{root: root, nodes: len(c.nodes), atoms: len(c.atoms), pats: reachablePatterns(root)}, nil
}

// decodeJSON decodes one JSON value with numbers kept as json.Number,
// rejecting duplicate object keys and trailing data. The syntax is checked
// by json.Valid first, so the hand-written decoder below (several times
// faster than json.Decoder's Token, which matters for the compile budget of
// a large schema) only walks well-formed input.
func decodeJSON(b []byte) (any, error) {
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v) // for a precise message
		if err == nil {
			err = errors.New("malformed")
		}
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	d := jsonDecoder{b: b}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i != len(b) {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

type jsonDecoder struct {
	b []byte
	i int
}

func (d *jsonDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value() (any, error) {
	d.space()
	switch c := d.b[d.i]; {
	case c == '{':
		d.i++
		m := map[string]any{}
		d.space()
		if d.b[d.i] == '}' {
			d.i++
			return m, nil
		}
		for {
			d.space()
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("duplicate object key %q", k)
			}
			d.space()
			d.i++ // ':'
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			m[k] = v
			d.space()
			d.i++ // ',' or '}'
			if d.b[d.i-1] == '}' {
				return m, nil
			}
		}
	case c == '[':
		d.i++
		a := []any{}
		d.space()
		if d.b[d.i] == ']' {
			d.i++
			return a, nil
		}
		for {
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			d.space()
			d.i++ // ',' or ']'
			if d.b[d.i-1] == ']' {
				return a, nil
			}
		}
	case c == '"':
		return d.str()
	case c == 't':
		d.i += 4
		return true, nil
	case c == 'f':
		d.i += 5
		return false, nil
	case c == 'n':
		d.i += 4
		return nil, nil
	default:
		start := d.i
		for d.i < len(d.b) && strings.IndexByte("+-.0123456789eE", d.b[d.i]) >= 0 {
			d.i++
		}
		return json.Number(d.b[start:d.i]), nil
	}
}

// str decodes the (valid) string at d.i; plain ASCII strings, by far the
// most common, are sliced directly.
func (d *jsonDecoder) str() (string, error) {
	start := d.i
	d.i++
	plain := true
	for {
		c := d.b[d.i]
		if c == '"' {
			break
		}
		if c == '\\' {
			plain = false
			d.i++
		} else if c >= 0x80 {
			plain = false
		}
		d.i++
	}
	d.i++
	if plain {
		return string(d.b[start+1 : d.i-1]), nil
	}
	var s string
	if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
		return "", fmt.Errorf("invalid JSON: %w", err)
	}
	return s, nil
}

func (c *compiler) newNode(ptr string) *node {
	n := &node{id: len(c.nodes)}
	c.nodes = append(c.nodes, n)
	c.ptrs = append(c.ptrs, ptr)
	return n
}

func (c *compiler) newAtom(k atomKind) *atom {
	a := &atom{id: len(c.atoms), kind: k, maxProps: -1, maxItems: -1, maxLen: -1}
	c.atoms = append(c.atoms, a)
	return a
}

// resolve follows a local JSON pointer ("#", "#/$defs/x", any path).
func (c *compiler) resolve(ref string) (any, error) {
	if ref == "#" {
		return c.doc, nil
	}
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("$ref %q: only local references (#/...) are supported", ref)
	}
	cur := c.doc
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			nx, ok := v[part]
			if !ok {
				return nil, fmt.Errorf("$ref %q: not found", ref)
			}
			cur = nx
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return nil, fmt.Errorf("$ref %q: not found", ref)
			}
			cur = v[i]
		default:
			return nil, fmt.Errorf("$ref %q: not found", ref)
		}
	}
	return cur, nil
}

// compile compiles the schema v found at JSON pointer ptr. References are
// memoized by pointer, which is what makes recursive schemas finite, and a
// schema that is only a reference (a $ref, a one-member allOf) is the node
// of its target rather than a node of its own: a union of references then
// points straight at the shared targets, which keeps the graph, and the
// flattening of unions, linear in the schema.
func (c *compiler) compile(v any, ptr string) (*node, error) {
	if s, ok := v.(map[string]any); ok {
		if k, ok := refsKey(s); ok {
			ptr = k
		}
	}
	if n, ok := c.memo[ptr]; ok {
		return n, nil
	}
	if err := c.tick(); err != nil {
		return nil, err
	}
	if len(c.nodes) >= maxNodes {
		return nil, fmt.Errorf("%w: more than %d sub-schemas", ErrSchemaTooComplex, maxNodes)
	}
	if len(c.atoms) >= maxAtoms {
		return nil, fmt.Errorf("%w: more than %d typed alternatives", ErrSchemaTooComplex, maxAtoms)
	}
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > maxSchemaDepth {
		return nil, errors.New("schema nested too deeply")
	}
	if s, ok := v.(map[string]any); ok {
		target, tptr, isRef, ok, err := c.indirection(s, ptr)
		if err != nil {
			return nil, err
		}
		if ok {
			if c.resolving[ptr] {
				// A reference cycle without any schema on it: infinite
				// recursion, which matches no value.
				n := c.newNode(ptr)
				c.memo[ptr] = n
				return n, nil
			}
			if isRef {
				c.refDepth++
				defer func() { c.refDepth-- }()
				if c.refDepth > maxRefDepth {
					return nil, fmt.Errorf("at %s: %w: $ref nested more than %d deep", ptr, ErrSchemaTooComplex, maxRefDepth)
				}
			}
			c.resolving[ptr] = true
			n, err := c.compile(target, tptr)
			delete(c.resolving, ptr)
			if err != nil {
				return nil, err
			}
			c.memo[ptr] = n
			return n, nil
		}
	}
	n := c.newNode(ptr)
	c.memo[ptr] = n
	if err := c.fill(n, v, ptr); err != nil {
		return nil, err
	}
	return n, nil
}

// indirection reports whether s is only a reference to another schema: a
// $ref string or a one-member allOf (pydantic's way of attaching a
// description to a $ref), with nothing but annotations beside it. It returns
// the target and its pointer (the memo key). Malformed cases are left to
// fillObject, which reports them.
func (c *compiler) indirection(s map[string]any, ptr string) (target any, tptr string, isRef, ok bool, err error) {
	if ref, has := s["$ref"]; has {
		r, isStr := ref.(string)
		if !isStr || !onlyAnnotations(s, "$ref") {
			return nil, "", false, false, nil
		}
		if _, done := c.memo[r]; !done {
			if target, err = c.resolve(r); err != nil {
				return nil, "", false, false, fmt.Errorf("at %s: %w", ptr, err)
			}
		}
		return target, r, true, true, nil
	}
	if a, has := s["allOf"].([]any); has && len(a) == 1 && onlyAnnotations(s, "allOf") {
		return a[0], ptr + "/allOf/0", false, true, nil
	}
	return nil, "", false, false, nil
}

func (c *compiler) fill(n *node, v any, ptr string) error {
	switch s := v.(type) {
	case bool:
		if s {
			n.subs = append(n.subs, c.anyNode())
		}
		return nil
	case map[string]any:
		return c.fillObject(n, s, ptr)
	default:
		return fmt.Errorf("at %s: a schema must be an object or a boolean", ptr)
	}
}

// anyNode is the schema true: any JSON value.
func (c *compiler) anyNode() *node {
	if n, ok := c.memo["<any>"]; ok {
		return n
	}
	n := c.newNode("<any>")
	c.memo["<any>"] = n
	obj := c.newAtom(aObject)
	obj.keys = newTrie()
	obj.addl = n
	arr := c.newAtom(aArray)
	arr.items = n
	str := c.newAtom(aString)
	num := c.newAtom(aNumber)
	lit := c.newAtom(aLiteral)
	c.setLiterals(lit, []any{true, false, nil})
	n.atoms = []*atom{obj, arr, str, num, lit}
	return n
}

var allTypes = []string{"object", "array", "string", "number", "integer", "boolean", "null"}

func (c *compiler) fillObject(n *node, s map[string]any, ptr string) error {
	// Pure references (a $ref string, a one-member allOf) were taken by
	// compile; what reaches here is malformed or combined with keywords.
	if _, ok := s["allOf"]; ok {
		merged, err := c.mergeAllOf(s, ptr)
		if err != nil {
			return err
		}
		return c.fill(n, merged, ptr+"/allOf*")
	}
	for _, k := range unsupported {
		if _, ok := s[k]; ok {
			return fmt.Errorf("at %s: unsupported keyword %s", ptr, k)
		}
	}
	if ref, ok := s["$ref"]; ok {
		if _, ok := ref.(string); !ok {
			return fmt.Errorf("at %s: $ref must be a string", ptr)
		}
		return fmt.Errorf("at %s: unsupported keyword $ref with sibling keywords", ptr)
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		alts, ok := s[kw]
		if !ok {
			continue
		}
		if !onlyAnnotations(s, kw) {
			return fmt.Errorf("at %s: unsupported keyword %s combined with sibling keywords", ptr, kw)
		}
		a, ok := alts.([]any)
		if !ok || len(a) == 0 {
			return fmt.Errorf("at %s: %s must be a non-empty array", ptr, kw)
		}
		if len(a) > maxUnionWidth {
			return fmt.Errorf("at %s: %w: %s of %d members, more than %d", ptr, ErrSchemaTooComplex, kw, len(a), maxUnionWidth)
		}
		for i, sub := range a {
			sn, err := c.compile(sub, fmt.Sprintf("%s/%s/%d", ptr, kw, i))
			if err != nil {
				return err
			}
			n.subs = append(n.subs, sn)
		}
		return nil
	}

	types, err := c.types(s, ptr)
	if err != nil {
		return err
	}
	var lits []any
	_, hasEnum := s["enum"]
	_, hasConst := s["const"]
	if hasEnum || hasConst {
		if hasConst {
			lits = []any{s["const"]}
		}
		if hasEnum {
			e, ok := s["enum"].([]any)
			if !ok {
				return fmt.Errorf("at %s: enum must be an array", ptr)
			}
			if len(e) > maxEnumWidth {
				return fmt.Errorf("at %s: %w: enum of %d values, more than %d", ptr, ErrSchemaTooComplex, len(e), maxEnumWidth)
			}
			if hasConst {
				lits = intersectValues(lits, e)
			} else {
				lits = e
			}
		}
	}
	if !hasEnum && !hasConst {
		for _, t := range types {
			a, err := c.typed(t, s, ptr)
			if err != nil {
				return err
			}
			n.atoms = append(n.atoms, a)
		}
		return nil
	}
	base := c.newNode(ptr)
	for _, t := range types {
		a, err := c.typed(t, s, ptr)
		if err != nil {
			return err
		}
		base.atoms = append(base.atoms, a)
	}
	// enum/const: the values that also satisfy the other keywords, checked
	// once the whole graph is compiled.
	lit := c.newAtom(aLiteral)
	lit.vals = lits
	c.pendingLits = append(c.pendingLits, pendingLit{lit, base})
	n.atoms = append(n.atoms, lit)
	return nil
}

type pendingLit struct {
	a    *atom
	base *node
}

func onlyAnnotations(s map[string]any, except string) bool {
	for k := range s {
		if k != except && !annotations[k] {
			if strings.HasPrefix(k, "x-") {
				continue
			}
			return false
		}
	}
	return true
}

// types returns the types the schema allows: the type keyword, or, when it
// is absent, the types implied by type-specific keywords (a schema with only
// "properties" is meant to be an object), or every type.
func (c *compiler) types(s map[string]any, ptr string) ([]string, error) {
	var out []string
	if t, ok := s["type"]; ok {
		switch tv := t.(type) {
		case string:
			out = []string{tv}
		case []any:
			for _, x := range tv {
				str, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf("at %s: type must be a string or an array of strings", ptr)
				}
				out = append(out, str)
			}
		default:
			return nil, fmt.Errorf("at %s: type must be a string or an array of strings", ptr)
		}
		for _, x := range out {
			ok := false
			for _, y := range allTypes {
				ok = ok || x == y
			}
			if !ok {
				return nil, fmt.Errorf("at %s: unknown type %q", ptr, x)
			}
		}
	} else {
		has := func(keys ...string) bool {
			for _, k := range keys {
				if _, ok := s[k]; ok {
					return true
				}
			}
			return false
		}
		if has("properties", "required", "additionalProperties", "minProperties", "maxProperties") {
			out = append(out, "object")
		}
		if has("items", "prefixItems", "minItems", "maxItems", "additionalItems") {
			out = append(out, "array")
		}
		if has("minLength", "maxLength", "pattern") {
			out = append(out, "string")
		}
		if has("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") {
			out = append(out, "number")
		}
		if out == nil {
			out = allTypes
		}
	}
	if nb, ok := s["nullable"].(bool); ok && nb {
		out = append(out, "null")
	}
	// integer is contained in number.
	hasNum := false
	for _, x := range out {
		hasNum = hasNum || x == "number"
	}
	var dedup []string
	seen := map[string]bool{}
	for _, x := range out {
		if seen[x] || (x == "integer" && hasNum) {
			continue
		}
		seen[x] = true
		dedup = append(dedup, x)
	}
	return dedup, nil
}

func nonNegInt(s map[string]any, key, ptr string, def int) (int, error) {
	v, ok := s[key]
	if !ok {
		return def, nil
	}
	num, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("at %s: %s must be a number", ptr, key)
	}
	r, ok := new(big.Rat).SetString(num.String())
	if !ok || r.Sign() < 0 || !r.IsInt() {
		return 0, fmt.Errorf("at %s: %s must be a non-negative integer", ptr, key)
	}
	if !r.Num().IsInt64() || r.Num().Int64() > 1<<30 {
		return 1 << 30, nil
	}
	return int(r.Num().Int64()), nil
}

func (c *compiler) typed(t string, s map[string]any, ptr string) (*atom, error) {
	switch t {
	case "object":
		a := c.newAtom(aObject)
		a.keys = newTrie()
		var req []string
		if r, ok := s["required"]; ok {
			ra, ok := r.([]any)
			if !ok {
				return nil, fmt.Errorf("at %s: required must be an array of strings", ptr)
			}
			for _, x := range ra {
				str, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf("at %s: required must be an array of strings", ptr)
				}
				req = append(req, str)
			}
		}
		idx := map[string]int{}
		if p, ok := s["properties"]; ok {
			pm, ok := p.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("at %s: properties must be an object", ptr)
			}
			if len(pm) > maxProps {
				return nil, fmt.Errorf("at %s: more than %d properties are not supported", ptr, maxProps)
			}
			names := make([]string, 0, len(pm))
			for k := range pm {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				sub, err := c.compile(pm[k], ptr+"/properties/"+escapePtr(k))
				if err != nil {
					return nil, err
				}
				idx[k] = len(a.props)
				a.props = append(a.props, prop{name: k, n: sub})
			}
		}
		addlAllowed := !c.opt.strict
		a.addl = nil
		if ap, ok := s["additionalProperties"]; ok {
			switch apv := ap.(type) {
			case bool:
				addlAllowed = apv
			default:
				sub, err := c.compile(ap, ptr+"/additionalProperties")
				if err != nil {
					return nil, err
				}
				a.addl = sub
				addlAllowed = true
			}
		}
		if addlAllowed && a.addl == nil {
			a.addl = c.anyNode()
		}
		for _, r := range req {
			i, ok := idx[r]
			if !ok {
				// A required key that is not a declared property must
				// come through additionalProperties.
				sub := a.addl
				if sub == nil {
					sub = c.newNode(ptr) // matches nothing
				}
				i = len(a.props)
				idx[r] = i
				a.props = append(a.props, prop{name: r, n: sub})
			}
			a.props[i].required = true
		}
		if len(a.props) > maxProps {
			return nil, fmt.Errorf("at %s: more than %d properties are not supported", ptr, maxProps)
		}
		for i, p := range a.props {
			a.keys.insert(encodeString(p.name, false), i)
			if p.required {
				a.reqMask.add(i)
			}
		}
		var err error
		if a.minProps, err = nonNegInt(s, "minProperties", ptr, 0); err != nil {
			return nil, err
		}
		if a.maxProps, err = nonNegInt(s, "maxProperties", ptr, -1); err != nil {
			return nil, err
		}
		return a, nil
	case "array":
		a := c.newAtom(aArray)
		items, hasItems := s["items"]
		if pi, ok := s["prefixItems"]; ok {
			pa, ok := pi.([]any)
			if !ok {
				return nil, fmt.Errorf("at %s: prefixItems must be an array", ptr)
			}
			for i, x := range pa {
				sub, err := c.compile(x, fmt.Sprintf("%s/prefixItems/%d", ptr, i))
				if err != nil {
					return nil, err
				}
				a.prefix = append(a.prefix, sub)
			}
		} else if ia, ok := items.([]any); ok {
			// Draft 4-7 tuple form: items is the prefix, additionalItems the rest.
			for i, x := range ia {
				sub, err := c.compile(x, fmt.Sprintf("%s/items/%d", ptr, i))
				if err != nil {
					return nil, err
				}
				a.prefix = append(a.prefix, sub)
			}
			hasItems = false
			if ai, ok := s["additionalItems"]; ok {
				items, hasItems = ai, true
			} else {
				items, hasItems = true, true
			}
		}
		if hasItems {
			sub, err := c.compile(items, ptr+"/items")
			if err != nil {
				return nil, err
			}
			a.items = sub
		} else {
			a.items = c.anyNode()
		}
		var err error
		if a.minItems, err = nonNegInt(s, "minItems", ptr, 0); err != nil {
			return nil, err
		}
		if a.maxItems, err = nonNegInt(s, "maxItems", ptr, -1); err != nil {
			return nil, err
		}
		return a, nil
	case "string":
		a := c.newAtom(aString)
		var err error
		if a.minLen, err = nonNegInt(s, "minLength", ptr, 0); err != nil {
			return nil, err
		}
		if a.maxLen, err = nonNegInt(s, "maxLength", ptr, -1); err != nil {
			return nil, err
		}
		if err := c.stringPattern(a, s, ptr); err != nil {
			return nil, err
		}
		return a, nil
	case "number", "integer":
		k := aNumber
		if t == "integer" {
			k = aInteger
		}
		a := c.newAtom(k)
		if err := c.bounds(a, s, ptr); err != nil {
			return nil, err
		}
		return a, nil
	case "boolean":
		a := c.newAtom(aLiteral)
		c.setLiterals(a, []any{true, false})
		return a, nil
	default: // null
		a := c.newAtom(aLiteral)
		c.setLiterals(a, []any{nil})
		return a, nil
	}
}

// ratOf converts a JSON number to an exact rational. Exponents beyond ±1000
// and numbers longer than 400 characters are refused: big.Rat would
// materialize 10^exp, and the bounded-number checks loop over the digits,
// which a hostile schema could use to exhaust memory or time.
func ratOf(v any) (*big.Rat, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	s := n.String()
	if len(s) > 400 {
		return nil, false
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e > 1000 || e < -1000 {
			return nil, false
		}
	}
	return new(big.Rat).SetString(s)
}

func (c *compiler) bounds(a *atom, s map[string]any, ptr string) error {
	get := func(key string) (*big.Rat, error) {
		v, ok := s[key]
		if !ok {
			return nil, nil
		}
		if b, ok := v.(bool); ok && (key == "exclusiveMinimum" || key == "exclusiveMaximum") {
			// Draft 4 boolean form: modifies minimum/maximum.
			if b {
				if key == "exclusiveMinimum" {
					a.loEx = true
				} else {
					a.hiEx = true
				}
			}
			return nil, nil
		}
		r, ok := ratOf(v)
		if !ok {
			return nil, fmt.Errorf("at %s: %s must be a number", ptr, key)
		}
		return r, nil
	}
	lo, err := get("minimum")
	if err != nil {
		return err
	}
	hi, err := get("maximum")
	if err != nil {
		return err
	}
	elo, err := get("exclusiveMinimum")
	if err != nil {
		return err
	}
	ehi, err := get("exclusiveMaximum")
	if err != nil {
		return err
	}
	a.lo, a.hi = lo, hi
	if elo != nil && (a.lo == nil || elo.Cmp(a.lo) >= 0) {
		a.lo, a.loEx = elo, true
	}
	if ehi != nil && (a.hi == nil || ehi.Cmp(a.hi) <= 0) {
		a.hi, a.hiEx = ehi, true
	}
	if a.lo == nil {
		a.loEx = false
	}
	if a.hi == nil {
		a.hiEx = false
	}
	return nil
}

func escapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// encodeString is the canonical JSON encoding of s: only '"', '\\' and
// control characters are escaped. quoted adds the quotes.
func encodeString(s string, quoted bool) []byte {
	var b []byte
	if quoted {
		b = append(b, '"')
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"':
			b = append(b, '\\', '"')
		case ch == '\\':
			b = append(b, '\\', '\\')
		case ch == '\n':
			b = append(b, '\\', 'n')
		case ch == '\r':
			b = append(b, '\\', 'r')
		case ch == '\t':
			b = append(b, '\\', 't')
		case ch < 0x20:
			b = append(b, fmt.Sprintf("\\u%04x", ch)...)
		default:
			b = append(b, ch)
		}
	}
	if quoted {
		b = append(b, '"')
	}
	return b
}

// canonical is the one form in which the matcher writes an enum/const value.
func canonical(v any) []byte {
	switch x := v.(type) {
	case nil:
		return []byte("null")
	case bool:
		if x {
			return []byte("true")
		}
		return []byte("false")
	case json.Number:
		return []byte(x.String())
	case string:
		return encodeString(x, true)
	case []any:
		b := []byte{'['}
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, canonical(e)...)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b := []byte{'{'}
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, encodeString(k, true)...)
			b = append(b, ':')
			b = append(b, canonical(x[k])...)
		}
		return append(b, '}')
	}
	return nil
}

func (c *compiler) setLiterals(a *atom, vals []any) {
	a.vals = vals
	a.lit = newTrie()
	for i, v := range vals {
		a.lit.insert(canonical(v), i)
	}
}

func intersectValues(a, b []any) []any {
	var out []any
	for _, x := range a {
		for _, y := range b {
			if equalJSON(x, y) {
				out = append(out, x)
				break
			}
		}
	}
	if out == nil {
		out = []any{}
	}
	return out
}

// equalJSON is JSON equality: numbers by value, objects regardless of order.
func equalJSON(x, y any) bool {
	switch a := x.(type) {
	case nil:
		return y == nil
	case bool:
		b, ok := y.(bool)
		return ok && a == b
	case string:
		b, ok := y.(string)
		return ok && a == b
	case json.Number:
		b, ok := y.(json.Number)
		if !ok {
			return false
		}
		ra, ok1 := ratOf(a)
		rb, ok2 := ratOf(b)
		return ok1 && ok2 && ra.Cmp(rb) == 0
	case []any:
		b, ok := y.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalJSON(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := y.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			w, ok := b[k]
			if !ok || !equalJSON(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// group is a set of nodes with the same flattened union (interned by
// content, so a union of many references to equivalent unions merges each
// distinct union once).
type group struct {
	flat  []*atom
	nodes []*node
	sat   bool
}

// finish flattens unions, resolves enum/const literal sets and computes which
// nodes can produce a value (least fixpoint, so an infinitely recursive
// required structure is correctly found unsatisfiable). Each step is linear in
// the graph (times maxAlternatives for the unions).
func (c *compiler) finish() error {
	groups, err := c.flatten()
	if err != nil {
		return err
	}
	// Inner enums were compiled (and queued) before outer ones.
	v := validator{c: c, limit: maxEnumWork}
	for _, p := range c.pendingLits {
		var keep []any
		for _, val := range p.a.vals {
			err := v.node(p.base, val, "")
			if v.err != nil {
				return v.err
			}
			if err == nil {
				keep = append(keep, val)
			}
		}
		c.setLiterals(p.a, keep)
	}
	if err := c.satisfy(groups); err != nil {
		return err
	}
	for _, g := range groups {
		var keep []*atom
		for _, a := range g.flat {
			if a.sat {
				keep = append(keep, a)
			}
		}
		for _, n := range g.nodes {
			n.flat = keep
		}
	}
	for _, a := range c.atoms {
		a.satMaskCache = a.satMask()
	}
	return nil
}

// flatten computes every node's union of atoms (its own and those of every
// node reachable through subs) once per strongly connected component, in
// Tarjan order so that each component merges the finished unions of its
// successors.
func (c *compiler) flatten() ([]*group, error) {
	f := &flattener{
		c:      c,
		index:  make([]int32, len(c.nodes)),
		low:    make([]int32, len(c.nodes)),
		on:     make([]bool, len(c.nodes)),
		stamp:  make([]uint32, len(c.atoms)),
		intern: map[string]int{},
	}
	for _, n := range c.nodes {
		if f.index[n.id] == 0 {
			if err := f.visit(n); err != nil {
				return nil, err
			}
		}
	}
	return f.groups, nil
}

type flattener struct {
	c          *compiler
	index, low []int32 // Tarjan numbering, 0: unvisited
	on         []bool  // on the Tarjan stack
	stack      []*node
	next       int32
	stamp      []uint32 // per atom: gen when already in the union being built
	gstamp     []uint32 // per group: gen when already merged
	gen        uint32
	groups     []*group
	intern     map[string]int
	key        []byte
}

func (f *flattener) visit(v *node) error {
	if err := f.c.tick(); err != nil {
		return err
	}
	f.next++
	f.index[v.id], f.low[v.id] = f.next, f.next
	f.stack = append(f.stack, v)
	f.on[v.id] = true
	for _, w := range v.subs {
		switch {
		case f.index[w.id] == 0:
			if err := f.visit(w); err != nil {
				return err
			}
			f.low[v.id] = min(f.low[v.id], f.low[w.id])
		case f.on[w.id]:
			f.low[v.id] = min(f.low[v.id], f.index[w.id])
		}
	}
	if f.low[v.id] != f.index[v.id] {
		return nil
	}
	i := len(f.stack) - 1
	for f.stack[i] != v {
		i--
	}
	comp := f.stack[i:]
	f.stack = f.stack[:i]
	for _, m := range comp {
		f.on[m.id] = false
		m.group = -1 // in the component being merged
	}
	f.gen++
	var flat []*atom
	add := func(a *atom) error {
		if f.stamp[a.id] == f.gen {
			return nil
		}
		f.stamp[a.id] = f.gen
		if len(flat) == maxAlternatives {
			return fmt.Errorf("at %s: %w: a union of more than %d alternatives", f.c.ptrs[v.id], ErrSchemaTooComplex, maxAlternatives)
		}
		flat = append(flat, a)
		return nil
	}
	for _, m := range comp {
		for _, a := range m.atoms {
			if err := add(a); err != nil {
				return err
			}
		}
	}
	for _, m := range comp {
		for _, w := range m.subs {
			g := w.group
			if g < 0 || f.gstamp[g] == f.gen {
				continue
			}
			f.gstamp[g] = f.gen
			for _, a := range f.groups[g].flat {
				if err := add(a); err != nil {
					return err
				}
			}
		}
	}
	f.key = f.key[:0]
	for _, a := range flat {
		f.key = binary.LittleEndian.AppendUint32(f.key, uint32(a.id))
	}
	g, ok := f.intern[string(f.key)]
	if !ok {
		g = len(f.groups)
		f.intern[string(f.key)] = g
		f.groups = append(f.groups, &group{flat: flat})
		f.gstamp = append(f.gstamp, 0)
	}
	for _, m := range comp {
		m.group = g
		m.flat = f.groups[g].flat
	}
	f.groups[g].nodes = append(f.groups[g].nodes, comp...)
	return nil
}

// satisfy computes the least fixpoint of satisfiability with a work list:
// an atom becomes satisfiable once its required children are, and then so
// does every node whose union holds it.
func (c *compiler) satisfy(groups []*group) error {
	byAtom := make([][]int, len(c.atoms)) // groups holding each atom
	for gi, g := range groups {
		for _, a := range g.flat {
			byAtom[a.id] = append(byAtom[a.id], gi)
		}
	}
	parents := make([][]*atom, len(c.nodes)) // atoms with the node as a child
	for _, a := range c.atoms {
		for _, p := range a.props {
			parents[p.n.id] = append(parents[p.n.id], a)
		}
		for _, n := range a.prefix {
			parents[n.id] = append(parents[n.id], a)
		}
		for _, n := range []*node{a.addl, a.items} {
			if n != nil {
				parents[n.id] = append(parents[n.id], a)
			}
		}
	}
	var work []*atom
	for _, a := range c.atoms {
		if atomSat(a) {
			a.sat = true
			work = append(work, a)
		}
	}
	for len(work) > 0 {
		if err := c.tick(); err != nil {
			return err
		}
		a := work[len(work)-1]
		work = work[:len(work)-1]
		for _, gi := range byAtom[a.id] {
			g := groups[gi]
			if g.sat {
				continue
			}
			g.sat = true
			for _, n := range g.nodes {
				n.sat = true
				for _, b := range parents[n.id] {
					if !b.sat && atomSat(b) {
						b.sat = true
						work = append(work, b)
					}
				}
			}
		}
	}
	return nil
}

func atomSat(a *atom) bool {
	switch a.kind {
	case aObject:
		avail := 0
		for _, p := range a.props {
			if p.n.sat {
				avail++
			} else if p.required {
				return false
			}
		}
		req := a.reqMask.count()
		if a.maxProps >= 0 && (req > a.maxProps || a.minProps > a.maxProps) {
			return false
		}
		if a.addl == nil || !a.addl.sat {
			return avail >= a.minProps
		}
		return true
	case aArray:
		if a.maxItems >= 0 && a.minItems > a.maxItems {
			return false
		}
		// Items beyond the prefix share one schema: checking one is enough.
		for i := 0; i < min(a.minItems, len(a.prefix)+1); i++ {
			n := a.itemNode(i)
			if n == nil || !n.sat {
				return false
			}
		}
		return true
	case aString:
		if a.pat != nil {
			return a.pat.t.good(0, 0)
		}
		return a.maxLen < 0 || a.minLen <= a.maxLen
	case aNumber, aInteger:
		return numViable(a, "")
	case aLiteral:
		return len(a.vals) > 0
	}
	return false
}

func (a *atom) itemNode(i int) *node {
	if i < len(a.prefix) {
		return a.prefix[i]
	}
	return a.items
}

// patternList is the pattern keyword of a schema merged from allOf members
// that each had one: the string must match all of them. It never comes from
// JSON decoding.
type patternList []string

// stringPattern sets the pattern constraint of string atom a from the
// schema's pattern (a string, or a patternList after an allOf merge) and
// known format, intersected, with the length limits folded in.
func (c *compiler) stringPattern(a *atom, s map[string]any, ptr string) error {
	var d *dfa
	add := func(x *dfa) error {
		if d == nil {
			d = x
			return nil
		}
		var err error
		d, err = intersect(d, x)
		return err
	}
	var pats []string
	switch p := s["pattern"].(type) {
	case nil:
	case string:
		pats = []string{p}
	case patternList:
		pats = p
	default:
		return fmt.Errorf("at %s: pattern must be a string", ptr)
	}
	for _, p := range pats {
		x, err := compilePattern(p)
		if err != nil {
			return fmt.Errorf("at %s: %w", ptr, err)
		}
		if err := add(x); err != nil {
			return fmt.Errorf("at %s: %w", ptr, err)
		}
	}
	src := strings.Join(pats, "\x00") + "\x01"
	if f, ok := s["format"].(string); ok {
		if x, known := formatDFAs()[f]; known {
			src += f
			if err := add(x); err != nil {
				return fmt.Errorf("at %s: format %s: %w", ptr, f, err)
			}
		}
	}
	if d == nil {
		return nil
	}
	t, err := newLenTable(d, a.minLen, a.maxLen)
	if err != nil {
		return fmt.Errorf("at %s: %w", ptr, err)
	}
	free := t
	limited := a.minLen > 0 || a.maxLen >= 0
	if limited {
		if free, err = newLenTable(d, 0, -1); err != nil {
			return fmt.Errorf("at %s: %w", ptr, err)
		}
	}
	a.pat = &strPattern{src: src, d: d, t: t, free: free, limited: limited}
	a.pat.cls, a.pat.rep = byteClasses(d)
	return nil
}
