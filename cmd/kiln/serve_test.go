package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/internal/testmodels"
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
