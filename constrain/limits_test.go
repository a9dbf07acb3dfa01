package constrain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// adversarialSchema builds layers of anyOf definitions, each width wide,
// every member a $ref to one of the width definitions of the next layer.
func adversarialSchema(layers, width int) []byte {
	var b strings.Builder
	b.WriteString(`{"$ref":"#/$defs/L0_0","$defs":{`)
	for l := 0; l < layers; l++ {
		for i := 0; i < width; i++ {
			if l > 0 || i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"L%d_%d":`, l, i)
			if l == layers-1 {
				fmt.Fprintf(&b, `{"type":"string","maxLength":%d}`, i+1)
				continue
			}
			b.WriteString(`{"anyOf":[`)
			for j := 0; j < width; j++ {
				if j > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"$ref":"#/$defs/L%d_%d"}`, l+1, j)
			}
			b.WriteString(`]}`)
		}
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

// TestCompileAdversarial: layered unions of references used to cost nodes x
// reachable nodes (minutes for a few MB); with references interned the graph
// has one node per definition, and too large a schema is refused up front.
func TestCompileAdversarial(t *testing.T) {
	lift := func(o *options) { o.maxBytes = 8 << 20 }
	cases := []struct {
		layers, width int
		opts          []Option
		tooComplex    bool
	}{
		{10, 10, nil, false},
		{15, 15, nil, false},
		{20, 20, nil, false},
		{60, 45, nil, true}, // 3 MB: over the size limit
		{60, 45, []Option{lift}, false},
		{70, 3, nil, true}, // $ref depth
	}
	for _, c := range cases {
		schema := adversarialSchema(c.layers, c.width)
		comp, err := CompileSchemaContext(context.Background(), schema, c.opts...)
		if c.tooComplex {
			if !errors.Is(err, ErrSchemaTooComplex) {
				t.Errorf("%dx%d (%d bytes): error %v, want ErrSchemaTooComplex", c.layers, c.width, len(schema), err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%dx%d: %v", c.layers, c.width, err)
			continue
		}
		if comp.nodes != (c.layers-1)*c.width+1 || comp.atoms != c.width || len(comp.root.flat) != c.width {
			t.Errorf("%dx%d: %d nodes, %d atoms, %d root alternatives; want %d, %d, %d",
				c.layers, c.width, comp.nodes, comp.atoms, len(comp.root.flat), (c.layers-1)*c.width+1, c.width, c.width)
		}
	}
}

func TestCompileLimits(t *testing.T) {
	list := func(n int, item string) string {
		return strings.TrimSuffix(strings.Repeat(item+",", n), ",")
	}
	var numbered strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&numbered, `{"type":"string","minLength":%d},`, i)
	}
	// Every level a union of 10 objects whose "a" is the next level: the
	// enum value 9 levels deep fails only at the bottom, 10^9 checks.
	var deep strings.Builder
	deep.WriteString(`{"$defs":{`)
	for l := 0; l < 10; l++ {
		fmt.Fprintf(&deep, `"l%d":{"anyOf":[`, l)
		for i := 0; i < 10; i++ {
			if i > 0 {
				deep.WriteByte(',')
			}
			if l == 9 {
				fmt.Fprintf(&deep, `{"type":"string","minLength":%d}`, i)
			} else {
				fmt.Fprintf(&deep, `{"type":"object","properties":{"a":{"$ref":"#/$defs/l%d"}},"minProperties":%d}`, l+1, i%2)
			}
		}
		deep.WriteString(`]},`)
	}
	deep.WriteString(`"x":{}},"type":"object","properties":{"v":{"$ref":"#/$defs/l0"}},"enum":[{"v":` +
		strings.Repeat(`{"a":`, 9) + `0` + strings.Repeat(`}`, 9) + `}]}`)
	cases := []struct {
		name, schema string
	}{
		{"bytes", `{"description":"` + strings.Repeat("x", maxSchemaBytes) + `"}`},
		{"nodes", `{"type":"array","prefixItems":[` + list(maxNodes+10, "true") + `]}`},
		{"atoms", `{"type":"array","prefixItems":[` + list(maxAtoms/5+10, "{}") + `]}`},
		{"anyOf width", `{"anyOf":[` + list(maxUnionWidth+1, `{"type":"null"}`) + `]}`},
		{"enum width", `{"enum":[` + list(maxEnumWidth+1, "1") + `]}`},
		{"alternatives", `{"anyOf":[` + strings.TrimSuffix(numbered.String(), ",") + `]}`},
		{"enum work", deep.String()},
	}
	for _, c := range cases {
		err := CompileSchema([]byte(c.schema))
		if !errors.Is(err, ErrSchemaTooComplex) {
			t.Errorf("%s (%d bytes): error %v, want ErrSchemaTooComplex", c.name, len(c.schema), err)
		}
	}
}

func TestCompileCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := CompileSchemaContext(ctx, adversarialSchema(10, 10))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	ix := NewIndex(byteVocab{})
	if _, err := ix.SchemaContext(ctx, []byte(`{}`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("SchemaContext: error %v, want context.Canceled", err)
	}
}

// TestRefCycles: a reference cycle with no schema on it matches nothing,
// which prunes the branch or, at the root, makes the schema unsatisfiable.
func TestRefCycles(t *testing.T) {
	ix := NewIndex(byteVocab{})
	c, err := ix.Schema([]byte(`{"$defs":{"a":{"$ref":"#/$defs/a"}},"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if v := run(t, c, "null"); v != complete {
		t.Errorf("null: %v, want complete", v)
	}
	err = CompileSchema([]byte(`{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"allOf":[{"$ref":"#/$defs/a"}]}}}`))
	if err == nil || !strings.Contains(err.Error(), "no JSON value") {
		t.Errorf("two-step cycle: error %v, want unsatisfiable", err)
	}
}

// TestStringUnion drives a union of string alternatives with disjoint
// lengths: Allow takes its fast path over all of them at once and must still
// agree with Accept on which lengths can close.
func TestStringUnion(t *testing.T) {
	ix := NewIndex(byteVocab{})
	schema := `{"anyOf":[{"type":"string","minLength":2,"maxLength":2},{"type":"string","minLength":5,"maxLength":6},{"type":"null"}]}`
	cases := []struct {
		doc  string
		want verdict
	}{
		{`"ab"`, complete}, {`"abc`, prefix}, {`"abc"`, reject}, {`"abcde"`, complete},
		{`"abcdef"`, complete}, {`"abcdefg`, reject}, {`"a"`, reject}, {`"\u00e9\u00e9"`, complete},
		{"\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"", complete},
	}
	comp, err := CompileSchemaContext(context.Background(), []byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if got := run(t, ix.New(comp), c.doc); got != c.want {
			t.Errorf("%s: %v, want %v", c.doc, got, c.want)
		}
	}
	// The adversarial shape's strings (maxLength 1..45) behave likewise.
	comp, err = CompileSchemaContext(context.Background(), adversarialSchema(3, 45))
	if err != nil {
		t.Fatal(err)
	}
	long := `"` + strings.Repeat("x", 45)
	for _, c := range []struct {
		doc  string
		want verdict
	}{{long + `"`, complete}, {long + `x`, reject}, {`""`, complete}} {
		if got := run(t, ix.New(comp), c.doc); got != c.want {
			t.Errorf("%.10s...: %v, want %v", c.doc, got, c.want)
		}
	}
}

func BenchmarkCompileAdversarial(b *testing.B) {
	for _, s := range [][2]int{{10, 10}, {15, 15}, {20, 20}, {60, 45}} {
		schema := adversarialSchema(s[0], s[1])
		b.Run(fmt.Sprintf("%dx%d_%dKB", s[0], s[1], len(schema)>>10), func(b *testing.B) {
			for b.Loop() {
				err := CompileSchema(schema)
				if err != nil && !errors.Is(err, ErrSchemaTooComplex) {
					b.Fatal(err)
				}
			}
		})
	}
}
