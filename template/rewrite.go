package template

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Names of the helper functions the rewritten AST calls. They are put into
// every render's variables (over any caller variable of the same name).
const (
	helperOp      = "__kiln_op"
	helperTest    = "__kiln_test"
	helperTick    = "__kiln_tick"
	helperEnter   = "__kiln_enter"
	helperLeave   = "__kiln_leave"
	helperRaise   = "raise_exception"
	helperStrftim = "strftime_now"
)

// newControlStructures returns the statements Kiln accepts. File access
// (include, import, extends, from) is left out on purpose: templates come
// from model files and must not read the server's disk.
func newControlStructures() *exec.ControlStructureSet {
	set := map[string]parser.ControlStructureParser{"set": parseSet}
	for _, name := range []string{"if", "for", "macro", "call", "raw", "break", "continue", "do", "filter"} {
		if p, ok := builtins.ControlStructures.Get(name); ok {
			set[name] = p
		}
	}
	return exec.NewControlStructureSet(set)
}

// setStatement replaces gonja's set, whose fields are unexported, so that
// its expression can be rewritten like every other.
type setStatement struct {
	location    *tokens.Token
	target      nodes.Expression
	expression  nodes.Expression
	condition   nodes.Expression
	alternative nodes.Expression
	body        *nodes.Wrapper
}

func (s *setStatement) Position() *tokens.Token { return s.location }
func (s *setStatement) String() string {
	return fmt.Sprintf("set(line %d)", s.location.Line)
}

func parseSet(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	s := &setStatement{location: p.Current()}
	target, err := args.ParseVariableOrLiteral()
	if err != nil {
		return nil, err
	}
	switch target.(type) {
	case *nodes.Name, *nodes.GetAttribute, *nodes.GetItem:
		s.target = target
	default:
		return nil, args.Error("set: target must be a name, an attribute or an item", nil)
	}
	if args.Match(tokens.Assign) == nil {
		if !args.End() {
			return nil, args.Error("set: expected '=' or the end of the tag", nil)
		}
		wrapper, endArgs, err := p.WrapUntil("endset")
		if err != nil {
			return nil, err
		}
		if !endArgs.End() {
			return nil, endArgs.Error("endset takes no arguments", nil)
		}
		s.body = wrapper
		return s, nil
	}
	if s.expression, err = args.ParseExpression(); err != nil {
		return nil, err
	}
	if s.expression == nil {
		return nil, args.Error("set: missing expression", nil)
	}
	if s.condition, s.alternative, err = args.ParseCondition(); err != nil {
		return nil, err
	}
	if !args.End() {
		return nil, args.Error("set: malformed statement", nil)
	}
	return s, nil
}

func (s *setStatement) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	var value *exec.Value
	switch {
	case s.body != nil:
		var buf bytes.Buffer
		sub := r.Inherit()
		sub.Output = &buf
		if err := sub.ExecuteWrapper(s.body); err != nil {
			return err
		}
		value = exec.AsValue(buf.String())
	case s.condition != nil:
		cond := r.Eval(s.condition)
		if cond.IsError() {
			return cond
		}
		if cond.IsTrue() {
			value = r.Eval(s.expression)
		} else if s.alternative != nil {
			value = r.Eval(s.alternative)
		} else {
			value = exec.AsValue(nil)
		}
	default:
		value = r.Eval(s.expression)
	}
	if value.IsError() {
		return value
	}
	switch t := s.target.(type) {
	case *nodes.Name:
		r.Environment.Context.Set(t.Name.Val, value.Interface())
	case *nodes.GetAttribute:
		obj := r.Eval(t.Node)
		if obj.IsError() {
			return obj
		}
		if !obj.IsDict() || obj.IsNil() {
			return fmt.Errorf("set: cannot assign attribute %q of %s", t.Attribute, kindName(obj))
		}
		if err := obj.Set(exec.AsValue(t.Attribute), value.Interface()); err != nil {
			return fmt.Errorf("set: attribute %q: %w", t.Attribute, err)
		}
	case *nodes.GetItem:
		obj := r.Eval(t.Node)
		if obj.IsError() {
			return obj
		}
		key := r.Eval(t.Arg)
		if key.IsError() {
			return key
		}
		if !obj.IsDict() || obj.IsNil() || !key.IsString() {
			return fmt.Errorf("set: cannot assign item of %s", kindName(obj))
		}
		if err := obj.Set(key, value.Interface()); err != nil {
			return fmt.Errorf("set: item %q: %w", key.String(), err)
		}
	}
	return nil
}

