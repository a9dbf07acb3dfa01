package synth

import (
	"bytes"
	"crypto/sha256"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/tensor"
)

func writeSpec(t *testing.T, s Spec) (string, []byte) {
	t.Helper()
	w, err := Build(s)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, buf.Bytes()
}

func small(arch string, typ tensor.Type) Spec {
	s := Spec{Arch: arch, Embd: 64, Layers: 2, Heads: 4, HeadsKV: 2, FF: 96, Ctx: 256, RopeBase: 10000, RMSEps: 1e-5, Type: typ, Seed: 3}
	if arch == "qwen3" || arch == "gemma3" {
		s.HeadDim = 32
	}
	if arch == "gemma3" {
		s.SlidingWindow = 8
	}
	return s
}

func TestDeterministic(t *testing.T) {
	_, a := writeSpec(t, small("llama", tensor.Q4_0))
	_, b := writeSpec(t, small("llama", tensor.Q4_0))
	if sha256.Sum256(a) != sha256.Sum256(b) {
		t.Fatal("the same spec gave different files")
	}
	s := small("llama", tensor.Q4_0)
	s.Seed = 4
	_, c := writeSpec(t, s)
	if bytes.Equal(a, c) {
		t.Fatal("a different seed gave the same file")
	}
}

// TestTensorsPerArch checks each architecture's tensor set, shapes and types,
// and that weights follow the stated distribution.
func TestTensorsPerArch(t *testing.T) {
	tests := []struct {
		arch string
		want []string // tensors of layer 0 beyond the common ones
		not  []string
	}{
		{"llama", []string{"blk.0.attn_q.weight", "blk.0.ffn_gate.weight"}, []string{"blk.0.attn_q.bias", "blk.0.attn_q_norm.weight"}},
		{"qwen2", []string{"blk.0.attn_q.bias", "blk.0.attn_k.bias", "blk.0.attn_v.bias"}, []string{"blk.0.attn_q_norm.weight"}},
		{"qwen3", []string{"blk.0.attn_q_norm.weight", "blk.0.attn_k_norm.weight"}, []string{"blk.0.attn_q.bias"}},
		{"gemma3", []string{"blk.0.post_attention_norm.weight", "blk.0.post_ffw_norm.weight", "blk.0.attn_q_norm.weight"}, nil},
		{"phi3", []string{"blk.0.attn_qkv.weight"}, []string{"blk.0.attn_q.weight", "blk.0.ffn_gate.weight"}},
	}
	for _, tt := range tests {
		t.Run(tt.arch, func(t *testing.T) {
			s := small(tt.arch, tensor.F32)
			path, _ := writeSpec(t, s)
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if a, _ := f.RequireString("general.architecture"); a != tt.arch {
				t.Errorf("architecture %q", a)
			}
			if n, _ := f.RequireInt(tt.arch + ".block_count"); n != 2 {
				t.Errorf("block_count %d", n)
			}
			for _, name := range append([]string{"token_embd.weight", "output.weight", "output_norm.weight", "blk.1.ffn_down.weight"}, tt.want...) {
				if _, ok := f.Tensor(name); !ok {
					t.Errorf("missing %s", name)
				}
			}
			for _, name := range tt.not {
				if _, ok := f.Tensor(name); ok {
					t.Errorf("unexpected %s", name)
				}
			}
			hd := s.headDim()
			q := "blk.0.attn_q.weight"
			wantQ := []uint64{64, uint64(4 * hd)}
			if tt.arch == "phi3" {
				q, wantQ = "blk.0.attn_qkv.weight", []uint64{64, uint64(4*hd + 2*2*hd)}
			}
			ti, _ := f.Tensor(q)
			if ti == nil || len(ti.Dims) != 2 || ti.Dims[0] != wantQ[0] || ti.Dims[1] != wantQ[1] {
				t.Errorf("%s dims %v, want %v", q, ti.Dims, wantQ)
			}
			// ffn_down maps ff -> embd: 96 inputs, gain 1, so std 1/sqrt(96).
			down, _ := f.Tensor("blk.0.ffn_down.weight")
			checkStd(t, down, 1/math.Sqrt(96))
			norm, _ := f.Tensor("blk.0.attn_norm.weight")
			checkMean(t, norm, 1, 0.1)
		})
	}
}

