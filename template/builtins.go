package template

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// errNull is what the reference renderer (@huggingface/jinja) raises when an
// operator or filter meets null or undefined, e.g. None + "text".
var errNull = errors.New("cannot perform operation on null values")

func errValue(format string, args ...any) *exec.Value {
	return exec.AsValue(fmt.Errorf(format, args...))
}

// newFilters returns gonja's filters with the ones whose behaviour differs
// from Hugging Face's replaced.
func newFilters() *exec.FilterSet {
	fs := exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters)
	own := map[string]exec.FilterFunction{
		"tojson":     filterToJSON,
		"trim":       filterTrim,
		"length":     filterLength,
		"count":      filterLength,
		"items":      filterItems,
		"upper":      stringFilter("upper", strings.ToUpper),
		"lower":      stringFilter("lower", strings.ToLower),
		"title":      stringFilter("title", pyTitle),
		"capitalize": stringFilter("capitalize", pyCapitalize),
	}
	for name, fn := range own {
		if err := fs.Replace(name, fn); err != nil {
			_ = fs.Register(name, fn)
		}
	}
	return fs
}

func filterToJSON(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	indent := 0
	arg := params.GetKeywordArgument("indent", nil)
	if arg.IsNil() && len(params.Args) > 0 {
		arg = params.Args[0]
	}
	if !arg.IsNil() {
		if !arg.IsInteger() {
			return errValue("tojson: indent must be an integer, not %q", arg.String())
		}
		indent = arg.Integer()
	}
	var sb strings.Builder
	if err := writeJSON(&sb, in, indent, 0); err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(sb.String())
}

func filterTrim(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsNil() {
		return errValue("trim: %w", errNull)
	}
	if !in.IsString() {
		return errValue("trim: cannot apply to %s", kindName(in))
	}
	if len(params.Args) > 0 && !params.Args[0].IsNil() {
		return exec.AsValue(strings.Trim(in.String(), params.Args[0].String()))
	}
	return exec.AsValue(strings.TrimFunc(in.String(), unicode.IsSpace))
}

func filterLength(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	switch {
	case in.IsNil():
		return errValue("length: %w", errNull)
	case in.IsString(), in.IsList(), in.IsDict():
		return exec.AsValue(in.Len())
	}
	return errValue("length: cannot apply to %s", kindName(in))
}

func filterItems(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	items, err := dictItems(in)
	if err != nil {
		return exec.AsValue(fmt.Errorf("items: %w", err))
	}
	return exec.AsValue(items)
}

func stringFilter(name string, fn func(string) string) exec.FilterFunction {
	return func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
		if in.IsNil() {
			return errValue("%s: %w", name, errNull)
		}
		if !in.IsString() {
			return errValue("%s: cannot apply to %s", name, kindName(in))
		}
		return exec.AsValue(fn(in.String()))
	}
}

// dictPairs lists the members of a mapping in their stored order (sorted by
// key for Go maps, which have none).
func dictPairs(in *exec.Value) ([]*exec.Pair, error) {
	if in.IsNil() {
		return nil, errNull
	}
	switch d := in.Interface().(type) {
	case exec.Dict:
		return d.Pairs, nil
	case *exec.Dict:
		return d.Pairs, nil
	}
	if !in.IsDict() {
		return nil, fmt.Errorf("%s is not a mapping", kindName(in))
	}
	rv := reflect.ValueOf(in.Interface())
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	pairs := make([]*exec.Pair, 0, rv.Len())
	for _, k := range rv.MapKeys() {
		pairs = append(pairs, &exec.Pair{Key: exec.ToValue(k), Value: exec.ToValue(rv.MapIndex(k))})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].Key.String() < pairs[j].Key.String() })
	return pairs, nil
}

func dictItems(in *exec.Value) ([]any, error) {
	pairs, err := dictPairs(in)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(pairs))
	for i, p := range pairs {
		out[i] = []any{p.Key.Interface(), p.Value.Interface()}
	}
	return out, nil
}

func kindName(v *exec.Value) string {
	switch {
	case v.IsNil():
		return "none"
	case v.IsString():
		return "string"
	case v.IsBool():
		return "boolean"
	case v.IsInteger():
		return "integer"
	case v.IsFloat():
		return "float"
	case v.IsList():
		return "list"
	case v.IsDict():
		return "mapping"
	case v.IsCallable():
		return "function"
	}
	return fmt.Sprintf("%T", v.Interface())
}