// rewriter adapts a parsed template to Hugging Face semantics: arithmetic
// and concatenation go through helperOp (which raises on null instead of
// treating it as ""), defined/none tests through helperTest (which tells a
// missing key from a null one), and loop and macro bodies get step counters.
type rewriter struct{}

func (rw rewriter) nodes(list []nodes.Node) error {
	for _, n := range list {
		if err := rw.node(n); err != nil {
			return err
		}
	}
	return nil
}

func (rw rewriter) wrapper(w *nodes.Wrapper) error {
	if w == nil {
		return nil
	}
	return rw.nodes(w.Nodes)
}

func (rw rewriter) node(n nodes.Node) error {
	switch t := n.(type) {
	case *nodes.Output:
		t.Expression = rw.expr(t.Expression)
		t.Condition = rw.expr(t.Condition)
		t.Alternative = rw.expr(t.Alternative)
	case *nodes.ControlStructureBlock:
		return rw.control(t.ControlStructure)
	case *nodes.Wrapper:
		return rw.wrapper(t)
	}
	return nil
}

func (rw rewriter) control(cs nodes.ControlStructure) error {
	switch t := cs.(type) {
	case *controlStructures.IfControlStructure:
		for i := range t.Conditions {
			t.Conditions[i] = rw.expr(t.Conditions[i])
		}
		for _, w := range t.Wrappers {
			if err := rw.wrapper(w); err != nil {
				return err
			}
		}
	case *controlStructures.ForControlStructure:
		t.ObjectEvaluator = rw.expr(t.ObjectEvaluator)
		t.IfCondition = rw.expr(t.IfCondition)
		if err := rw.wrapper(t.BodyWrapper); err != nil {
			return err
		}
		if err := rw.wrapper(t.EmptyWrapper); err != nil {
			return err
		}
		if t.BodyWrapper != nil {
			t.BodyWrapper.Nodes = append([]nodes.Node{helperCallOutput(helperTick, t.Position())}, t.BodyWrapper.Nodes...)
		}
	case *setStatement:
		t.expression = rw.expr(t.expression)
		t.condition = rw.expr(t.condition)
		t.alternative = rw.expr(t.alternative)
		if gi, ok := t.target.(*nodes.GetItem); ok {
			gi.Arg = rw.expr(gi.Arg)
		}
		return rw.wrapper(t.body)
	case *controlStructures.MacroControlStructure:
		if t.Macro == nil || t.Macro.Wrapper == nil {
			return nil
		}
		for _, kw := range t.Macro.Kwargs {
			kw.Value = rw.expr(kw.Value)
		}
		if err := rw.wrapper(t.Macro.Wrapper); err != nil {
			return err
		}
		w := t.Macro.Wrapper
		body := make([]nodes.Node, 0, len(w.Nodes)+2)
		body = append(body, helperCallOutput(helperEnter, t.Position()))
		body = append(body, w.Nodes...)
		w.Nodes = append(body, helperCallOutput(helperLeave, t.Position()))
	case *controlStructures.CallControlStructure:
		if t.Call != nil {
			t.Call.Args = rw.exprs(t.Call.Args)
			for k, v := range t.Call.Kwargs {
				t.Call.Kwargs[k] = rw.expr(v)
			}
		}
		return rw.wrapper(t.Body)
	case *controlStructures.DoControlStructure:
		t.Expression = rw.expr(t.Expression)
	}
	return nil
}

// helperCallOutput is an output tag {{ name() }}; the helpers print nothing.
func helperCallOutput(name string, at *tokens.Token) nodes.Node {
	if at == nil {
		at = &tokens.Token{}
	}
	return &nodes.Output{
		Start:      at,
		End:        at,
		Expression: &nodes.Call{Location: at, Func: nameNode(name, at), Args: []nodes.Expression{}, Kwargs: map[string]nodes.Expression{}},
	}
}

func nameNode(name string, at *tokens.Token) *nodes.Name {
	return &nodes.Name{Name: &tokens.Token{Type: tokens.Name, Val: name, Pos: at.Pos, Line: at.Line, Col: at.Col}}
}

func stringNode(s string, at *tokens.Token) *nodes.String {
	return &nodes.String{Location: at, Val: s}
}

func (rw rewriter) exprs(list []nodes.Expression) []nodes.Expression {
	for i := range list {
		list[i] = rw.expr(list[i])
	}
	return list
}