func floats(ti *gguf.TensorInfo) []float32 {
	out := make([]float32, ti.Elements())
	if err := tensor.DequantizeRow(ti.Type, ti.Data, out); err != nil {
		panic(err)
	}
	return out
}

func checkStd(t *testing.T, ti *gguf.TensorInfo, want float64) {
	t.Helper()
	var sum, sq float64
	v := floats(ti)
	for _, x := range v {
		sum += float64(x)
		sq += float64(x) * float64(x)
	}
	n := float64(len(v))
	std := math.Sqrt(sq/n - (sum/n)*(sum/n))
	// 6144 samples: the sample std is within 5% with overwhelming probability.
	if math.Abs(std-want)/want > 0.05 {
		t.Errorf("%s: std %.5f, want %.5f", ti.Name, std, want)
	}
}

func checkMean(t *testing.T, ti *gguf.TensorInfo, mean, std float64) {
	t.Helper()
	var sum float64
	v := floats(ti)
	for _, x := range v {
		sum += float64(x)
	}
	// 64 samples of N(1, 0.1^2): the mean is within 4 standard errors (0.05).
	if got := sum / float64(len(v)); math.Abs(got-mean) > 4*std/math.Sqrt(float64(len(v))) {
		t.Errorf("%s: mean %.4f, want %.1f", ti.Name, got, mean)
	}
}

func TestTypeFallback(t *testing.T) {
	// Rows of 64 cannot hold 256-element K-quant blocks: like llama-quantize,
	// fall back to a 32-element type (Q4_0 for Q2_K/Q3_K, whose
	// llama-quantize fallback IQ4_NL Kiln does not read); 1-D norms stay
	// F32.
	for typ, want := range map[tensor.Type]tensor.Type{
		tensor.Q2_K: tensor.Q4_0,
		tensor.Q3_K: tensor.Q4_0,
		tensor.Q4_K: tensor.Q5_0,
		tensor.Q5_K: tensor.Q5_1,
		tensor.Q6_K: tensor.Q8_0,
	} {
		path, _ := writeSpec(t, small("llama", typ))
		f, err := gguf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]tensor.Type{
			"blk.0.attn_q.weight":    want,
			"blk.0.attn_norm.weight": tensor.F32,
		} {
			if ti, _ := f.Tensor(name); ti.Type != want {
				t.Errorf("%s %s: type %v, want %v", typ, name, ti.Type, want)
			}
		}
		f.Close()
	}
	if got := fitType(tensor.Q8_0, 48); got != tensor.F16 {
		t.Errorf("Q8_0 rows of 48: type %v, want F16", got)
	}
	s := small("llama", tensor.Q4_K)
	s.Embd, s.FF, s.Heads, s.HeadsKV = 256, 512, 4, 2
	path, _ := writeSpec(t, s)
	g, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if ti, _ := g.Tensor("blk.0.ffn_up.weight"); ti.Type != tensor.Q4_K {
		t.Errorf("ffn_up with 256-wide rows: type %v, want Q4_K", ti.Type)
	}
}

func TestLlama3RopeFactors(t *testing.T) {
	// The values shared/models/README.md gives for head dim 16, base 500000, factor 8.
	want := []float64{1, 1, 1, 1, 2.6945, 8, 8, 8}
	got := llama3RopeFactors(16, 500000, 8)
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-4 {
			t.Fatalf("factors %v, want %v", got, want)
		}
	}
}

func TestPresetsValidate(t *testing.T) {
	for _, name := range PresetNames() {
		s, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Preset("nope"); err == nil {
		t.Error("unknown preset accepted")
	}
}

func TestInvalidSpecs(t *testing.T) {
	for name, mut := range map[string]func(*Spec){
		"unknown arch":      func(s *Spec) { s.Arch = "gpt-j" },
		"heads not kv mult": func(s *Spec) { s.HeadsKV = 3 },
		"zero layers":       func(s *Spec) { s.Layers = 0 },
		"odd head dim":      func(s *Spec) { s.HeadDim = 15 },
	} {
		s := small("llama", tensor.F32)
		mut(&s)
		if _, err := Build(s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