// newTests returns gonja's tests with Hugging Face's type tests: "is false"
// is true only for the boolean false (gonja says true for anything not true,
// undefined included), "iterable" means list or string as in the reference.
func newTests() *exec.TestSet {
	ts := exec.NewTestSet(map[string]exec.TestFunction{}).Update(builtins.Tests)
	type testFn = func(*exec.Evaluator, *exec.Value, *exec.VarArgs) (bool, error)
	simple := func(f func(v *exec.Value) bool) testFn {
		return func(_ *exec.Evaluator, v *exec.Value, _ *exec.VarArgs) (bool, error) { return f(v), nil }
	}
	own := map[string]testFn{
		"none":      simple(func(v *exec.Value) bool { return v.IsNil() }),
		"defined":   simple(func(v *exec.Value) bool { return !v.IsNil() }),
		"undefined": simple(func(v *exec.Value) bool { return v.IsNil() }),
		"string":    simple(func(v *exec.Value) bool { return v.IsString() }),
		"boolean":   simple(func(v *exec.Value) bool { return v.IsBool() }),
		"true":      simple(func(v *exec.Value) bool { return v.IsBool() && v.Bool() }),
		"false":     simple(func(v *exec.Value) bool { return v.IsBool() && !v.Bool() }),
		"number":    simple(func(v *exec.Value) bool { return v.IsNumber() }),
		"integer":   simple(func(v *exec.Value) bool { return v.IsInteger() }),
		"float":     simple(func(v *exec.Value) bool { return v.IsFloat() }),
		"mapping":   simple(func(v *exec.Value) bool { return v.IsDict() }),
		"iterable":  simple(func(v *exec.Value) bool { return v.IsList() || v.IsString() }),
		"sequence":  simple(func(v *exec.Value) bool { return v.IsList() || v.IsString() }),
		"callable":  simple(func(v *exec.Value) bool { return v.IsCallable() }),
		"in":        testIn,
	}
	for name, fn := range own {
		if err := ts.Replace(name, fn); err != nil {
			_ = ts.Register(name, fn)
		}
	}
	return ts
}

