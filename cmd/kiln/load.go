package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/kiln-llm/kiln/engine"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/model"
	"github.com/kiln-llm/kiln/server"
	"github.com/kiln-llm/kiln/synth"
	"github.com/kiln-llm/kiln/tokenizer"
)

// modelFlag registers --model; an empty value means the built-in demo model.
func modelFlag(fs *flag.FlagSet) *string {
	return fs.String("model", "", "path of a GGUF model file (default: the built-in demo model)")
}

// kvTypeFlag registers --kv-type, the element type of cached keys and values.
func kvTypeFlag(fs *flag.FlagSet) *string {
	return fs.String("kv-type", "f16", "element type of the KV cache: f16, f32 or q8_0")
}

// mmapFlag registers --mmap, which keeps the model file mapped instead of
// reading its weights into huge pages.
func mmapFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("mmap", false, "map the model file instead of reading it into 2 MiB pages: starts at once and shares the page cache with other processes, but decodes 5-20% slower")
}

// batchTokensFlag registers --batch-tokens, the engine's per-step token
// budget (engine.Options.MaxBatchTokens).
func batchTokensFlag(fs *flag.FlagSet) *int {
	return fs.Int("batch-tokens", engine.DefaultMaxBatchTokens, "most tokens one model step computes, prompt chunks filling what decoding streams leave: streams wait for each step, so a smaller budget bounds the gaps between their tokens while new prompts arrive, at the cost of prompt speed")
}

// stepTargetFlag registers --step-target (engine.Options.StepTarget);
// stepTarget turns its value into the option.
func stepTargetFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("step-target", engine.DefaultStepTarget, "how long a model step that carries decoding streams should take: prompt chunks beside them are cut to fit (never below 32 tokens), bounding the gaps between the streams' tokens while new prompts arrive; 0 turns it off, leaving only --batch-tokens")
}

func stepTarget(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// placement turns --mmap into where the file's bytes go.
func placement(mmap bool) gguf.Placement {
	if mmap {
		return gguf.Mapped
	}
	return gguf.HugePages
}

// heapAllowance is what the Go heap may hold beyond the KV cache: the
// activations of a step (tens of MB for a 512-token prompt of a 1B model),
// buffers and runtime. The weights are outside the heap. With RSS, binary
// and stacks it keeps the process within the model file + KV cache + 150 MB.
const heapAllowance = 120 << 20

// limitHeap sets the collector's soft memory limit to kvBytes plus
// heapAllowance, unless GOMEMLIMIT is set. Without it the default GOGC lets
// the heap reach twice its live size after a long prompt, and the resident
// memory of a 1B model went over its budget by that much.
func limitHeap(kvBytes int64) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(kvBytes + heapAllowance)
	}
}

// kvBytes sums what the KV caches of the models' engines can grow to.
func kvBytes(models []*server.Model) int64 {
	var n int64
	for _, m := range models {
		if e, ok := m.Engine.(interface{ KVBytes() int64 }); ok {
			n += e.KVBytes()
		}
	}
	return n
}

// parseKV reads a --kv-type value.
func parseKV(s string) (model.KVType, error) {
	t, err := model.ParseKVType(s)
	if err != nil {
		return 0, fmt.Errorf("--kv-type: %w", err)
	}
	return t, nil
}

// openModelFile opens path, or the built-in demo model (telling stderr so) when it is empty.
func openModelFile(path string, place gguf.Placement, stderr io.Writer) (*gguf.File, error) {
	if path == "" {
		p, err := synth.DefaultModelPath("")
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(stderr, synth.DefaultNotice)
		path = p
	}
	return gguf.OpenIn(path, place)
}

// loaded is a model file with its tokenizer and, when weights are wanted, the model.
type loaded struct {
	file  *gguf.File
	tok   *tokenizer.Tokenizer
	model *model.Model
}

// load opens path with its tokenizer and, when opt is not nil, its weights
// (placed as place says; without weights the file is only mapped).
func load(path string, opt *model.Options, place gguf.Placement, stderr io.Writer) (*loaded, error) {
	if opt == nil {
		place = gguf.Mapped
	}
	f, err := openModelFile(path, place, stderr)
	if err != nil {
		return nil, err
	}
	l := &loaded{file: f}
	if l.tok, err = tokenizer.FromGGUF(f); err != nil {
		f.Close()
		return nil, err
	}
	if opt != nil {
		if l.model, err = model.Load(f, *opt); err != nil {
			f.Close()
			return nil, err
		}
	}
	return l, nil
}

func (l *loaded) Close() error { return l.file.Close() }
