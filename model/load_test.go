package model

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/synth"
	"github.com/kiln-llm/kiln/tensor"
)

// fileParts is an editable copy of a GGUF file's contents.
type fileParts struct {
	kv      []gguf.KV
	tensors []gguf.TensorInfo
}

func (p *fileParts) setKV(key string, v any) {
	val, err := gguf.ValueOf(v)
	if err != nil {
		panic(err)
	}
	for i := range p.kv {
		if p.kv[i].Key == key {
			p.kv[i].Value = val
			return
		}
	}
	p.kv = append(p.kv, gguf.KV{Key: key, Value: val})
}

func (p *fileParts) dropKV(key string) {
	p.kv = slices.DeleteFunc(p.kv, func(kv gguf.KV) bool { return kv.Key == key })
}

// renameArch moves every "from." key to "to." and sets general.architecture.
func (p *fileParts) renameArch(from, to string) {
	for i := range p.kv {
		if k, ok := strings.CutPrefix(p.kv[i].Key, from+"."); ok {
			p.kv[i].Key = to + "." + k
		}
	}
	p.setKV("general.architecture", to)
}

func (p *fileParts) tensor(name string) *gguf.TensorInfo {
	for i := range p.tensors {
		if p.tensors[i].Name == name {
			return &p.tensors[i]
		}
	}
	panic("no tensor " + name)
}

func (p *fileParts) dropTensor(name string) {
	p.tensors = slices.DeleteFunc(p.tensors, func(t gguf.TensorInfo) bool { return t.Name == name })
}

