package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Member is one key/value pair of an Object.
type Member struct {
	Key   string
	Value any
}

// Object is a JSON object that remembers the order of its members. Chat
// templates print tool schemas with tojson, and Hugging Face prints them in
// the order the client sent them, so a Go map (unordered) is not enough.
type Object []Member

// Get returns the value of the first member named key.
func (o Object) Get(key string) (any, bool) {
	for _, m := range o {
		if m.Key == key {
			return m.Value, true
		}
	}
	return nil, false
}

// DecodeJSON decodes one JSON value into order-preserving values: objects
// become Object, arrays []any, numbers json.Number, strings string, booleans
// bool and null nil. The result can be passed to Render as is.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, fmt.Errorf("template: decode json: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("template: decode json: trailing data after value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := Object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is %T, not a string", kt)
				}
				val, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				obj = append(obj, Member{Key: key, Value: val})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				val, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, val)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		default:
			return nil, fmt.Errorf("unexpected delimiter %q", t)
		}
	default:
		return t, nil
	}
}

// maxSafeInt is the largest integer a float64 holds exactly (2^53).
const maxSafeInt = 1 << 53

// toEngine converts caller values into the representation the engine works
// on: objects become ordered exec.Dict values, arrays []any, every integral
// number an int (the reference renderer treats 18 and 18.0 from JSON alike),
// other numbers float64. Plain Go maps get sorted keys so output is
// deterministic.
func toEngine(v any, depth int) (any, error) {
	if depth > 256 {
		return nil, errors.New("value nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string, bool:
		return x, nil
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return int(i), nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %q: %w", string(x), err)
		}
		return floatToEngine(f), nil
	case float64:
		return floatToEngine(x), nil
	case float32:
		return floatToEngine(float64(x)), nil
	case Object:
		d := exec.Dict{Pairs: make([]*exec.Pair, 0, len(x))}
		for _, m := range x {
			ev, err := toEngine(m.Value, depth+1)
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", m.Key, err)
			}
			d.Pairs = append(d.Pairs, &exec.Pair{Key: exec.AsValue(m.Key), Value: exec.AsValue(ev)})
		}
		return d, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			ev, err := toEngine(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("index %d: %w", i, err)
			}
			out[i] = ev
		}
		return out, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		obj := make(Object, 0, len(keys))
		for _, k := range keys {
			obj = append(obj, Member{Key: k, Value: x[k]})
		}
		return toEngine(obj, depth)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return float64(u), nil
		}
		return int(u), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			ev, err := toEngine(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, fmt.Errorf("index %d: %w", i, err)
			}
			out[i] = ev
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map with %s keys is not supported", rv.Type().Key())
		}
		m := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			m[iter.Key().String()] = iter.Value().Interface()
		}
		return toEngine(m, depth)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return toEngine(rv.Elem().Interface(), depth)
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

func floatToEngine(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) <= maxSafeInt {
		return int(f)
	}
	return f
}