func (rw rewriter) expr(e nodes.Expression) nodes.Expression {
	switch t := e.(type) {
	case nil:
		return nil
	case *nodes.BinaryExpression:
		t.Left = rw.expr(t.Left)
		t.Right = rw.expr(t.Right)
		switch t.Operator.Token.Type {
		case tokens.Addition, tokens.Subtraction, tokens.Multiply, tokens.Division, tokens.FloorDivision,
			tokens.Modulo, tokens.Power, tokens.Tilde, tokens.LowerThan, tokens.LowerThanOrEqual,
			tokens.GreaterThan, tokens.GreaterThanOrEqual:
			at := t.Operator.Token
			return &nodes.Call{
				Location: at,
				Func:     nameNode(helperOp, at),
				Args:     []nodes.Expression{stringNode(at.Val, at), t.Left, t.Right},
				Kwargs:   map[string]nodes.Expression{},
			}
		}
		return t
	case *nodes.TestExpression:
		t.Expression = rw.expr(t.Expression)
		t.Test.Args = rw.exprs(t.Test.Args)
		for k, v := range t.Test.Kwargs {
			t.Test.Kwargs[k] = rw.expr(v)
		}
		switch t.Test.Name {
		case "defined", "undefined", "none":
		default:
			return t
		}
		at := t.Test.Token
		mode := stringNode(t.Test.Name, at)
		switch target := t.Expression.(type) {
		case *nodes.Name:
			return helperTestCall(at, mode, stringNode("name", at), stringNode(target.Name.Val, at))
		case *nodes.GetAttribute:
			if target.Attribute == "" {
				return helperTestCall(at, mode, stringNode("item", at), target.Node, &nodes.Integer{Location: at, Val: target.Index})
			}
			return helperTestCall(at, mode, stringNode("item", at), target.Node, stringNode(target.Attribute, at))
		case *nodes.GetItem:
			if arg, ok := target.Arg.(nodes.Expression); ok && arg != nil {
				return helperTestCall(at, mode, stringNode("item", at), target.Node, arg)
			}
		}
		return t
	case *nodes.FilteredExpression:
		t.Expression = rw.expr(t.Expression)
		for _, f := range t.Filters {
			f.Args = rw.exprs(f.Args)
			for k, v := range f.Kwargs {
				f.Kwargs[k] = rw.expr(v)
			}
		}
	case *nodes.Negation:
		t.Term = rw.expr(t.Term)
	case *nodes.UnaryExpression:
		t.Term = rw.expr(t.Term)
	case *nodes.GetItem:
		t.Node = rw.anyNode(t.Node)
		t.Arg = rw.anyNode(t.Arg)
	case *nodes.GetSlice:
		t.Node = rw.anyNode(t.Node)
		t.Start = rw.anyNode(t.Start)
		t.End = rw.anyNode(t.End)
		t.Step = rw.anyNode(t.Step)
	case *nodes.GetAttribute:
		t.Node = rw.anyNode(t.Node)
	case *nodes.Call:
		t.Func = rw.anyNode(t.Func)
		t.Parent = rw.anyNode(t.Parent)
		t.Args = rw.exprs(t.Args)
		for k, v := range t.Kwargs {
			t.Kwargs[k] = rw.expr(v)
		}
	case *nodes.List:
		t.Val = rw.exprs(t.Val)
	case *nodes.Tuple:
		t.Val = rw.exprs(t.Val)
	case *nodes.Dict:
		for _, p := range t.Pairs {
			p.Key = rw.expr(p.Key)
			p.Value = rw.expr(p.Value)
		}
	case *nodes.Pair:
		t.Key = rw.expr(t.Key)
		t.Value = rw.expr(t.Value)
	}
	return e
}

// anyNode rewrites a field typed nodes.Node that holds an expression. The
// same node can be shared (a method call's Parent is its Func's Node), and
// rewriting is idempotent on the result, so sharing is harmless.
func (rw rewriter) anyNode(n nodes.Node) nodes.Node {
	if n == nil {
		return nil
	}
	if e, ok := n.(nodes.Expression); ok {
		if r := rw.expr(e); r != nil {
			return r
		}
	}
	return n
}

func helperTestCall(at *tokens.Token, args ...nodes.Expression) nodes.Expression {
	return &nodes.Call{Location: at, Func: nameNode(helperTest, at), Args: args, Kwargs: map[string]nodes.Expression{}}
}

// Limits that keep a hostile or buggy template from hanging the server.
const (
	defaultMaxSteps = 100_000 // loop iterations and macro calls per render
	maxMacroDepth   = 200
	maxOutput       = 16 << 20 // bytes
	maxRange        = 100_000  // elements of one range()
	maxRepeat       = 1 << 20  // bytes of one string repetition
)

var errLimit = errors.New("template exceeded its execution limits")

// renderState is the per-call state behind the helper functions.
type renderState struct {
	maxSteps int
	steps    int
	depth    int
	raised   *ExceptionError
	written  int
}

