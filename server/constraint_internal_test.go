package server

import (
	"context"
	"testing"

	"github.com/kiln-llm/kiln/api"
	"github.com/kiln-llm/kiln/constrain"
)

// byteVocab is a vocabulary of the 256 single bytes plus an end token, so
// that any JSON can be spelled.
type byteVocab struct{}

func (byteVocab) Len() int { return 257 }
func (byteVocab) TokenBytes(id int) []byte {
	if id == 256 {
		return nil
	}
	return []byte{byte(id)}
}
func (byteVocab) IsEOG(id int) bool { return id == 256 }

// TestConstraintForCompilesOnceUnderContext: the schema is compiled when
// the request is prepared, under the request's context (a cancelled request
// never gets its constraints), and the per-choice factory only creates
// independent states on that compile: advancing one choice leaves another
// fresh.
func TestConstraintForCompilesOnceUnderContext(t *testing.T) {
	m := &Model{Constraints: constrain.NewIndex(byteVocab{})}
	schema := `{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}`
	rf := &api.ResponseFormat{Type: api.FormatJSONSchema, JSONSchema: &api.JSONSchemaFormat{Name: "x", Schema: []byte(schema)}}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if f, e := constraintFor(ctx, m, rf, toolsNone, nil); e == nil || f != nil {
		t.Fatalf("cancelled request: factory %v, error %v; want the compile abandoned", f != nil, e)
	}

	f, e := constraintFor(context.Background(), m, rf, toolsNone, nil)
	if e != nil {
		t.Fatal(e)
	}
	a, b := f(), f()
	if a == nil || b == nil || a == b {
		t.Fatalf("choices share or lack a constraint: %v %v", a, b)
	}
	for _, c := range []byte(`{"a":12}`) {
		if err := a.Accept(int(c)); err != nil {
			t.Fatalf("accept %q: %v", c, err)
		}
	}
	if !a.Done() || b.Done() {
		t.Errorf("choice states are not independent: a done %v, b done %v", a.Done(), b.Done())
	}
	if err := b.Accept('x'); err == nil {
		t.Error("a fresh choice accepted 'x' as the start of an object")
	}

	bad := &api.ResponseFormat{Type: api.FormatJSONSchema, JSONSchema: &api.JSONSchemaFormat{Name: "x", Schema: []byte(`{"type":"object","patternProperties":{"a":{}}}`)}}
	if _, e := constraintFor(context.Background(), m, bad, toolsNone, nil); e == nil || e.Param == nil || *e.Param != "response_format.json_schema.schema" {
		t.Errorf("unsupported schema: %v", e)
	}
}
