package gguf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ValueType is a GGUF metadata value type, numbered as in the file format.
type ValueType uint32

// The GGUF metadata value types.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{
	TypeUint8:   "uint8",
	TypeInt8:    "int8",
	TypeUint16:  "uint16",
	TypeInt16:   "int16",
	TypeUint32:  "uint32",
	TypeInt32:   "int32",
	TypeFloat32: "float32",
	TypeBool:    "bool",
	TypeString:  "string",
	TypeArray:   "array",
	TypeUint64:  "uint64",
	TypeInt64:   "int64",
	TypeFloat64: "float64",
}

// String returns the lower-case name of the type ("uint32", "string", ...),
// or "type(N)" for an id the format does not define.
func (t ValueType) String() string {
	if t.valid() {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

func (t ValueType) valid() bool { return t <= TypeFloat64 }

// size is the encoded size of a fixed-width scalar, 0 for string and array.
func (t ValueType) size() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// minSize is the smallest number of bytes one element of type t can take in
// a file. It bounds array counts by the bytes left before anything is
// allocated.
func (t ValueType) minSize() int {
	switch t {
	case TypeString:
		return 8 // length only
	case TypeArray:
		return 4 + 8 // element type and count
	}
	return t.size()
}

// Value is one metadata value. Scalars are held as the Go type of the same
// width (uint8, int8, ..., float64, bool, string). An array is held as a typed
// Go slice ([]uint8, []int32, []float32, []string, ...; Elem says the element
// type); an array of arrays as []Value.
//
// Slices returned by the accessors may share memory with the Value; callers
// must treat them as read-only.
type Value struct {
	Type ValueType
	Elem ValueType // element type when Type is TypeArray
	V    any
}

// describe names the value's type for error messages: "string",
// "array of float32".
func (v Value) describe() string {
	if v.Type == TypeArray {
		return "array of " + v.Elem.String()
	}
	return v.Type.String()
}

// Int returns any integer scalar as an int64. It fails for non-integers and
// for uint64 values above math.MaxInt64, which cannot be represented.
func (v Value) Int() (int64, bool) {
	n, ok := v.int()
	if !ok {
		return 0, false
	}
	return n, true
}

func (v Value) int() (int64, bool) {
	switch x := v.V.(type) {
	case uint8:
		return int64(x), v.Type == TypeUint8
	case int8:
		return int64(x), v.Type == TypeInt8
	case uint16:
		return int64(x), v.Type == TypeUint16
	case int16:
		return int64(x), v.Type == TypeInt16
	case uint32:
		return int64(x), v.Type == TypeUint32
	case int32:
		return int64(x), v.Type == TypeInt32
	case int64:
		return x, v.Type == TypeInt64
	case uint64:
		if x > math.MaxInt64 || v.Type != TypeUint64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// Float returns a float scalar, or an integer scalar converted to float64,
// because files are not consistent about which keys hold floats (e.g. a rope
// scaling factor written as an integer).
func (v Value) Float() (float64, bool) {
	switch x := v.V.(type) {
	case float32:
		if v.Type == TypeFloat32 {
			return float64(x), true
		}
		return 0, false
	case float64:
		if v.Type == TypeFloat64 {
			return x, true
		}
		return 0, false
	case uint64:
		if v.Type == TypeUint64 {
			return float64(x), true
		}
		return 0, false
	}
	if i, ok := v.Int(); ok {
		return float64(i), true
	}
	return 0, false
}

// Str returns a string scalar.
func (v Value) Str() (string, bool) {
	s, ok := v.V.(string)
	return s, ok && v.Type == TypeString
}

// Bool returns a bool scalar.
func (v Value) Bool() (bool, bool) {
	b, ok := v.V.(bool)
	return b, ok && v.Type == TypeBool
}

// Strings returns an array of strings. The slice is the Value's own; it is
// not copied because vocabularies hold hundreds of thousands of entries.
func (v Value) Strings() ([]string, bool) {
	s, ok := v.V.([]string)
	return s, ok && v.Type == TypeArray && v.Elem == TypeString
}

// Float32s returns an array of float32 as is, or any other numeric array
// converted to a new []float32.
func (v Value) Float32s() ([]float32, bool) {
	if v.Type != TypeArray {
		return nil, false
	}
	switch x := v.V.(type) {
	case []float32:
		return x, true
	case []float64:
		out := make([]float32, len(x))
		for i, f := range x {
			out[i] = float32(f)
		}
		return out, true
	}
	if ints, ok := v.Ints(); ok {
		out := make([]float32, len(ints))
		for i, n := range ints {
			out[i] = float32(n)
		}
		return out, true
	}
	if u, ok := v.V.([]uint64); ok { // values above MaxInt64 that Ints rejects
		out := make([]float32, len(u))
		for i, n := range u {
			out[i] = float32(n)
		}
		return out, true
	}
	return nil, false
}

// Ints returns an array of any integer type as a new []int64. It fails if a
// uint64 element does not fit.
func (v Value) Ints() ([]int64, bool) {
	if v.Type != TypeArray {
		return nil, false
	}
	switch x := v.V.(type) {
	case []uint8:
		return widen(x), true
	case []int8:
		return widen(x), true
	case []uint16:
		return widen(x), true
	case []int16:
		return widen(x), true
	case []uint32:
		return widen(x), true
	case []int32:
		return widen(x), true
	case []int64:
		out := make([]int64, len(x))
		copy(out, x)
		return out, true
	case []uint64:
		out := make([]int64, len(x))
		for i, n := range x {
			if n > math.MaxInt64 {
				return nil, false
			}
			out[i] = int64(n)
		}
		return out, true
	}
	return nil, false
}

func widen[T uint8 | int8 | uint16 | int16 | uint32 | int32](x []T) []int64 {
	out := make([]int64, len(x))
	for i, n := range x {
		out[i] = int64(n)
	}
	return out
}

// Len returns the number of elements of an array, 0 for scalars.
func (v Value) Len() int {
	if v.Type != TypeArray {
		return 0
	}
	switch x := v.V.(type) {
	case []uint8:
		return len(x)
	case []int8:
		return len(x)
	case []uint16:
		return len(x)
	case []int16:
		return len(x)
	case []uint32:
		return len(x)
	case []int32:
		return len(x)
	case []float32:
		return len(x)
	case []bool:
		return len(x)
	case []string:
		return len(x)
	case []uint64:
		return len(x)
	case []int64:
		return len(x)
	case []float64:
		return len(x)
	case []Value:
		return len(x)
	}
	return 0
}

// Display limits for String: metadata dumps must stay readable even for a
// 150k-token vocabulary or a 4 KB chat template.
const (
	maxShownElems  = 8
	maxShownString = 60
)

// String returns a short human form: scalars as themselves, strings quoted
// and cut after 60 bytes, short arrays in full and long ones as
// "[512 strings]".
func (v Value) String() string {
	if v.Type != TypeArray {
		if s, ok := v.V.(string); ok {
			return quoteShort(s)
		}
		return fmt.Sprint(v.V)
	}
	n := v.Len()
	if n > maxShownElems || v.Elem == TypeArray {
		return fmt.Sprintf("[%d %ss]", n, v.Elem)
	}
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(elemString(v.V, i))
	}
	b.WriteByte(']')
	return b.String()
}

func elemString(arr any, i int) string {
	switch x := arr.(type) {
	case []string:
		return quoteShort(x[i])
	case []uint8:
		return fmt.Sprint(x[i])
	case []int8:
		return fmt.Sprint(x[i])
	case []uint16:
		return fmt.Sprint(x[i])
	case []int16:
		return fmt.Sprint(x[i])
	case []uint32:
		return fmt.Sprint(x[i])
	case []int32:
		return fmt.Sprint(x[i])
	case []float32:
		return fmt.Sprint(x[i])
	case []bool:
		return fmt.Sprint(x[i])
	case []uint64:
		return fmt.Sprint(x[i])
	case []int64:
		return fmt.Sprint(x[i])
	case []float64:
		return fmt.Sprint(x[i])
	}
	return "?"
}

func quoteShort(s string) string {
	if len(s) <= maxShownString {
		return strconv.Quote(s)
	}
	cut := maxShownString
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + fmt.Sprintf("...(%d bytes)", len(s))
}

// check reports whether V holds the Go type that Type and Elem call for, so
// that the writer never emits a value it cannot encode faithfully.
func (v Value) check() error {
	if !v.Type.valid() {
		return fmt.Errorf("invalid value type %d", uint32(v.Type))
	}
	want := goTypeOK(v.Type, v.Elem, v.V)
	if !want {
		return fmt.Errorf("value of type %s holds Go %T", v.describe(), v.V)
	}
	if v.Type == TypeArray && v.Elem == TypeArray {
		for i, inner := range v.V.([]Value) {
			if inner.Type != TypeArray {
				return fmt.Errorf("element %d of an array of arrays is %s", i, inner.describe())
			}
			if err := inner.check(); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
	}
	return nil
}

func goTypeOK(t, elem ValueType, v any) bool {
	if t == TypeArray {
		if !elem.valid() {
			return false
		}
		switch v.(type) {
		case []uint8:
			return elem == TypeUint8
		case []int8:
			return elem == TypeInt8
		case []uint16:
			return elem == TypeUint16
		case []int16:
			return elem == TypeInt16
		case []uint32:
			return elem == TypeUint32
		case []int32:
			return elem == TypeInt32
		case []float32:
			return elem == TypeFloat32
		case []bool:
			return elem == TypeBool
		case []string:
			return elem == TypeString
		case []uint64:
			return elem == TypeUint64
		case []int64:
			return elem == TypeInt64
		case []float64:
			return elem == TypeFloat64
		case []Value:
			return elem == TypeArray
		}
		return false
	}
	switch v.(type) {
	case uint8:
		return t == TypeUint8
	case int8:
		return t == TypeInt8
	case uint16:
		return t == TypeUint16
	case int16:
		return t == TypeInt16
	case uint32:
		return t == TypeUint32
	case int32:
		return t == TypeInt32
	case float32:
		return t == TypeFloat32
	case bool:
		return t == TypeBool
	case string:
		return t == TypeString
	case uint64:
		return t == TypeUint64
	case int64:
		return t == TypeInt64
	case float64:
		return t == TypeFloat64
	}
	return false
}

// ValueOf wraps a Go scalar or slice in a Value of the matching GGUF type.
// Go int and uint are refused: they have no fixed width, and a loader may
// insist on the exact type a key was written with.
func ValueOf(x any) (Value, error) {
	switch v := x.(type) {
	case Value:
		if err := v.check(); err != nil {
			return Value{}, err
		}
		return v, nil
	case uint8:
		return Value{Type: TypeUint8, V: v}, nil
	case int8:
		return Value{Type: TypeInt8, V: v}, nil
	case uint16:
		return Value{Type: TypeUint16, V: v}, nil
	case int16:
		return Value{Type: TypeInt16, V: v}, nil
	case uint32:
		return Value{Type: TypeUint32, V: v}, nil
	case int32:
		return Value{Type: TypeInt32, V: v}, nil
	case float32:
		return Value{Type: TypeFloat32, V: v}, nil
	case bool:
		return Value{Type: TypeBool, V: v}, nil
	case string:
		return Value{Type: TypeString, V: v}, nil
	case uint64:
		return Value{Type: TypeUint64, V: v}, nil
	case int64:
		return Value{Type: TypeInt64, V: v}, nil
	case float64:
		return Value{Type: TypeFloat64, V: v}, nil
	case []uint8:
		return Value{Type: TypeArray, Elem: TypeUint8, V: v}, nil
	case []int8:
		return Value{Type: TypeArray, Elem: TypeInt8, V: v}, nil
	case []uint16:
		return Value{Type: TypeArray, Elem: TypeUint16, V: v}, nil
	case []int16:
		return Value{Type: TypeArray, Elem: TypeInt16, V: v}, nil
	case []uint32:
		return Value{Type: TypeArray, Elem: TypeUint32, V: v}, nil
	case []int32:
		return Value{Type: TypeArray, Elem: TypeInt32, V: v}, nil
	case []float32:
		return Value{Type: TypeArray, Elem: TypeFloat32, V: v}, nil
	case []bool:
		return Value{Type: TypeArray, Elem: TypeBool, V: v}, nil
	case []string:
		return Value{Type: TypeArray, Elem: TypeString, V: v}, nil
	case []uint64:
		return Value{Type: TypeArray, Elem: TypeUint64, V: v}, nil
	case []int64:
		return Value{Type: TypeArray, Elem: TypeInt64, V: v}, nil
	case []float64:
		return Value{Type: TypeArray, Elem: TypeFloat64, V: v}, nil
	case []Value:
		val := Value{Type: TypeArray, Elem: TypeArray, V: v}
		if err := val.check(); err != nil {
			return Value{}, err
		}
		return val, nil
	case int, uint:
		return Value{}, fmt.Errorf("type %T has no fixed GGUF width: use int32, uint32, int64 or uint64", x)
	}
	return Value{}, fmt.Errorf("cannot store Go %T as a GGUF value", x)
}
