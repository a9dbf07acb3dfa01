package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/kiln-llm/kiln/internal/testmodels"
)

func kiln(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// The golden continuation of stories260K from BOS (shared/models/README.md):
// the decoded text of the first 80 greedy tokens.
const storiesGolden = " Once upon a time, there was a little girl named Lily. She loved to play outside in the park. " +
	"One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to"

func TestRunStoriesGolden(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K.gguf")
	out, _, err := kiln(t, "run", "--model", path, "--prompt", "", "--max-tokens", "80", "--threads", "2")
	if err != nil {
		t.Fatal(err)
	}
	if want := storiesGolden; out != want {
		t.Fatalf("kiln run from BOS:\n got %q\nwant %q", out, want)
	}
}

func TestRunPromptContinues(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K.gguf")
	out, _, err := kiln(t, "run", "--model", path, "--prompt", "Once upon a time", "--max-tokens", "8")
	if err != nil {
		t.Fatal(err)
	}
	// Only the continuation is printed, never the prompt.
	if strings.Contains(out, "Once upon a time") || len(strings.TrimSpace(out)) == 0 {
		t.Fatalf("unexpected continuation %q", out)
	}
}

func TestTokenize(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K.gguf")
	out, _, err := kiln(t, "tokenize", "--model", path, "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	if err := json.Unmarshal([]byte(out), &ids); err != nil {
		t.Fatalf("output %q is not a JSON array: %v", out, err)
	}
	// BOS then the golden run's first four tokens " Once upon a time".
	want := []int{1, 403, 407, 261, 378}
	if len(ids) != len(want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("ids %v, want %v", ids, want)
		}
	}
	out, _, err = kiln(t, "tokenize", "--model", path, "--no-bos", "Once")
	if err != nil || strings.TrimSpace(out) != "[403]" {
		t.Fatalf("--no-bos: %q, %v", out, err)
	}
}

func TestInfo(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "synth", "synth-qwen3-q4_k.gguf")
	out, _, err := kiln(t, "info", "--model", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GGUF v3", "1125216 bytes", "tensors:  24 (F32 x9, Q4_K x15)", "qwen3.block_count", "general.architecture"} {
		if !strings.Contains(out, want) {
			t.Errorf("info output lacks %q:\n%s", want, out)
		}
	}
}

func TestDefaultModel(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	out, errOut, err := kiln(t, "run", "--prompt", "the cat", "--max-tokens", "5")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "built-in demo model") || !strings.Contains(errOut, "meaningless") {
		t.Errorf("stderr does not say it is the demo model: %q", errOut)
	}
	if strings.TrimSpace(out) == "" {
		t.Errorf("no text generated")
	}
	// The demo writes words of its vocabulary, never stray bytes.
	for _, r := range out {
		if r == utf8.RuneError || (unicode.IsControl(r) && r != '\n') {
			t.Errorf("demo output %q has a stray byte or control character", out)
			break
		}
	}
	// Deterministic: the same command gives the same text.
	out2, _, err := kiln(t, "run", "--prompt", "the cat", "--max-tokens", "5")
	if err != nil || out2 != out {
		t.Errorf("second run %q (%v), first %q", out2, err, out)
	}
}

func TestSynthCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "q.gguf")
	if _, _, err := kiln(t, "synth", "--out", path, "--arch", "qwen3", "--embd", "64", "--heads", "4", "--heads-kv", "2", "--head-dim", "32", "--ff", "64", "--type", "q8_0"); err != nil {
		t.Fatal(err)
	}
	out, _, err := kiln(t, "run", "--model", path, "--prompt", "the", "--max-tokens", "3")
	if err != nil {
		t.Fatalf("running the synthesized model: %v", err)
	}
	_ = out
	info, _, err := kiln(t, "info", "--model", path)
	if err != nil || !strings.Contains(info, "Q8_0 x") || !strings.Contains(info, "qwen3.attention.key_length") {
		t.Fatalf("info of synthesized model: %v\n%s", err, info)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, ""},
		{"unknown command", []string{"bake"}, ""},
		{"missing file", []string{"info", "--model", "/nonexistent/x.gguf"}, "/nonexistent/x.gguf"},
		{"not gguf", []string{"info", "--model", "main.go"}, "main.go"},
		{"synth without out", []string{"synth"}, "--out"},
		{"synth bad type", []string{"synth", "--out", "x", "--type", "q9"}, "q9"},
		{"run stray arg", []string{"run", "hello"}, "unexpected argument"},
		{"tokenize no text", []string{"tokenize"}, "text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := kiln(t, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}
