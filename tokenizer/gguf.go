package tokenizer

import (
	"fmt"

	"github.com/kiln-llm/kiln/gguf"
)

// VocabFromGGUF reads the tokenizer.ggml.* keys of f into a Vocab, applying
// llama.cpp's defaults for absent keys: special ids 1/2/0 (bos/eos/unk) for
// "llama" vocabularies and 11/11/none for "gpt2" ones, add_bos true for
// "llama" and for Llama-3-style pre-tokenizers, add_space_prefix true for
// "llama" only.
func VocabFromGGUF(f *gguf.File) (Vocab, error) {
	var v Vocab
	var err error
	if v.Model, err = f.RequireString("tokenizer.ggml.model"); err != nil {
		return v, fmt.Errorf("tokenizer: %w", err)
	}
	if v.Pre, err = f.StringOr("tokenizer.ggml.pre", ""); err != nil {
		return v, fmt.Errorf("tokenizer: %w", err)
	}
	if v.Name, err = f.StringOr("general.name", ""); err != nil {
		return v, fmt.Errorf("tokenizer: %w", err)
	}
	if v.Tokens, err = f.Strings("tokenizer.ggml.tokens"); err != nil {
		return v, fmt.Errorf("tokenizer: %w", err)
	}
	if _, ok := f.Get("tokenizer.ggml.scores"); ok {
		if v.Scores, err = f.Float32s("tokenizer.ggml.scores"); err != nil {
			return v, fmt.Errorf("tokenizer: %w", err)
		}
	}
	if _, ok := f.Get("tokenizer.ggml.token_type"); ok {
		types, err := f.Ints("tokenizer.ggml.token_type")
		if err != nil {
			return v, fmt.Errorf("tokenizer: %w", err)
		}
		v.Types = make([]int32, len(types))
		for i, x := range types {
			v.Types[i] = int32(x)
		}
	}

	// Defaults by model type, as in llama.cpp's llama_vocab::impl::load.
	v.BOS, v.EOS, v.UNK, v.PAD, v.EOT, v.EOM = -1, -1, -1, -1, -1, -1
	switch v.Model {
	case "llama":
		v.BOS, v.EOS, v.UNK = 1, 2, 0
		v.AddBOS, v.AddSpacePrefix = true, true
	case "gpt2":
		if _, ok := f.Get("tokenizer.ggml.merges"); !ok {
			return v, f.Errorf("tokenizer: cannot find tokenizer merges (tokenizer.ggml.merges)")
		}
		if v.Merges, err = f.Strings("tokenizer.ggml.merges"); err != nil {
			return v, fmt.Errorf("tokenizer: %w", err)
		}
		v.BOS, v.EOS = 11, 11
		spec, ok := lookupPre(v.Pre)
		if !ok {
			return v, f.Errorf("tokenizer: unknown pre-tokenizer type %q (tokenizer.ggml.pre)", v.Pre)
		}
		v.AddBOS = spec.addBOS
	default:
		return v, f.Errorf("tokenizer: unknown tokenizer model %q (tokenizer.ggml.model)", v.Model)
	}
	if v.AddSpacePrefix, err = f.BoolOr("tokenizer.ggml.add_space_prefix", v.AddSpacePrefix); err != nil {
		return v, fmt.Errorf("tokenizer: %w", err)
	}

	n := int64(len(v.Tokens))
	ids := []struct {
		key string
		dst *int
	}{
		{"tokenizer.ggml.bos_token_id", &v.BOS},
		{"tokenizer.ggml.eos_token_id", &v.EOS},
		{"tokenizer.ggml.eot_token_id", &v.EOT},
		{"tokenizer.ggml.eom_token_id", &v.EOM},
		{"tokenizer.ggml.unknown_token_id", &v.UNK},
		{"tokenizer.ggml.padding_token_id", &v.PAD},
	}
	for _, it := range ids {
		if int64(*it.dst) >= n {
			*it.dst = -1 // a default outside the vocabulary is disabled
		}
		id, err := f.IntOr(it.key, -1)
		if err != nil {
			return v, fmt.Errorf("tokenizer: %w", err)
		}
		// An id outside the vocabulary (often 0xFFFFFFFF for "none")
		// leaves the default in place, as llama.cpp does.
		if id >= 0 && id < n {
			*it.dst = int(id)
		}
	}
	if v.AddBOS, err = f.BoolOr("tokenizer.ggml.add_bos_token", v.AddBOS); err != nil {
		return v, fmt.Errorf("tokenizer: %w", err)
	}
	if v.AddEOS, err = f.BoolOr("tokenizer.ggml.add_eos_token", v.AddEOS); err != nil {
		return v, fmt.Errorf("tokenizer: %w", err)
	}
	return v, nil
}

// FromGGUF builds the Tokenizer described by f's tokenizer.ggml.* keys.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	v, err := VocabFromGGUF(f)
	if err != nil {
		return nil, err
	}
	t, err := New(v)
	if err != nil {
		return nil, f.Errorf("%w", err)
	}
	return t, nil
}
