package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// jsonKind is the JSON type of a raw value, read from its first byte. The
// raw values handled here come out of an already validated document, so the
// first byte is enough.
type jsonKind uint8

const (
	kindInvalid jsonKind = iota
	kindNull
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func kindOf(raw []byte) jsonKind {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case 'n':
			return kindNull
		case 't', 'f':
			return kindBool
		case '"':
			return kindString
		case '[':
			return kindArray
		case '{':
			return kindObject
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			return kindNumber
		default:
			return kindInvalid
		}
	}
	return kindInvalid
}

// describe names the kind the way OpenAI's messages do ("but got a string
// instead").
func (k jsonKind) describe() string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "a boolean"
	case kindNumber:
		return "a number"
	case kindString:
		return "a string"
	case kindArray:
		return "an array"
	case kindObject:
		return "an object"
	}
	return "an invalid value"
}

func typeError(path, want string, raw []byte) *Error {
	return NewInvalidRequest(path, CodeInvalidType,
		fmt.Sprintf("Invalid type for '%s': expected %s, but got %s instead.", path, want, kindOf(raw).describe()))
}

func missingError(path string) *Error {
	return NewInvalidRequest(path, CodeMissingParameter, fmt.Sprintf("Missing required parameter: '%s'.", path))
}

func valueError(path, format string, args ...any) *Error {
	return NewInvalidRequest(path, CodeInvalidValue, fmt.Sprintf("Invalid value for '%s': ", path)+fmt.Sprintf(format, args...))
}

func enumError(path, got string, allowed []string) *Error {
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = "'" + a + "'"
	}
	return NewInvalidRequest(path, CodeInvalidValue,
		fmt.Sprintf("Invalid value for '%s': '%s'. Supported values are: %s.", path, got, strings.Join(quoted, ", ")))
}

func emptyArrayError(path string) *Error {
	return NewInvalidRequest(path, CodeEmptyArray,
		fmt.Sprintf("Invalid '%s': empty array. Expected an array with minimum length 1, but got an empty array instead.", path))
}

func arrayTooLongError(path string, max, got int) *Error {
	return NewInvalidRequest(path, CodeArrayTooLong,
		fmt.Sprintf("Invalid '%s': array too long. Expected an array with maximum length %d, but got an array with length %d instead.", path, max, got))
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// decodeBody checks that body is one JSON object and splits it into fields.
func decodeBody(body []byte) (object, *Error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return object{}, NewInvalidRequest("", CodeInvalidJSON, "The request body is empty. The API expects a JSON object.")
	}
	var probe json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		detail := err.Error()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			detail = fmt.Sprintf("%s (at byte offset %d)", se.Error(), se.Offset)
		}
		return object{}, NewInvalidRequest("", CodeInvalidJSON,
			"We could not parse the JSON body of your request: "+detail+". The API expects a JSON object.")
	}
	if k := kindOf(body); k != kindObject {
		return object{}, NewInvalidRequest("", CodeInvalidJSON,
			fmt.Sprintf("The request body must be a JSON object, but got %s instead.", k.describe()))
	}
	return asObject(body, "")
}

// object is a decoded JSON object with the path it was found at, so that
// errors about its fields can name them in full.
type object struct {
	path   string
	fields map[string]json.RawMessage
}

func asObject(raw []byte, path string) (object, *Error) {
	if kindOf(raw) != kindObject {
		return object{}, typeError(path, "an object", raw)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return object{}, NewInvalidRequest(path, CodeInvalidJSON, fmt.Sprintf("Invalid '%s': %v.", path, err))
	}
	return object{path: path, fields: m}, nil
}

