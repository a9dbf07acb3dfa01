package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/internal/testmodels"
	"github.com/kiln-llm/kiln/server"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeStartsAndStops runs `kiln serve` on a free port with a named
// model and an API key, checks the log line, auth and the model id, and
// that cancelling (what SIGINT/SIGTERM do) shuts it down cleanly.
func TestServeStartsAndStops(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K-chatml.gguf")
	ctx, cancel := context.WithCancel(context.Background())
	var errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--model", "story=" + path, "--port", "0", "--api-key", "k1", "--threads", "1"}, &bytes.Buffer{}, &errOut)
	}()
	re := regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+) models=story auth=true`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(errOut.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		cancel()
		t.Fatalf("no listening line in the log:\n%s", errOut.String())
	}
	get := func(path, key string) int {
		req, _ := http.NewRequest("GET", url+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("/v1/models/story", "k1"); s != 200 {
		t.Errorf("named model: %d", s)
	}
	if s := get("/v1/models", ""); s != 401 {
		t.Errorf("no key: %d, want 401", s)
	}
	if s := get("/health", ""); s != 200 {
		t.Errorf("health: %d", s)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not shut down")
	}
}

// TestTemplateCommand checks that `kiln template` prints exactly the
// rendered prompt: the GGUF's ChatML template, and a template file given
// with --chat-template-file.
func TestTemplateCommand(t *testing.T) {
	dir := testmodels.Dir(t)
	tmp := t.TempDir()
	req := filepath.Join(tmp, "req.json")
	body := `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi <s>"}],"add_generation_prompt":true}`
	if err := os.WriteFile(req, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	tf := filepath.Join(tmp, "t.jinja")
	if err := os.WriteFile(tf, []byte(`{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"gguf template", []string{"--model", filepath.Join(dir, "stories260K-chatml.gguf")},
			"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi <s><|im_end|>\n<|im_start|>assistant\n"},
		{"template file", []string{"--model", filepath.Join(dir, "stories260K-chatml.gguf"), "--chat-template-file", tf},
			"[system]Be brief.[user]Hi <s>[assistant]"},
		{"no template: ChatML", []string{"--model", filepath.Join(dir, "stories260K.gguf")},
			"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi <s><|im_end|>\n<|im_start|>assistant\n"},
	}
	for _, c := range cases {
		out, errOut, err := kiln(t, append(append([]string{"template"}, c.args...), "--request", req)...)
		if err != nil {
			t.Fatalf("%s: %v (%s)", c.name, err, errOut)
		}
		if out != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, out, c.want)
		}
		if strings.Contains(c.name, "ChatML") != strings.Contains(errOut, "using ChatML") {
			t.Errorf("%s: stderr %q", c.name, errOut)
		}
	}
}

// TestBuildID checks what identifies a build in system_fingerprint: a clean
// VCS revision as recorded, otherwise the executable's own hash, so that two
// different binaries never share an id and one binary always has the same.
func TestBuildID(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) func() (string, error) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return func() (string, error) { return p, nil }
	}
	exeA, exeB := write("a", "build A"), write("b", "build B")
	sumA := sha256.Sum256([]byte("build A"))
	hashA := hex.EncodeToString(sumA[:])[:12]
	vcs := func(kv ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{}
		for i := 0; i+1 < len(kv); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return info
	}
	missing := func() (string, error) { return "", errors.New("no executable") }
	rev := "0123456789abcdef0123456789abcdef01234567"
	cases := []struct {
		name string
		info *debug.BuildInfo
		exe  func() (string, error)
		want string
	}{
		{"clean revision", vcs("vcs.revision", rev, "vcs.modified", "false"), exeA, rev[:12]},
		{"modified tree", vcs("vcs.revision", rev, "vcs.modified", "true"), exeA, rev[:12] + "-dirty-" + hashA},
		{"no vcs stamp", vcs(), exeA, "exe-" + hashA},
		{"no build info", nil, exeA, "exe-" + hashA},
		{"nothing to hash", vcs(), missing, "unknown"},
	}
	for _, c := range cases {
		if got := buildIDFrom(c.info, c.exe); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if a, b := buildIDFrom(vcs(), exeA), buildIDFrom(vcs(), exeB); a == b {
		t.Errorf("two different executables share the build id %q", a)
	}
	// This test binary has no VCS stamp: its id is its own hash.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got, want := buildID(), "exe-"+hex.EncodeToString(sum[:])[:12]; got != want {
		info, _ := debug.ReadBuildInfo()
		t.Errorf("buildID() = %q, want %q (build info %v)", got, want, info)
	}
}

// builtKiln is the kiln binary built once for the tests that run it as a
// separate process, in a directory TestMain removes.
var builtKiln struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtKiln.dir != "" {
		os.RemoveAll(builtKiln.dir)
	}
	os.Exit(code)
}

// kilnBinary builds ./cmd/kiln (without VCS stamping, so that the build is
// identified by the hash of its own file) and returns its path.
func kilnBinary(t *testing.T) string {
	t.Helper()
	builtKiln.once.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			// go test does not always put the toolchain on PATH.
			gobin = filepath.Join(build.Default.GOROOT, "bin", "go")
		}
		if builtKiln.dir, builtKiln.err = os.MkdirTemp("", "kiln-bin-"); builtKiln.err != nil {
			return
		}
		builtKiln.path = filepath.Join(builtKiln.dir, "kiln")
		cmd := exec.Command(gobin, "build", "-buildvcs=false", "-o", builtKiln.path, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			builtKiln.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtKiln.err != nil {
		t.Fatal(builtKiln.err)
	}
	return builtKiln.path
}

// startKiln runs `kiln serve args...` on a free port and returns its base
// URL, read from the listening line of its log; the process is stopped with
// SIGTERM at the end of the test.
func startKiln(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(kilnBinary(t), append([]string{"serve", "--port", "0", "--threads", "1"}, args...)...)
	var log syncBuffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("kiln serve did not stop on SIGTERM:\n%s", log.String())
		}
	})
	re := regexp.MustCompile(`msg="kiln listening" url=(http://[^ ]+)`)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(log.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-exited:
			t.Fatalf("kiln serve exited (%v):\n%s", err, log.String())
		default:
		}
	}
	t.Fatalf("kiln serve did not log its address:\n%s", log.String())
	return ""
}

// TestServeBinaryOpenAI drives the real `kiln serve` process through the
// openai-go v3 SDK: models, chat and completions streamed and not (greedy
// output against the model's golden continuation), the build fingerprint,
// and every error status as the SDK reports it.
func TestServeBinaryOpenAI(t *testing.T) {
	modelFile := filepath.Join(testmodels.Dir(t), "stories260K-chatml.gguf")
	const key = "sk-binary-test"
	url := startKiln(t, "--model", modelFile, "--api-key", key, "--parallel", "1", "--queue", "0", "--max-body", "4096")
	client := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
	ctx := context.Background()
	const id = "stories260K-chatml"

	// system_fingerprint: this binary's hash (no VCS stamp) and the model's.
	bin, err := os.ReadFile(kilnBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	binSum := sha256.Sum256(bin)
	modelHash, err := server.FileHash(modelFile)
	if err != nil {
		t.Fatal(err)
	}
	wantFP := "fp_kiln-exe-" + hex.EncodeToString(binSum[:])[:12] + "-" + modelHash[:12]

	t.Run("models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Data) != 1 || page.Data[0].ID != id || page.Data[0].Object != "model" {
			t.Errorf("models %+v", page.Data)
		}
		m, err := client.Models.Get(ctx, id)
		if err != nil || m.ID != id {
			t.Errorf("model %+v, %v", m, err)
		}
	})

	t.Run("completions", func(t *testing.T) {
		p := openai.CompletionNewParams{Model: id, Prompt: openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: []int64{1}},
			MaxTokens: openai.Int(40), Temperature: openai.Float(0)}
		resp, err := client.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		c := resp.Choices[0]
		if !strings.HasPrefix(storiesGolden, c.Text) || len(c.Text) < 100 || c.FinishReason != "length" || resp.Usage.CompletionTokens != 40 {
			t.Errorf("completion %q (%s, %d tokens), want a 40-token prefix of the golden text", c.Text, c.FinishReason, resp.Usage.CompletionTokens)
		}
		if resp.SystemFingerprint != wantFP {
			t.Errorf("system_fingerprint %q, want %q", resp.SystemFingerprint, wantFP)
		}
		s := client.Completions.NewStreaming(ctx, p)
		var text string
		for s.Next() {
			for _, ch := range s.Current().Choices {
				text += ch.Text
			}
		}
		if err := s.Err(); err != nil || text != c.Text {
			t.Errorf("streamed %q (%v), want %q", text, err, c.Text)
		}
	})

	t.Run("chat", func(t *testing.T) {
		p := openai.ChatCompletionNewParams{Model: id, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me a story.")},
			MaxTokens: openai.Int(16), Temperature: openai.Float(0), Logprobs: openai.Bool(true)}
		resp, err := client.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		c := resp.Choices[0]
		var joined string
		for _, lp := range c.Logprobs.Content {
			joined += lp.Token
		}
		//lint:ignore SA1019 system_fingerprint is part of the API under test
		fp := resp.SystemFingerprint
		if c.Message.Content == "" || joined != c.Message.Content || c.FinishReason != "length" || resp.Usage.CompletionTokens != 16 || fp != wantFP {
			t.Errorf("chat %q (logprob tokens %q, %s, %d tokens, %s)", c.Message.Content, joined, c.FinishReason, resp.Usage.CompletionTokens, fp)
		}
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		s := client.Chat.Completions.NewStreaming(ctx, p)
		acc := openai.ChatCompletionAccumulator{}
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if got := acc.Choices[0].Message.Content; got != c.Message.Content || acc.Usage.CompletionTokens != 16 {
			t.Errorf("streamed %q (%d tokens), want %q", got, acc.Usage.CompletionTokens, c.Message.Content)
		}
	})

	t.Run("errors", func(t *testing.T) {
		status := func(err error) (int, string) {
			var ae *openai.Error
			if !errors.As(err, &ae) {
				return 0, fmt.Sprint(err)
			}
			return ae.StatusCode, ae.Code + " " + ae.Param
		}
		chat := openai.ChatCompletionNewParams{Model: id, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}, MaxTokens: openai.Int(2)}
		wrongKey := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("sk-wrong"), option.WithMaxRetries(0))
		_, e401 := wrongKey.Models.List(ctx)
		unknown := chat
		unknown.Model = "gpt-4"
		_, e404 := client.Chat.Completions.New(ctx, unknown)
		_, e400 := client.Chat.Completions.New(ctx, chat, option.WithJSONSet("temperature", "hot"))
		e405 := client.Get(ctx, "chat/completions", nil, nil)
		_, e413 := client.Completions.New(ctx, openai.CompletionNewParams{Model: id, Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(strings.Repeat("a", 5000))}})
		cases := []struct {
			name string
			err  error
			want int
			info string
		}{
			{"401", e401, 401, "invalid_api_key "},
			{"404", e404, 404, "model_not_found model"},
			{"400", e400, 400, "invalid_type temperature"},
			{"405", e405, 405, "method_not_allowed "},
			{"413", e413, 413, "request_too_large "},
		}
		for _, c := range cases {
			if got, info := status(c.err); got != c.want || info != c.info {
				t.Errorf("%s: status %d (%s), want %d (%s)", c.name, got, info, c.want, c.info)
			}
		}

		// 429: the one slot (--parallel 1, --queue 0) is held by a long
		// stream (end-of-text banned), so the next request finds the
		// server busy; once the stream is closed, it is served.
		hold, cancel := context.WithCancel(ctx)
		long := openai.CompletionNewParams{Model: id, Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once")},
			MaxTokens: openai.Int(2000), LogitBias: map[string]int64{"2": -100}}
		s := client.Completions.NewStreaming(hold, long)
		if !s.Next() {
			cancel()
			t.Fatalf("long stream: %v", s.Err())
		}
		_, e429 := client.Chat.Completions.New(ctx, chat)
		var ae *openai.Error
		if !errors.As(e429, &ae) || ae.StatusCode != 429 || ae.Response.Header.Get("Retry-After") == "" {
			t.Errorf("busy server: %v, want 429 with Retry-After", e429)
		}
		cancel()
		s.Close()
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, err = client.Chat.Completions.New(ctx, chat); err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("after the stream closed: %v", err)
		}
	})
}
