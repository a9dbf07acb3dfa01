// Package template renders a model's chat template (the Jinja source in
// tokenizer.chat_template, written for Hugging Face transformers) into the
// prompt text.
//
// Jinja is parsed and executed by gonja v2. Where gonja's behaviour differs
// from Hugging Face's the package adapts it: a source rewrite for nested
// conditional expressions, an AST rewrite that routes operators and the
// defined/none tests through helpers with Hugging Face's null semantics,
// replacement filters, tests and Python string/dict methods, a set
// statement, tojson with json.dumps formatting and key order kept,
// raise_exception and strftime_now. The reference for "the same output" is
// the renderer used to produce the test data, @huggingface/jinja.
package template

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"time"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// ChatML is the template Kiln uses for models that ship none: the one of
// stories260K-chatml.gguf.
const ChatML = `{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`

// maxSource bounds the template text; real chat templates are a few KiB.
const maxSource = 1 << 20

// Template is a parsed chat template. It is safe for concurrent use.
type Template struct {
	tpl      *exec.Template
	now      func() time.Time
	maxSteps int
}

// ExceptionError is returned by Render when the template called
// raise_exception; Message is the template's text.
type ExceptionError struct {
	Message string
}

func (e *ExceptionError) Error() string { return "template raised an exception: " + e.Message }

// Parse compiles src with the environment transformers uses for chat
// templates (trim_blocks and lstrip_blocks on, autoescape off).
func Parse(src string) (t *Template, err error) {
	if len(src) > maxSource {
		return nil, fmt.Errorf("template: source is %d bytes, more than %d", len(src), maxSource)
	}
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("template: parse: internal error: %v", r)
		}
	}()
	cfg := config.New()
	cfg.TrimBlocks = true
	cfg.LeftStripBlocks = true
	cfg.AutoEscape = false

	env := &exec.Environment{
		Context:           exec.EmptyContext().Update(globals()),
		Filters:           newFilters(),
		Tests:             newTests(),
		ControlStructures: newControlStructures(),
		Methods:           newMethods(),
	}
	loader, err := loaders.NewMemoryLoader(map[string]string{"/chat_template": rewriteTernaries(src)})
	if err != nil {
		return nil, fmt.Errorf("template: loader: %w", err)
	}
	tpl, err := exec.NewTemplate("/chat_template", cfg, loader, env)
	if err != nil {
		return nil, fmt.Errorf("template: parse: %w", err)
	}
	root := tpl.Root()
	if root.Parent != nil {
		return nil, errors.New("template: extends is not supported")
	}
	if err := (rewriter{}).nodes(root.Nodes); err != nil {
		return nil, fmt.Errorf("template: prepare: %w", err)
	}
	return &Template{tpl: tpl, now: time.Now, maxSteps: defaultMaxSteps}, nil
}

// globals are the names every render sees besides the caller's variables.
func globals() *exec.Context {
	g := map[string]any{"none": nil, "true": true, "false": false}
	for _, name := range []string{"namespace", "dict"} {
		if fn, ok := builtins.GlobalFunctions.Get(name); ok {
			g[name] = fn
		}
	}
	return exec.NewContext(g)
}

// Render executes the template with vars (messages, tools,
// add_generation_prompt, bos_token, ...). Values may be plain Go maps,
// slices and scalars or the order-preserving values of DecodeJSON/Object.
// A template that raises, or that applies an operator or filter to null,
// returns an error (an *ExceptionError for raise_exception).
func (t *Template) Render(vars map[string]any) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("template: render: internal error: %v\n%s", r, debug.Stack())
		}
	}()
	data := make(map[string]any, len(vars)+8)
	for k, v := range vars {
		ev, err := toEngine(v, 0)
		if err != nil {
			return "", fmt.Errorf("template: variable %q: %w", k, err)
		}
		data[k] = ev
	}
	st := &renderState{maxSteps: t.maxSteps}
	for k, v := range st.helpers() {
		data[k] = v
	}
	now := t.now
	data[helperStrftim] = func(va *exec.VarArgs) (*exec.Value, error) {
		if len(va.Args) != 1 || !va.Args[0].IsString() {
			return nil, errors.New("strftime_now: expected one format string")
		}
		s, err := strftime(va.Args[0].String(), now())
		if err != nil {
			return nil, err
		}
		return exec.AsValue(s), nil
	}
	var buf bytes.Buffer
	w := &limitWriter{buf: &buf, st: st}
	if err := t.tpl.Execute(w, exec.NewContext(data)); err != nil {
		if st.raised != nil {
			return "", fmt.Errorf("template: render: %w", st.raised)
		}
		return "", fmt.Errorf("template: render: %w", rootCause(err))
	}
	return buf.String(), nil
}

type limitWriter struct {
	buf *bytes.Buffer
	st  *renderState
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if _, err := w.st.Write(p); err != nil {
		return 0, err
	}
	return w.buf.Write(p)
}

// rootCause digs through gonja's wrapping, which repeats the whole
// expression at every level, down to the error that says what went wrong.
func rootCause(err error) error {
	for range 10000 {
		if v, ok := err.(*exec.Value); ok {
			inner, isErr := v.Interface().(error)
			if !isErr || inner == nil {
				return err
			}
			err = inner
			continue
		}
		t := reflect.TypeOf(err)
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.PkgPath() != "github.com/pkg/errors" {
			return err
		}
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
	return err
}