// TestLoadErrors edits stories260K.gguf in ways a broken or unsupported file
// could look and checks that Load names the problem.
func TestLoadErrors(t *testing.T) {
	src, err := gguf.Open(modelPath(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	tests := []struct {
		name string
		edit func(p *fileParts)
		want []string // substrings of the error; nil = must load
	}{
		{"unchanged", func(*fileParts) {}, nil},
		{"unknown architecture", func(p *fileParts) { p.renameArch("llama", "mamba") },
			[]string{`unsupported architecture "mamba"`, "stories"}},
		{"missing key", func(p *fileParts) { p.dropKV("llama.block_count") },
			[]string{"llama.block_count"}},
		{"key of wrong type", func(p *fileParts) { p.setKV("llama.embedding_length", "sixty-four") },
			[]string{"llama.embedding_length"}},
		{"kv heads do not divide heads", func(p *fileParts) { p.setKV("llama.attention.head_count_kv", uint32(3)) },
			[]string{"llama.attention.head_count_kv"}},
		{"unsupported rope scaling", func(p *fileParts) { p.setKV("llama.rope.scaling.type", "yarn") },
			[]string{"llama.rope.scaling.type", "yarn"}},
		{"odd rope dimensions", func(p *fileParts) { p.setKV("llama.rope.dimension_count", uint32(7)) },
			[]string{"llama.rope.dimension_count"}},
		{"missing tensor", func(p *fileParts) { p.dropTensor("blk.2.ffn_up.weight") },
			[]string{`"blk.2.ffn_up.weight"`, "missing"}},
		{"missing output norm", func(p *fileParts) { p.dropTensor("output_norm.weight") },
			[]string{`"output_norm.weight"`, "missing"}},
		{"wrong shape", func(p *fileParts) {
			ti := p.tensor("blk.0.attn_k.weight")
			ti.Dims = []uint64{64, 16}
			ti.Data = ti.Data[:64*16*4]
		}, []string{`"blk.0.attn_k.weight"`, "shape"}},
		{"wrong vector length", func(p *fileParts) {
			ti := p.tensor("blk.1.ffn_norm.weight")
			ti.Dims = []uint64{32}
			ti.Data = ti.Data[:32*4]
		}, []string{`"blk.1.ffn_norm.weight"`, "shape"}},
		{"unsupported tensor type", func(p *fileParts) {
			ti := p.tensor("blk.0.attn_q.weight")
			ti.Type = tensor.Q8_1
			ti.Data = make([]byte, 64*2*tensor.Q8_1.BlockBytes())
		}, []string{`"blk.0.attn_q.weight"`, "Q8_1"}},
		{"qwen2 without biases", func(p *fileParts) { p.renameArch("llama", "qwen2") },
			[]string{`"blk.0.attn_q.bias"`, "missing"}},
		{"gemma3 without sliding window", func(p *fileParts) { p.renameArch("llama", "gemma3") },
			[]string{"gemma3.attention.sliding_window"}},
		{"phi3 without fused qkv", func(p *fileParts) { p.renameArch("llama", "phi3") },
			[]string{`"blk.0.attn_qkv.weight"`, "missing"}},

		// Sizes that would overflow or exhaust memory before any tensor check.
		{"block count 2^62", func(p *fileParts) { p.setKV("llama.block_count", uint64(1)<<62) },
			[]string{"llama.block_count", "out of range", "stories-edit.gguf"}},
		{"block count 2^36", func(p *fileParts) { p.setKV("llama.block_count", uint64(1)<<36) },
			[]string{"llama.block_count", "out of range", "stories-edit.gguf"}},
		{"block count at the cap without tensors", func(p *fileParts) { p.setKV("llama.block_count", uint32(4096)) },
			[]string{"llama.block_count", "4096 blocks", "blk.4095.", "stories-edit.gguf"}},
		{"one block more than the file", func(p *fileParts) { p.setKV("llama.block_count", uint32(6)) },
			[]string{"llama.block_count", "blk.5."}},
		{"block count 0", func(p *fileParts) { p.setKV("llama.block_count", uint32(0)) },
			[]string{"llama.block_count", "out of range"}},
		{"head product wraps", func(p *fileParts) {
			p.setKV("llama.attention.head_count", uint64(1)<<62+1)
			p.setKV("llama.attention.head_count_kv", uint64(1)<<62+1)
			p.setKV("llama.attention.key_length", uint32(4))
		}, []string{"llama.attention.head_count", "out of range"}},
		{"head product too large", func(p *fileParts) {
			p.setKV("llama.attention.head_count", uint32(1<<20))
			p.setKV("llama.attention.head_count_kv", uint32(1<<20))
			p.setKV("llama.attention.key_length", uint32(1<<16))
			p.setKV("llama.attention.value_length", uint32(8))
		}, []string{"attention widths out of range"}},
		{"huge kv heads", func(p *fileParts) { p.setKV("llama.attention.head_count_kv", uint64(1)<<40) },
			[]string{"llama.attention.head_count_kv", "out of range"}},
		{"huge key length", func(p *fileParts) { p.setKV("llama.attention.key_length", uint32(1<<17)) },
			[]string{"llama.attention.key_length", "out of range"}},
		{"huge value length", func(p *fileParts) { p.setKV("llama.attention.value_length", int64(-8)) },
			[]string{"llama.attention.value_length", "out of range"}},
		{"more heads than dimensions", func(p *fileParts) {
			p.setKV("llama.attention.head_count", uint32(128))
			p.setKV("llama.attention.head_count_kv", uint32(128))
		}, []string{"llama.attention.key_length", "0 is out of range"}},
		{"huge embedding", func(p *fileParts) { p.setKV("llama.embedding_length", uint64(1)<<40) },
			[]string{"llama.embedding_length", "out of range"}},
		{"huge feed-forward", func(p *fileParts) { p.setKV("llama.feed_forward_length", uint64(1)<<62) },
			[]string{"llama.feed_forward_length", "out of range"}},
		{"huge context", func(p *fileParts) { p.setKV("llama.context_length", uint64(1)<<40) },
			[]string{"llama.context_length", "out of range"}},
		{"zero-row tensor", func(p *fileParts) {
			ti := p.tensor("blk.0.attn_q.weight")
			ti.Dims = []uint64{64, 0}
			ti.Data = nil
		}, []string{`"blk.0.attn_q.weight"`, "shape"}},

		// Per-layer head counts, as llama.cpp accepts them.
		{"equal per-layer head counts", func(p *fileParts) {
			p.setKV("llama.attention.head_count", []uint32{8, 8, 8, 8, 8})
			p.setKV("llama.attention.head_count_kv", []int32{4, 4, 4, 4, 4})
		}, nil},
		{"equal per-layer kv heads", func(p *fileParts) { p.setKV("llama.attention.head_count_kv", []uint32{4, 4, 4, 4, 4}) }, nil},
		{"differing per-layer kv heads", func(p *fileParts) { p.setKV("llama.attention.head_count_kv", []uint32{4, 4, 2, 4, 4}) },
			[]string{"llama.attention.head_count_kv", "per-layer head counts are not supported"}},
		{"differing per-layer heads", func(p *fileParts) { p.setKV("llama.attention.head_count", []uint32{8, 8, 8, 8, 4}) },
			[]string{"llama.attention.head_count", "per-layer head counts are not supported"}},
		{"per-layer heads of wrong length", func(p *fileParts) { p.setKV("llama.attention.head_count", []uint32{8, 8}) },
			[]string{"llama.attention.head_count", "5 per-layer integers"}},
		{"per-layer heads not integers", func(p *fileParts) { p.setKV("llama.attention.head_count", []float32{8, 8, 8, 8, 8}) },
			[]string{"llama.attention.head_count", "5 per-layer integers"}},
		{"equal per-layer heads out of range", func(p *fileParts) {
			p.setKV("llama.attention.head_count", []uint64{1<<62 + 1, 1<<62 + 1, 1<<62 + 1, 1<<62 + 1, 1<<62 + 1})
		}, []string{"llama.attention.head_count", "out of range"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &fileParts{kv: slices.Clone(src.KV), tensors: slices.Clone(src.Tensors)}
			tc.edit(p)
			w := gguf.NewWriter()
			w.Alignment = src.Alignment
			for _, kv := range p.kv {
				if err := w.Set(kv.Key, kv.Value); err != nil {
					t.Fatal(err)
				}
			}
			for _, ti := range p.tensors {
				if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, ti.Data); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "stories-edit.gguf")
			if err := w.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := Load(f, Options{Workers: 1})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if m.Config.Layers != 5 || m.Config.Vocab != 512 || m.Config.Heads != 8 || m.Config.HeadsKV != 4 || m.Config.TiedOutput {
					t.Errorf("config %+v", m.Config)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded, want an error containing %q", tc.want)
			}
			t.Log(err)
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestLoadOptions(t *testing.T) {
	f, err := gguf.Open(modelPath(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Load(f, Options{Workers: -1}); err == nil || !strings.Contains(err.Error(), "Workers") {
		t.Errorf("Workers -1: error %v, want one naming Workers", err)
	}
	if _, err := Load(nil, Options{}); err == nil {
		t.Error("Load(nil) succeeded")
	}
}

// TestConfigs checks the hyper-parameters read from each architecture's file
// against the models README.
func TestConfigs(t *testing.T) {
	tests := []struct {
		file string
		want Config
		swa  []bool
	}{
		{"stories260K.gguf", Config{Arch: "llama", Vocab: 512, Embd: 64, Layers: 5, Heads: 8, HeadsKV: 4, HeadDim: 8, HeadDimV: 8, FF: 172,
			CtxTrain: 2048, RopeDims: 8, RopeBase: 10000, RopeScale: 1, EmbedScale: 1}, nil},
		{"synth-llama-tied-rope3-f32.gguf", Config{Arch: "llama", Vocab: 32000, Embd: 64, Layers: 3, Heads: 4, HeadsKV: 2, HeadDim: 16, HeadDimV: 16,
			FF: 192, CtxTrain: 131072, RopeDims: 16, RopeBase: 500000, RopeScale: 1, EmbedScale: 1, TiedOutput: true}, nil},
		{"synth-qwen2-f32.gguf", Config{Arch: "qwen2", Vocab: 50257, Embd: 64, Layers: 2, Heads: 4, HeadsKV: 2, HeadDim: 16, HeadDimV: 16,
			FF: 160, CtxTrain: 32768, RopeDims: 16, RopeNeox: true, RopeBase: 1e6, RopeScale: 1, EmbedScale: 1, TiedOutput: true}, nil},
		{"synth-qwen3-q4_k.gguf", Config{Arch: "qwen3", Vocab: 512, Embd: 256, Layers: 2, Heads: 8, HeadsKV: 2, HeadDim: 64, HeadDimV: 64,
			FF: 768, CtxTrain: 40960, RopeDims: 64, RopeNeox: true, RopeBase: 1e6, RopeScale: 1, EmbedScale: 1, TiedOutput: true}, nil},
		{"synth-phi3-f32.gguf", Config{Arch: "phi3", Vocab: 32064, Embd: 64, Layers: 2, Heads: 4, HeadsKV: 2, HeadDim: 16, HeadDimV: 16,
			FF: 128, CtxTrain: 4096, RopeDims: 16, RopeNeox: true, RopeBase: 10000, RopeScale: 1, EmbedScale: 1, TiedOutput: true}, nil},
		{"synth-gemma3-f32.gguf", Config{Arch: "gemma3", Vocab: 32000, Embd: 64, Layers: 6, Heads: 4, HeadsKV: 2, HeadDim: 32, HeadDimV: 32,
			FF: 128, CtxTrain: 131072, RopeDims: 32, RopeNeox: true, RopeBase: 1e6, RopeScale: 0.125, RopeBaseSWA: 10000, RopeScaleSWA: 1,
			SlidingWindow: 16, EmbedScale: 8, TiedOutput: true}, []bool{true, true, true, true, true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			m := openModel(t, tc.file)
			got := m.Config
			if tc.want.RopeBaseSWA == 0 {
				tc.want.RopeBaseSWA, tc.want.RopeScaleSWA = tc.want.RopeBase, tc.want.RopeScale
			}
			if tc.swa == nil {
				tc.swa = make([]bool, tc.want.Layers)
			}
			if !slices.Equal(got.SWA, tc.swa) {
				t.Errorf("SWA layers %v, want %v", got.SWA, tc.swa)
			}
			if d := got.AttnScale*got.AttnScale*float32(got.HeadDim) - 1; d > 1e-6 || d < -1e-6 {
				t.Errorf("AttnScale %g, want 1/sqrt(%d)", got.AttnScale, got.HeadDim)
			}
			if got.NormEps <= 0 || got.NormEps > 1e-5 {
				t.Errorf("NormEps %g", got.NormEps)
			}
			got.SWA, got.AttnScale, got.NormEps = nil, 0, 0
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("config\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestGemma3AttnScale checks the query scale of synthetic gemma3 models: 62
// layers is how llama.cpp recognises Gemma 3 27B, which scales by
// 1/sqrt(n_embd/n_head) = 1/sqrt(64/4); any other depth by 1/sqrt(head_dim).
// The 62-layer model must also run: a forward pass gives finite logits.
func TestGemma3AttnScale(t *testing.T) {
	tests := []struct {
		layers int
		want   float32
	}{
		{62, 0.25},
		{61, float32(1 / math.Sqrt(32))},
		{6, float32(1 / math.Sqrt(32))},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("layers=%d", tc.layers), func(t *testing.T) {
			w, err := synth.Build(synth.Spec{Arch: "gemma3", Embd: 64, Layers: tc.layers, Heads: 4, HeadsKV: 2, HeadDim: 32, FF: 64,
				Ctx: 64, RopeBase: 1e6, RMSEps: 1e-6, Tied: true, SlidingWindow: 8, Type: tensor.F32, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "gemma3.gguf")
			if err := w.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := Load(f, Options{Workers: testWorkers})
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Config.AttnScale; math.Abs(float64(got-tc.want)) > 1e-7 {
				t.Errorf("AttnScale %v, want %v", got, tc.want)
			}
			out, err := m.Forward(context.Background(), m.NewCache(1, 4), seqBatch([]int{1, 2, 3}, 0, 0, func(int) bool { return true }))
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range out {
				for _, v := range row {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("non-finite logit %v", v)
					}
				}
			}
		})
	}
}

// TestRepackedWeights loads a synthesized Q4_0 model twice: mapped (the
// GGUF layout) and into private memory, where Load repacks the projections
// (tensor.Repack) and seals the file. The logits of a prompt and of the
// decode steps after it must agree within 1e-4 of the largest logit: the
// integer sums are the same, only the float32 order of the block terms
// differs. A tied token embedding is packed too (it is the output
// projection) and its rows still look up right. Loading the sealed file
// again is refused.
func TestRepackedWeights(t *testing.T) {
	for _, tied := range []bool{false, true} {
		t.Run(fmt.Sprintf("tied=%v", tied), func(t *testing.T) { testRepackedWeights(t, tied) })
	}
}

func testRepackedWeights(t *testing.T, tied bool) {
	w, err := synth.Build(synth.Spec{Arch: "llama", Embd: 256, Layers: 2, Heads: 4, HeadsKV: 2, FF: 224,
		Vocab: 300, Ctx: 64, RopeBase: 1e4, RMSEps: 1e-5, Tied: tied, Type: tensor.Q4_0, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "q4_0.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	run := func(p gguf.Placement) (*Model, [][]float32) {
		f, err := gguf.OpenIn(path, p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		m, err := Load(f, Options{Workers: testWorkers})
		if err != nil {
			t.Fatal(err)
		}
		if p == gguf.HugePages && f.Writable() {
			t.Fatal("Load left the file writable")
		}
		if p == gguf.HugePages && f.Sealed() {
			if _, err := Load(f, Options{Workers: testWorkers}); err == nil {
				t.Fatal("a second Load of a sealed file was not refused")
			}
		}
		c := m.NewCache(1, 32)
		var rows [][]float32
		out, err := m.Forward(context.Background(), c, seqBatch([]int{5, 17, 42, 99, 3}, 0, 0, func(int) bool { return true }))
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, out...)
		for i, tok := range []int{7, 250, 1} {
			out, err := m.Forward(context.Background(), c, seqBatch([]int{tok}, 0, 5+i, func(int) bool { return true }))
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, out...)
		}
		return m, rows
	}
	_, want := run(gguf.Mapped)
	m, got := run(gguf.HugePages)
	if runtime.GOOS == "linux" {
		if !m.layers[0].wq.Packed() || !m.layers[1].wDown.Packed() || !m.output.Packed() || m.tokEmbd.Packed() != tied {
			t.Fatalf("repacked: wq %v, wDown %v, output %v, token embedding %v", m.layers[0].wq.Packed(), m.layers[1].wDown.Packed(), m.output.Packed(), m.tokEmbd.Packed())
		}
		if m.layers[0].wk.Packed() != (m.layers[0].wk.Rows >= 8) {
			t.Fatalf("wk with %d rows: Packed() = %v", m.layers[0].wk.Rows, m.layers[0].wk.Packed())
		}
	}
	var worst float64
	for i := range want {
		var peak float64
		for _, v := range want[i] {
			peak = max(peak, math.Abs(float64(v)))
		}
		for j := range want[i] {
			d := math.Abs(float64(got[i][j]-want[i][j])) / peak
			worst = max(worst, d)
			if d > 1e-4 {
				t.Fatalf("row %d logit %d: repacked %v, GGUF layout %v", i, j, got[i][j], want[i][j])
			}
		}
	}
	t.Logf("largest difference %.3g of the largest logit", worst)
}
