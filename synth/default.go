package synth

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kiln-llm/kiln/tensor"
)

// DefaultNotice is what the CLI says whenever it runs the built-in model.
const DefaultNotice = "kiln: no --model given: using the built-in demo model (tiny, random weights: its text is meaningless). " +
	"Run a real model with --model path/to/model.gguf."

// DefaultSpec is the built-in demo model: tiny, deterministic, generated on
// first use so that Kiln runs offline on any machine.
func DefaultSpec() Spec {
	s, _ := Preset("tiny")
	s.Name = "kiln-demo"
	s.Type = tensor.Q8_0
	s.WordsOnly = true
	return s
}

// DefaultModelPath returns the path of the built-in model, writing it under
// dir (the user's cache directory when dir is empty) if it is not there yet.
// The file name carries a version so a changed recipe never reuses a stale file.
func DefaultModelPath(dir string) (string, error) {
	if dir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		dir = filepath.Join(c, "kiln")
	}
	path := filepath.Join(dir, "kiln-demo-v2.gguf")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("synth: built-in model directory: %w", err)
	}
	w, err := Build(DefaultSpec())
	if err != nil {
		return "", err
	}
	if err := w.WriteFile(path); err != nil {
		return "", fmt.Errorf("synth: write built-in model: %w", err)
	}
	return path, nil
}