func (st *renderState) Write(p []byte) (int, error) {
	st.written += len(p)
	if st.written > maxOutput {
		return 0, fmt.Errorf("output larger than %d bytes: %w", maxOutput, errLimit)
	}
	return len(p), nil
}

// charge spends n steps of the budget; building big lists costs time in
// gonja (each loop item is prepared up front), so they count as well.
func (st *renderState) charge(n int) error {
	st.steps += n
	if st.steps > st.maxSteps {
		return fmt.Errorf("more than %d steps: %w", st.maxSteps, errLimit)
	}
	return nil
}

func (st *renderState) helpers() map[string]any {
	return map[string]any{
		helperOp: func(va *exec.VarArgs) (*exec.Value, error) {
			v, err := binaryOp(va)
			if err == nil && (v.IsList() || v.IsString()) {
				err = st.charge(v.Len() / 64)
			}
			return v, err
		},
		helperTest: func(e *exec.Evaluator, va *exec.VarArgs) (*exec.Value, error) {
			return testDefinedOrNone(e, va)
		},
		helperTick: func(_ *exec.VarArgs) (*exec.Value, error) {
			st.steps++
			if st.steps > st.maxSteps {
				return nil, fmt.Errorf("more than %d loop iterations: %w", st.maxSteps, errLimit)
			}
			return exec.AsValue(""), nil
		},
		helperEnter: func(_ *exec.VarArgs) (*exec.Value, error) {
			st.steps++
			st.depth++
			if st.depth > maxMacroDepth || st.steps > st.maxSteps {
				return nil, fmt.Errorf("macro recursion deeper than %d: %w", maxMacroDepth, errLimit)
			}
			return exec.AsValue(""), nil
		},
		helperLeave: func(_ *exec.VarArgs) (*exec.Value, error) {
			st.depth--
			return exec.AsValue(""), nil
		},
		helperRaise: func(va *exec.VarArgs) (*exec.Value, error) {
			msg := ""
			if len(va.Args) > 0 {
				msg = va.Args[0].String()
			}
			if st.raised == nil {
				st.raised = &ExceptionError{Message: msg}
			}
			return nil, st.raised
		},
		"range": func(va *exec.VarArgs) (*exec.Value, error) {
			v, err := rangeFunc(va)
			if err == nil {
				err = st.charge(v.Len())
			}
			return v, err
		},
	}
}

// testDefinedOrNone evaluates "x is defined", "x is undefined" and "x is
// none" where x is a variable, attribute or item: a key that is missing is
// undefined (and not none), a key holding null is defined and none.
func testDefinedOrNone(e *exec.Evaluator, va *exec.VarArgs) (*exec.Value, error) {
	if len(va.Args) < 3 {
		return nil, errors.New("internal: bad test call")
	}
	mode, kind := va.Args[0].String(), va.Args[1].String()
	var value *exec.Value
	found := false
	switch kind {
	case "name":
		var raw any
		raw, found = e.Environment.Context.Get(va.Args[2].String())
		value = exec.ToValue(raw)
	case "item":
		if len(va.Args) < 4 {
			return nil, errors.New("internal: bad test call")
		}
		parent, key := va.Args[2], va.Args[3]
		if !parent.IsNil() {
			switch {
			case key.IsString():
				value, found = parent.Get(key.String())
			case key.IsInteger():
				value, found = parent.GetItem(key.Integer())
			}
		}
	}
	if value == nil || value.IsError() {
		value, found = exec.AsValue(nil), false
	}
	switch mode {
	case "defined":
		return exec.AsValue(found), nil
	case "undefined":
		return exec.AsValue(!found), nil
	default: // none
		return exec.AsValue(found && value.IsNil()), nil
	}
}

