package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/kiln-llm/kiln/api"
	"github.com/kiln-llm/kiln/constrain"
	"github.com/kiln-llm/kiln/engine"
)

// writeJSON writes v as a 200 JSON response.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		api.WriteError(w, api.NewInternal("Could not encode the response."))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
}

// sse writes a server-sent event stream in OpenAI's framing: data-only
// events, each a JSON object followed by a blank line, ending with
// "data: [DONE]".
type sse struct {
	w       http.ResponseWriter
	flusher http.Flusher
	started bool
	err     error
}

func newSSE(w http.ResponseWriter) *sse {
	f, _ := w.(http.Flusher)
	return &sse{w: w, flusher: f}
}

func (s *sse) start() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	// Reverse proxies (nginx) otherwise buffer the stream.
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
}

func (s *sse) writeData(b []byte) error {
	if s.err != nil {
		return s.err
	}
	s.start()
	buf := make([]byte, 0, len(b)+8)
	buf = append(buf, "data: "...)
	buf = append(buf, b...)
	buf = append(buf, "\n\n"...)
	if _, err := s.w.Write(buf); err != nil {
		s.err = err
		return err
	}
	if s.flusher != nil {
		s.flusher.Flush()
	}
	return nil
}

// send writes v as one event. An error means the client is gone.
func (s *sse) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		s.err = err
		return err
	}
	return s.writeData(b)
}

// sendError reports a failure inside the stream the way OpenAI does: an
// event holding the error object (the SDKs raise it).
func (s *sse) sendError(e *api.Error) {
	_ = s.send(*e)
}

// finish ends the stream.
func (s *sse) finish() {
	_ = s.writeData([]byte("[DONE]"))
}

// constraintFor returns a factory of per-choice constraints for the
// request's response_format and tool mode (nil when output is free), to be
// called once per choice. The schema is compiled here, once per request
// under the request's context (a client that leaves abandons the compile),
// so that an unsupported schema is a 400 before anything is generated; every
// choice then gets its own constraint state on that one immutable compile.
// checkToolSchemas compiles the parameters of every declared function, so an
// unsupported schema is a 400 naming it whatever tool_choice says: a call
// the model makes in auto mode is held to the same schema as a forced one.
func checkToolSchemas(ctx context.Context, req *api.ChatCompletionRequest) *api.Error {
	param := "tools[%d].function.parameters"
	if req.UsesLegacyFunctions() {
		param = "functions[%d].parameters"
	}
	for i, t := range req.EffectiveTools() {
		if len(t.Function.Parameters) == 0 {
			continue
		}
		if _, err := constrain.CompileSchemaContext(ctx, t.Function.Parameters); err != nil {
			return api.NewInvalidRequest(fmt.Sprintf(param, i), api.CodeInvalidValue, "Invalid JSON schema: "+err.Error())
		}
	}
	return nil
}

func constraintFor(ctx context.Context, m *Model, rf *api.ResponseFormat, mode toolMode, fns []api.FunctionDefinition) (func() engine.Constraint, *api.Error) {
	var schema []byte
	var opts []constrain.Option
	param := "response_format"
	switch {
	case mode == toolsForced:
		s, err := callSchema(fns)
		if err != nil {
			return nil, api.NewInvalidRequest("tools", api.CodeInvalidValue, "Invalid function definition: "+err.Error())
		}
		schema, param = s, "tools"
	case rf != nil && rf.WantsJSON():
		schema = rf.SchemaJSON()
		if rf.JSONSchema != nil {
			param = "response_format.json_schema.schema"
			if rf.JSONSchema.Strict != nil && *rf.JSONSchema.Strict {
				opts = append(opts, constrain.Strict(true))
			}
		} else if schema != nil {
			param = "response_format.schema"
		}
	default:
		return nil, nil
	}
	if m.Constraints == nil {
		return nil, api.NewInvalidRequest(param, api.CodeInvalidValue, "This model does not support constrained output.")
	}
	if schema == nil {
		// json_object, and json_schema without a schema: OpenAI makes
		// json_schema.schema optional, and a format that names a schema
		// without giving one promises no shape beyond JSON, so it gets
		// json_object's semantics (any JSON object) rather than a 400.
		return func() engine.Constraint { return m.Constraints.JSON() }, nil
	}
	compiled, err := constrain.CompileSchemaContext(ctx, schema, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return nil, api.NewInvalidRequest("", "", "The request was cancelled while its schema compiled.")
		}
		return nil, api.NewInvalidRequest(param, api.CodeInvalidValue, "Invalid JSON schema: "+err.Error())
	}
	return func() engine.Constraint { return m.Constraints.New(compiled) }, nil
}