func (o object) at(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// value returns the raw value of key, or nil when it is absent or null: the
// SDKs send null for parameters the caller did not set.
func (o object) value(key string) json.RawMessage {
	raw, ok := o.fields[key]
	if !ok || kindOf(raw) == kindNull {
		return nil
	}
	return raw
}

func asArray(raw []byte, path, want string) ([]json.RawMessage, *Error) {
	if kindOf(raw) != kindArray {
		return nil, typeError(path, want, raw)
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, NewInvalidRequest(path, CodeInvalidJSON, fmt.Sprintf("Invalid '%s': %v.", path, err))
	}
	return a, nil
}

func elem(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func asString(raw []byte, path string) (string, *Error) {
	if kindOf(raw) != kindString {
		return "", typeError(path, "a string", raw)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", NewInvalidRequest(path, CodeInvalidJSON, fmt.Sprintf("Invalid '%s': %v.", path, err))
	}
	return s, nil
}

func asBool(raw []byte, path string) (bool, *Error) {
	switch string(bytes.TrimSpace(raw)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, typeError(path, "a boolean", raw)
}

func asFloat(raw []byte, path string) (float64, *Error) {
	if kindOf(raw) != kindNumber {
		return 0, typeError(path, "a number", raw)
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, valueError(path, "number %s is out of range.", bytes.TrimSpace(raw))
	}
	return f, nil
}

// asInt accepts integral numbers written as decimals too ("2.0"), because
// Python clients serialise floats that way and pydantic accepts them.
func asInt(raw []byte, path string) (int64, *Error) {
	if kindOf(raw) != kindNumber {
		return 0, typeError(path, "an integer", raw)
	}
	s := string(bytes.TrimSpace(raw))
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err == nil && f != math.Trunc(f) {
		return 0, NewInvalidRequest(path, CodeInvalidType,
			fmt.Sprintf("Invalid type for '%s': expected an integer, but got a decimal instead.", path))
	}
	if err != nil || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, valueError(path, "integer %s is out of range.", s)
	}
	return int64(f), nil
}

func (o object) requiredString(key string) (string, *Error) {
	raw := o.value(key)
	if raw == nil {
		return "", missingError(o.at(key))
	}
	return asString(raw, o.at(key))
}

func (o object) optString(key string) (string, *Error) {
	raw := o.value(key)
	if raw == nil {
		return "", nil
	}
	return asString(raw, o.at(key))
}

func (o object) optStringPtr(key string) (*string, *Error) {
	raw := o.value(key)
	if raw == nil {
		return nil, nil
	}
	s, e := asString(raw, o.at(key))
	if e != nil {
		return nil, e
	}
	return &s, nil
}

func (o object) optBool(key string) (*bool, *Error) {
	raw := o.value(key)
	if raw == nil {
		return nil, nil
	}
	b, e := asBool(raw, o.at(key))
	if e != nil {
		return nil, e
	}
	return &b, nil
}

func (o object) flag(key string) (bool, *Error) {
	b, e := o.optBool(key)
	return b != nil && *b, e
}

// optFloat decodes an optional number within [min, max].
func (o object) optFloat(key string, min, max float64) (*float64, *Error) {
	raw := o.value(key)
	if raw == nil {
		return nil, nil
	}
	path := o.at(key)
	f, e := asFloat(raw, path)
	if e != nil {
		return nil, e
	}
	if f > max {
		return nil, NewInvalidRequest(path, CodeDecimalAboveMax,
			fmt.Sprintf("Invalid '%s': decimal above maximum value. Expected a value <= %s, but got %s instead.", path, fmtNum(max), fmtNum(f)))
	}
	if f < min {
		return nil, NewInvalidRequest(path, CodeDecimalBelowMin,
			fmt.Sprintf("Invalid '%s': decimal below minimum value. Expected a value >= %s, but got %s instead.", path, fmtNum(min), fmtNum(f)))
	}
	return &f, nil
}

func checkIntRange(path string, v, min, max int64) *Error {
	if v > max {
		return NewInvalidRequest(path, CodeIntegerAboveMax,
			fmt.Sprintf("Invalid '%s': integer above maximum value. Expected a value <= %d, but got %d instead.", path, max, v))
	}
	if v < min {
		return NewInvalidRequest(path, CodeIntegerBelowMin,
			fmt.Sprintf("Invalid '%s': integer below minimum value. Expected a value >= %d, but got %d instead.", path, min, v))
	}
	return nil
}

// optInt decodes an optional integer within [min, max].
func (o object) optInt(key string, min, max int64) (*int, *Error) {
	raw := o.value(key)
	if raw == nil {
		return nil, nil
	}
	path := o.at(key)
	v, e := asInt(raw, path)
	if e != nil {
		return nil, e
	}
	if e := checkIntRange(path, v, min, max); e != nil {
		return nil, e
	}
	n := int(v)
	return &n, nil
}

// optObjectRaw returns the original bytes of an optional object-valued
// field, for JSON schemas whose key order the server must keep.
func (o object) optObjectRaw(key string) (json.RawMessage, *Error) {
	raw := o.value(key)
	if raw == nil {
		return nil, nil
	}
	if kindOf(raw) != kindObject {
		return nil, typeError(o.at(key), "an object", raw)
	}
	return raw, nil
}

// validName reports whether s matches ^[a-zA-Z0-9_-]{1,64}$, the pattern
// OpenAI imposes on function and schema names.
func validName(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func nameError(path string) *Error {
	return NewInvalidRequest(path, CodeInvalidValue,
		fmt.Sprintf("Invalid '%s': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.", path))
}