// binaryOp implements the arithmetic, concatenation and ordering operators
// with the reference renderer's rule that null or undefined operands raise.
func binaryOp(va *exec.VarArgs) (*exec.Value, error) {
	if len(va.Args) != 3 {
		return nil, errors.New("internal: bad operator call")
	}
	op, a, b := va.Args[0].String(), va.Args[1], va.Args[2]
	if a.IsNil() || b.IsNil() {
		return nil, fmt.Errorf("operator %s: %w", op, errNull)
	}
	num := func(v *exec.Value) bool { return v.IsNumber() && !v.IsBool() }
	bothInt := a.IsInteger() && b.IsInteger()
	switch op {
	case "~":
		return exec.AsValue(a.String() + b.String()), nil
	case "+":
		switch {
		case num(a) && num(b):
			if bothInt {
				return exec.AsValue(a.Integer() + b.Integer()), nil
			}
			return exec.AsValue(a.Float() + b.Float()), nil
		case a.IsList() && b.IsList():
			out := make([]any, 0, a.Len()+b.Len())
			for _, v := range []*exec.Value{a, b} {
				v.Iterate(func(_, _ int, item, _ *exec.Value) bool {
					out = append(out, item)
					return true
				}, func() {})
			}
			return exec.AsValue(out), nil
		case a.IsString() || b.IsString():
			return exec.AsValue(a.String() + b.String()), nil
		}
	case "-", "*", "/", "//", "%", "**":
		if op == "*" && a.IsString() && b.IsInteger() {
			n := b.Integer()
			if n < 0 {
				n = 0
			}
			if len(a.String())*n > maxRepeat {
				return nil, fmt.Errorf("string repetition too large: %w", errLimit)
			}
			return exec.AsValue(strings.Repeat(a.String(), n)), nil
		}
		if !num(a) || !num(b) {
			break
		}
		return arith(op, a, b, bothInt)
	case "<", "<=", ">", ">=":
		var c int
		switch {
		case num(a) && num(b):
			x, y := a.Float(), b.Float()
			if x < y {
				c = -1
			} else if x > y {
				c = 1
			}
		case a.IsString() && b.IsString():
			c = strings.Compare(a.String(), b.String())
		default:
			return nil, fmt.Errorf("operator %s: cannot compare %s and %s", op, kindName(a), kindName(b))
		}
		switch op {
		case "<":
			return exec.AsValue(c < 0), nil
		case "<=":
			return exec.AsValue(c <= 0), nil
		case ">":
			return exec.AsValue(c > 0), nil
		default:
			return exec.AsValue(c >= 0), nil
		}
	}
	return nil, fmt.Errorf("operator %s: unsupported between %s and %s", op, kindName(a), kindName(b))
}

func arith(op string, a, b *exec.Value, bothInt bool) (*exec.Value, error) {
	if bothInt {
		x, y := a.Integer(), b.Integer()
		switch op {
		case "-":
			return exec.AsValue(x - y), nil
		case "*":
			return exec.AsValue(x * y), nil
		case "/":
			if y == 0 {
				return nil, errors.New("division by zero")
			}
			return exec.AsValue(float64(x) / float64(y)), nil
		case "//", "%":
			if y == 0 {
				return nil, errors.New("integer division or modulo by zero")
			}
			q, r := x/y, x%y
			if r != 0 && (r < 0) != (y < 0) { // Python floors
				q--
				r += y
			}
			if op == "//" {
				return exec.AsValue(q), nil
			}
			return exec.AsValue(r), nil
		case "**":
			if y >= 0 {
				return exec.AsValue(floatToEngine(math.Pow(float64(x), float64(y)))), nil
			}
			return exec.AsValue(math.Pow(float64(x), float64(y))), nil
		}
	}
	x, y := a.Float(), b.Float()
	switch op {
	case "-":
		return exec.AsValue(x - y), nil
	case "*":
		return exec.AsValue(x * y), nil
	case "/", "//", "%":
		if y == 0 {
			return nil, errors.New("float division by zero")
		}
		switch op {
		case "/":
			return exec.AsValue(x / y), nil
		case "//":
			return exec.AsValue(math.Floor(x / y)), nil
		}
		r := math.Mod(x, y)
		if r != 0 && (r < 0) != (y < 0) {
			r += y
		}
		return exec.AsValue(r), nil
	default: // **
		return exec.AsValue(math.Pow(x, y)), nil
	}
}

// rangeFunc is Python's range, materialised (gonja's feeds a channel from a
// goroutine that leaks when a loop breaks early) and bounded.
func rangeFunc(va *exec.VarArgs) (*exec.Value, error) {
	ints := make([]int, len(va.Args))
	for i, a := range va.Args {
		if !a.IsInteger() {
			return nil, errors.New("range: arguments must be integers")
		}
		ints[i] = a.Integer()
	}
	start, stop, step := 0, 0, 1
	switch len(ints) {
	case 1:
		stop = ints[0]
	case 2:
		start, stop = ints[0], ints[1]
	case 3:
		start, stop, step = ints[0], ints[1], ints[2]
	default:
		return nil, errors.New("range: expected 1 to 3 arguments")
	}
	if step == 0 {
		return nil, errors.New("range: step must not be zero")
	}
	out := []any{}
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		if len(out) >= maxRange {
			return nil, fmt.Errorf("range longer than %d: %w", maxRange, errLimit)
		}
		out = append(out, i)
	}
	return exec.AsValue(out), nil
}
