package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-llm/kiln/engine"
	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/internal/testmodels"
	"github.com/kiln-llm/kiln/model"
	"github.com/kiln-llm/kiln/sample"
	"github.com/kiln-llm/kiln/server"
	"github.com/kiln-llm/kiln/tokenizer"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

const modelID = "stories260K-chatml"

func modelPath(t testing.TB) string {
	t.Helper()
	return testmodels.Path(t, "stories260K-chatml.gguf")
}

// env is a running server on the real handler, engine and model.
type env struct {
	t      *testing.T
	model  *server.Model
	srv    *server.Server
	ts     *httptest.Server
	client openai.Client
	key    string
}

type envOptions struct {
	engine  engine.Options
	keys    []string
	maxBody int64
	// chatTemplate overrides the model's chat template.
	chatTemplate string
	// wrap, when set, replaces the model's generator (tests that watch or
	// fake the engine side).
	wrap func(server.Generator) server.Generator
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	if o.engine.Parallel == 0 {
		o.engine.Parallel = 4
	}
	if o.engine.Ctx == 0 {
		o.engine.Ctx = 512
	}
	if o.engine.KV.Type == model.KVDefault {
		// Several tests hold outputs to llama.cpp's logprobs within 1e-4,
		// which F16 keys and values (the default) do not reach.
		o.engine.KV.Type = model.KVF32
	}
	m, err := server.Load(server.LoadOptions{Path: modelPath(t), ChatTemplate: o.chatTemplate, Engine: o.engine, Workers: 1, Build: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if o.wrap != nil {
		m.Engine = o.wrap(m.Engine)
	}
	srv, err := server.New(server.Config{Models: []*server.Model{m}, APIKeys: o.keys, MaxBodyBytes: o.maxBody})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	key := "unused"
	if len(o.keys) > 0 {
		key = o.keys[0]
	}
	e := &env{t: t, model: m, srv: srv, ts: ts, key: key}
	e.client = openai.NewClient(option.WithBaseURL(ts.URL+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
	return e
}

// raw sends a request and returns status, headers and body.
func (e *env) raw(method, path, body string, hdr ...string) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+e.key)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// sseEvents splits an SSE body into its data payloads, checking the framing:
// every event is exactly "data: <payload>\n\n".
func sseEvents(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	rest := string(body)
	for rest != "" {
		ev, after, ok := strings.Cut(rest, "\n\n")
		if !ok {
			t.Fatalf("SSE body does not end with a blank line: %q", rest)
		}
		if !strings.HasPrefix(ev, "data: ") || strings.Contains(ev, "\n") {
			t.Fatalf("malformed SSE event %q", ev)
		}
		out = append(out, strings.TrimPrefix(ev, "data: "))
		rest = after
	}
	return out
}

// reference runs the model directly (no server, no engine scheduler): the
// tokenizer and a greedy engine.Generate on the same weights.
type reference struct {
	tok   *tokenizer.Tokenizer
	model *model.Model
}

var (
	refOnce sync.Once
	refVal  *reference
	refErr  error
)

func ref(t *testing.T) *reference {
	t.Helper()
	path := modelPath(t)
	refOnce.Do(func() {
		f, err := gguf.Open(path)
		if err != nil {
			refErr = err
			return
		}
		// The file stays mapped for the test binary's life.
		tok, err := tokenizer.FromGGUF(f)
		if err != nil {
			refErr = err
			return
		}
		m, err := model.Load(f, model.Options{Workers: 1, KV: model.KVF32})
		if err != nil {
			refErr = err
			return
		}
		refVal = &reference{tok: tok, model: m}
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	return refVal
}

// greedy returns the greedy continuation of prompt: its ids (end token
// excluded) and text.
func (r *reference) greedy(t *testing.T, prompt []int, n int) ([]int, string) {
	t.Helper()
	cache := r.model.NewCache(1, 512)
	var ids []int
	_, err := engine.Generate(context.Background(), r.model, cache, 0, engine.Request{
		Prompt: prompt, MaxTokens: n, Pick: sample.Greedy, IsEnd: r.tok.IsEOG,
		Emit: func(tok int) error { ids = append(ids, tok); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, r.tok.Decode(ids, false)
}

// chatML is the prompt the chatml template renders for messages (role,
// content pairs) with the generation prompt.
func chatML(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		b.WriteString("<|im_start|>" + pairs[i] + "\n" + pairs[i+1] + "<|im_end|>\n")
	}
	b.WriteString("<|im_start|>assistant\n")
	return b.String()
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lines reads a streamed body line by line until the predicate is true.
func readUntil(t *testing.T, r io.Reader, want string) {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), []byte(want)) {
			return
		}
	}
	t.Fatalf("stream ended before %q", want)
}

// engineOpts keeps F32 keys and values, as newEnv does.
func engineOpts(parallel, ctx, queue int) engine.Options {
	return engine.Options{Parallel: parallel, Ctx: ctx, Queue: queue, KV: model.CacheOptions{Type: model.KVF32}}
}