// testIn implements the "in" operator, which gonja parses as a test.
func testIn(_ *exec.Evaluator, needle *exec.Value, params *exec.VarArgs) (bool, error) {
	if len(params.Args) == 0 {
		return false, errors.New("in: missing container")
	}
	hay := params.Args[0]
	if hay.IsNil() || needle.IsNil() {
		return false, fmt.Errorf("in: %w", errNull)
	}
	switch {
	case hay.IsString():
		if !needle.IsString() {
			return false, fmt.Errorf("in: cannot look for %s in a string", kindName(needle))
		}
		return strings.Contains(hay.String(), needle.String()), nil
	case hay.IsList():
		found := false
		hay.Iterate(func(_, _ int, item, _ *exec.Value) bool {
			if item.EqualValueTo(needle) {
				found = true
				return false
			}
			return true
		}, func() {})
		return found, nil
	case hay.IsDict():
		pairs, err := dictPairs(hay)
		if err != nil {
			return false, err
		}
		for _, p := range pairs {
			if p.Key.EqualValueTo(needle) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("in: cannot look inside %s", kindName(hay))
}

// newMethods returns the Python methods templates call on values.
func newMethods() exec.Methods {
	base := builtins.Methods
	str := map[string]exec.Method[string]{}
	for _, name := range []string{"center", "count", "find", "rfind", "format", "isalnum", "isalpha",
		"isdigit", "islower", "isspace", "isupper", "istitle", "join", "ljust", "rjust", "partition",
		"rpartition", "removeprefix", "removesuffix", "splitlines", "zfill", "swapcase", "casefold"} {
		if m, ok := base.Str.Get(name); ok {
			str[name] = m
		}
	}
	str["strip"] = stripMethod(strings.TrimFunc, strings.Trim)
	str["lstrip"] = stripMethod(strings.TrimLeftFunc, strings.TrimLeft)
	str["rstrip"] = stripMethod(strings.TrimRightFunc, strings.TrimRight)
	str["split"] = methodSplit
	str["startswith"] = affixMethod(strings.HasPrefix)
	str["endswith"] = affixMethod(strings.HasSuffix)
	str["upper"] = func(s string, _ *exec.Value, _ *exec.VarArgs) (any, error) { return strings.ToUpper(s), nil }
	str["lower"] = func(s string, _ *exec.Value, _ *exec.VarArgs) (any, error) { return strings.ToLower(s), nil }
	str["title"] = func(s string, _ *exec.Value, _ *exec.VarArgs) (any, error) { return pyTitle(s), nil }
	str["capitalize"] = func(s string, _ *exec.Value, _ *exec.VarArgs) (any, error) { return pyCapitalize(s), nil }
	str["replace"] = methodReplace

	dict := map[string]exec.Method[map[string]any]{
		"items": func(_ map[string]any, self *exec.Value, _ *exec.VarArgs) (any, error) { return dictItems(self) },
		"keys": func(_ map[string]any, self *exec.Value, _ *exec.VarArgs) (any, error) {
			pairs, err := dictPairs(self)
			if err != nil {
				return nil, err
			}
			out := make([]any, len(pairs))
			for i, p := range pairs {
				out[i] = p.Key.Interface()
			}
			return out, nil
		},
		"values": func(_ map[string]any, self *exec.Value, _ *exec.VarArgs) (any, error) {
			pairs, err := dictPairs(self)
			if err != nil {
				return nil, err
			}
			out := make([]any, len(pairs))
			for i, p := range pairs {
				out[i] = p.Value.Interface()
			}
			return out, nil
		},
		"get": func(_ map[string]any, self *exec.Value, args *exec.VarArgs) (any, error) {
			if len(args.Args) == 0 || len(args.Args) > 2 {
				return nil, errors.New("get: expected a key and an optional default")
			}
			pairs, err := dictPairs(self)
			if err != nil {
				return nil, err
			}
			for _, p := range pairs {
				if p.Key.EqualValueTo(args.Args[0]) {
					return p.Value.Interface(), nil
				}
			}
			if len(args.Args) == 2 {
				return args.Args[1].Interface(), nil
			}
			return nil, nil
		},
	}
	list := map[string]exec.Method[[]any]{}
	for _, name := range []string{"append", "reverse", "copy"} {
		if m, ok := base.List.Get(name); ok {
			list[name] = m
		}
	}
	return exec.Methods{
		Bool:  base.Bool,
		Int:   base.Int,
		Float: base.Float,
		Str:   exec.NewMethodSet(str),
		Dict:  exec.NewMethodSet(dict),
		List:  exec.NewMethodSet(list),
	}
}

// stripMethod builds Python's strip/lstrip/rstrip: whitespace without an
// argument (or with None), otherwise the given set of characters.
func stripMethod(ws func(string, func(rune) bool) string, cut func(string, string) string) exec.Method[string] {
	return func(s string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) > 1 {
			return nil, errors.New("strip: at most one argument")
		}
		if len(args.Args) == 0 || args.Args[0].IsNil() {
			return ws(s, unicode.IsSpace), nil
		}
		if !args.Args[0].IsString() {
			return nil, errors.New("strip: argument must be a string")
		}
		return cut(s, args.Args[0].String()), nil
	}
}

func methodSplit(s string, _ *exec.Value, args *exec.VarArgs) (any, error) {
	sep := args.GetKeywordArgument("sep", nil)
	if len(args.Args) > 0 {
		sep = args.Args[0]
	}
	maxSplit := -1
	ms := args.GetKeywordArgument("maxsplit", nil)
	if len(args.Args) > 1 {
		ms = args.Args[1]
	}
	if !ms.IsNil() {
		if !ms.IsInteger() {
			return nil, errors.New("split: maxsplit must be an integer")
		}
		maxSplit = ms.Integer()
	}
	var parts []string
	if sep.IsNil() {
		parts = splitWhitespace(s, maxSplit)
	} else {
		if !sep.IsString() {
			return nil, errors.New("split: separator must be a string")
		}
		if sep.String() == "" {
			return nil, errors.New("split: empty separator")
		}
		n := -1
		if maxSplit >= 0 {
			n = maxSplit + 1
		}
		parts = strings.SplitN(s, sep.String(), n)
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

// splitWhitespace is Python's str.split() without a separator.
func splitWhitespace(s string, maxSplit int) []string {
	parts := []string{}
	rest := strings.TrimLeftFunc(s, unicode.IsSpace)
	for rest != "" {
		if maxSplit >= 0 && len(parts) == maxSplit {
			parts = append(parts, rest)
			break
		}
		end := strings.IndexFunc(rest, unicode.IsSpace)
		if end < 0 {
			parts = append(parts, rest)
			break
		}
		parts = append(parts, rest[:end])
		rest = strings.TrimLeftFunc(rest[end:], unicode.IsSpace)
	}
	return parts
}

func affixMethod(has func(string, string) bool) exec.Method[string] {
	return func(s string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) == 0 {
			return nil, errors.New("startswith/endswith: missing argument")
		}
		arg := args.Args[0]
		if arg.IsString() {
			return has(s, arg.String()), nil
		}
		if arg.IsList() {
			found := false
			var err error
			arg.Iterate(func(_, _ int, item, _ *exec.Value) bool {
				if !item.IsString() {
					err = errors.New("startswith/endswith: tuple elements must be strings")
					return false
				}
				if has(s, item.String()) {
					found = true
					return false
				}
				return true
			}, func() {})
			return found, err
		}
		return nil, errors.New("startswith/endswith: argument must be a string or a tuple of strings")
	}
}

func methodReplace(s string, _ *exec.Value, args *exec.VarArgs) (any, error) {
	if len(args.Args) < 2 || !args.Args[0].IsString() || !args.Args[1].IsString() {
		return nil, errors.New("replace: expected two string arguments")
	}
	n := -1
	count := args.GetKeywordArgument("count", nil)
	if len(args.Args) > 2 {
		count = args.Args[2]
	}
	if !count.IsNil() {
		if !count.IsInteger() {
			return nil, errors.New("replace: count must be an integer")
		}
		n = count.Integer()
	}
	return strings.Replace(s, args.Args[0].String(), args.Args[1].String(), n), nil
}

// pyTitle is Python's str.title: a letter following a cased letter is lower
// case, any other letter upper case.
func pyTitle(s string) string {
	var sb strings.Builder
	prevCased := false
	for _, r := range s {
		if prevCased {
			sb.WriteRune(unicode.ToLower(r))
		} else {
			sb.WriteRune(unicode.ToTitle(r))
		}
		prevCased = unicode.IsLetter(r)
	}
	return sb.String()
}

func pyCapitalize(s string) string {
	for i, r := range s {
		return string(unicode.ToTitle(r)) + strings.ToLower(s[i+len(string(r)):])
	}
	return s
}
