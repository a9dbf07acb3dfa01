package template

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// writeJSON serialises v the way transformers' tojson does (json.dumps with
// ensure_ascii=False): ", " and ": " separators without indent, "," and ": "
// with one, object members in their stored order, non-ASCII text verbatim.
// indent <= 0 means a single line.
func writeJSON(sb *strings.Builder, v *exec.Value, indent, depth int) error {
	if depth > 256 {
		return errors.New("tojson: value nested too deeply")
	}
	if v == nil || v.IsNil() {
		sb.WriteString("null")
		return nil
	}
	raw := v.Interface()
	switch x := raw.(type) {
	case *exec.Value:
		return writeJSON(sb, x, indent, depth)
	case exec.Dict:
		return writeObject(sb, x.Pairs, indent, depth)
	case *exec.Dict:
		if x == nil {
			sb.WriteString("null")
			return nil
		}
		return writeObject(sb, x.Pairs, indent, depth)
	case bool:
		if x {
			sb.WriteString("true")
		} else {
			sb.WriteString("false")
		}
		return nil
	case string:
		writeJSONString(sb, x)
		return nil
	case error:
		return x
	}
	switch {
	case v.IsBool():
		return writeJSON(sb, exec.AsValue(v.Bool()), indent, depth)
	case v.IsString():
		writeJSONString(sb, v.String())
		return nil
	case v.IsInteger():
		sb.WriteString(strconv.Itoa(v.Integer()))
		return nil
	case v.IsFloat():
		return writeJSONFloat(sb, v.Float())
	case v.IsList():
		n := v.Len()
		items := make([]*exec.Value, n)
		rv := reflect.ValueOf(raw)
		for i := range n {
			items[i] = exec.ToValue(rv.Index(i))
		}
		return writeArray(sb, items, indent, depth)
	case v.IsDict():
		// A Go map (a namespace, dict()): no order to keep, so sort.
		rv := reflect.ValueOf(raw)
		keys := rv.MapKeys()
		pairs := make([]*exec.Pair, 0, len(keys))
		for _, k := range keys {
			pairs = append(pairs, &exec.Pair{Key: exec.ToValue(k), Value: exec.ToValue(rv.MapIndex(k))})
		}
		sort.Slice(pairs, func(i, j int) bool { return pairs[i].Key.String() < pairs[j].Key.String() })
		return writeObject(sb, pairs, indent, depth)
	}
	return fmt.Errorf("tojson: cannot serialise %T", raw)
}

func writeArray(sb *strings.Builder, items []*exec.Value, indent, depth int) error {
	if len(items) == 0 {
		sb.WriteString("[]")
		return nil
	}
	sb.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			sb.WriteByte(',')
			if indent <= 0 {
				sb.WriteByte(' ')
			}
		}
		newline(sb, indent, depth+1)
		if err := writeJSON(sb, it, indent, depth+1); err != nil {
			return err
		}
	}
	newline(sb, indent, depth)
	sb.WriteByte(']')
	return nil
}

func writeObject(sb *strings.Builder, pairs []*exec.Pair, indent, depth int) error {
	if len(pairs) == 0 {
		sb.WriteString("{}")
		return nil
	}
	sb.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			sb.WriteByte(',')
			if indent <= 0 {
				sb.WriteByte(' ')
			}
		}
		newline(sb, indent, depth+1)
		if !p.Key.IsString() {
			return fmt.Errorf("tojson: object key %q is not a string", p.Key.String())
		}
		writeJSONString(sb, p.Key.String())
		sb.WriteString(": ")
		if err := writeJSON(sb, p.Value, indent, depth+1); err != nil {
			return err
		}
	}
	newline(sb, indent, depth)
	sb.WriteByte('}')
	return nil
}

func newline(sb *strings.Builder, indent, depth int) {
	if indent <= 0 {
		return
	}
	sb.WriteByte('\n')
	sb.WriteString(strings.Repeat(" ", indent*depth))
}

// writeJSONString escapes like Python's json.dumps with ensure_ascii=False:
// quote, backslash and control characters only; HTML characters stay as is.
func writeJSONString(sb *strings.Builder, s string) {
	sb.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch r {
		case '"':
			sb.WriteString(`\"`)
		case '\\':
			sb.WriteString(`\\`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(sb, `\u%04x`, r)
			} else {
				sb.WriteRune(r) // invalid UTF-8 becomes U+FFFD
			}
		}
	}
	sb.WriteByte('"')
}

// writeJSONFloat prints a non-integral number as JavaScript's JSON.stringify
// does (the reference renderer); integral values never get here because
// inputs are normalised to int.
func writeJSONFloat(sb *strings.Builder, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		sb.WriteString("null")
		return nil
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		sb.WriteString(strconv.FormatFloat(f, 'f', -1, 64))
		return nil
	}
	abs := math.Abs(f)
	if abs >= 1e21 || abs < 1e-6 {
		s := strconv.FormatFloat(f, 'e', -1, 64) // e.g. 1.5e+21, 1e-07
		mant, exp, _ := strings.Cut(s, "e")
		sign := exp[0]
		digits := strings.TrimLeft(exp[1:], "0")
		sb.WriteString(mant + "e" + string(sign) + digits)
		return nil
	}
	sb.WriteString(strconv.FormatFloat(f, 'f', -1, 64))
	return nil
}
