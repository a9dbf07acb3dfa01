package gguf

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// deepEqual is reflect.DeepEqual; named so table tests read naturally.
func deepEqual(a, b any) bool { return reflect.DeepEqual(a, b) }

func TestValueAccessors(t *testing.T) {
	type want struct {
		i      int64
		iok    bool
		f      float64
		fok    bool
		length int
	}
	cases := []struct {
		v Value
		w want
	}{
		{Value{Type: TypeUint8, V: uint8(200)}, want{200, true, 200, true, 0}},
		{Value{Type: TypeInt8, V: int8(-5)}, want{-5, true, -5, true, 0}},
		{Value{Type: TypeUint16, V: uint16(60000)}, want{60000, true, 60000, true, 0}},
		{Value{Type: TypeInt16, V: int16(-300)}, want{-300, true, -300, true, 0}},
		{Value{Type: TypeUint32, V: uint32(math.MaxUint32)}, want{math.MaxUint32, true, math.MaxUint32, true, 0}},
		{Value{Type: TypeInt32, V: int32(-7)}, want{-7, true, -7, true, 0}},
		{Value{Type: TypeUint64, V: uint64(math.MaxInt64)}, want{math.MaxInt64, true, math.MaxInt64, true, 0}},
		{Value{Type: TypeUint64, V: uint64(math.MaxInt64) + 1}, want{0, false, 9223372036854775808, true, 0}},
		{Value{Type: TypeInt64, V: int64(math.MinInt64)}, want{math.MinInt64, true, math.MinInt64, true, 0}},
		{Value{Type: TypeFloat32, V: float32(0.25)}, want{0, false, 0.25, true, 0}},
		{Value{Type: TypeFloat64, V: 1e-6}, want{0, false, 1e-6, true, 0}},
		{Value{Type: TypeBool, V: true}, want{0, false, 0, false, 0}},
		{Value{Type: TypeString, V: "7"}, want{0, false, 0, false, 0}},
		{Value{Type: TypeArray, Elem: TypeInt32, V: []int32{1, 2}}, want{0, false, 0, false, 2}},
		{Value{Type: TypeArray, Elem: TypeArray, V: []Value{{}, {}, {}}}, want{0, false, 0, false, 3}},
		{Value{}, want{0, false, 0, false, 0}},                              // zero Value holds nothing
		{Value{Type: TypeUint32, V: int32(1)}, want{0, false, 0, false, 0}}, // Type and V disagree
	}
	for _, c := range cases {
		i, iok := c.v.Int()
		f, fok := c.v.Float()
		if i != c.w.i || iok != c.w.iok || f != c.w.f || fok != c.w.fok || c.v.Len() != c.w.length {
			t.Errorf("%#v: Int %d,%v Float %g,%v Len %d; want %+v", c.v, i, iok, f, fok, c.v.Len(), c.w)
		}
	}
}

func TestValueArrays(t *testing.T) {
	u64big := Value{Type: TypeArray, Elem: TypeUint64, V: []uint64{1, math.MaxUint64}}
	cases := []struct {
		name string
		v    Value
		ints []int64
		f32s []float32
		strs []string
	}{
		{"u8", Value{Type: TypeArray, Elem: TypeUint8, V: []uint8{1, 255}}, []int64{1, 255}, []float32{1, 255}, nil},
		{"i16", Value{Type: TypeArray, Elem: TypeInt16, V: []int16{-1}}, []int64{-1}, []float32{-1}, nil},
		{"u32", Value{Type: TypeArray, Elem: TypeUint32, V: []uint32{4e9}}, []int64{4e9}, []float32{4e9}, nil},
		{"i64", Value{Type: TypeArray, Elem: TypeInt64, V: []int64{-9}}, []int64{-9}, []float32{-9}, nil},
		{"u64 big", u64big, nil, []float32{1, 1.8446744e19}, nil},
		{"f64", Value{Type: TypeArray, Elem: TypeFloat64, V: []float64{0.5}}, nil, []float32{0.5}, nil},
		{"f32", Value{Type: TypeArray, Elem: TypeFloat32, V: []float32{2}}, nil, []float32{2}, nil},
		{"str", Value{Type: TypeArray, Elem: TypeString, V: []string{"a", ""}}, nil, nil, []string{"a", ""}},
		{"bool", Value{Type: TypeArray, Elem: TypeBool, V: []bool{true}}, nil, nil, nil},
		{"scalar", Value{Type: TypeInt32, V: int32(1)}, nil, nil, nil},
	}
	for _, c := range cases {
		ints, iok := c.v.Ints()
		f32s, fok := c.v.Float32s()
		strs, sok := c.v.Strings()
		if iok != (c.ints != nil) || !deepEqual(ints, c.ints) {
			t.Errorf("%s: Ints = %v, %v; want %v", c.name, ints, iok, c.ints)
		}
		if fok != (c.f32s != nil) || !deepEqual(f32s, c.f32s) {
			t.Errorf("%s: Float32s = %v, %v; want %v", c.name, f32s, fok, c.f32s)
		}
		if sok != (c.strs != nil) || !deepEqual(strs, c.strs) {
			t.Errorf("%s: Strings = %q, %v; want %q", c.name, strs, sok, c.strs)
		}
	}
	if s, ok := (Value{Type: TypeString, V: "x"}).Str(); !ok || s != "x" {
		t.Errorf("Str = %q, %v", s, ok)
	}
	if b, ok := (Value{Type: TypeBool, V: true}).Bool(); !ok || !b {
		t.Errorf("Bool = %v, %v", b, ok)
	}
	if _, ok := (Value{Type: TypeUint8, V: uint8(1)}).Bool(); ok {
		t.Error("Bool accepted a uint8")
	}
}

func TestValueString(t *testing.T) {
	many := make([]string, 512)
	long := strings.Repeat("é", 40) // 80 bytes
	cases := []struct {
		v    Value
		want string
	}{
		{Value{Type: TypeUint32, V: uint32(5)}, "5"},
		{Value{Type: TypeFloat32, V: float32(1e-5)}, "1e-05"},
		{Value{Type: TypeBool, V: false}, "false"},
		{Value{Type: TypeString, V: "llama"}, `"llama"`},
		{Value{Type: TypeString, V: long}, `"` + strings.Repeat("é", 30) + `"...(80 bytes)`},
		{Value{Type: TypeArray, Elem: TypeString, V: many}, "[512 strings]"},
		{Value{Type: TypeArray, Elem: TypeFloat32, V: make([]float32, 9)}, "[9 float32s]"},
		{Value{Type: TypeArray, Elem: TypeInt32, V: []int32{1, -2, 3}}, "[1 -2 3]"},
		{Value{Type: TypeArray, Elem: TypeString, V: []string{"a", "b c"}}, `["a" "b c"]`},
		{Value{Type: TypeArray, Elem: TypeUint8, V: []uint8{}}, "[]"},
		{Value{Type: TypeArray, Elem: TypeArray, V: []Value{{}}}, "[1 arrays]"},
	}
	for _, c := range cases {
		if got := c.v.String(); got != c.want {
			t.Errorf("String(%v) = %s, want %s", c.v.V, got, c.want)
		}
	}
	if got := ValueType(42).String(); got != "type(42)" {
		t.Errorf("ValueType(42) = %s", got)
	}
}
