package tokenizer

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

var allVocabs = []string{
	"vocab/ggml-vocab-gpt-2.gguf",
	"vocab/ggml-vocab-starcoder.gguf",
	"vocab/ggml-vocab-deepseek-llm.gguf",
	"vocab/ggml-vocab-llama-spm.gguf",
	"vocab/ggml-vocab-phi-3.gguf",
	"vocab/kiln-vocab-llama3_1.gguf",
	"vocab/kiln-vocab-qwen3.gguf",
	"stories260K.gguf",
}

// decodeStream runs ids through a Decoder, checking every output is valid
// UTF-8, and returns the concatenation.
func decodeStream(t *testing.T, tk *Tokenizer, ids []int, special bool) string {
	t.Helper()
	d := tk.NewDecoder(special)
	var sb strings.Builder
	for _, id := range ids {
		s := d.Add(id)
		if !utf8.ValidString(s) {
			t.Fatalf("Decoder.Add(%d) returned invalid UTF-8 %q", id, s)
		}
		sb.WriteString(s)
	}
	sb.WriteString(d.Flush())
	return sb.String()
}

// TestRoundTrip checks Decode(Encode(s)) == s on the corpora for every
// vocabulary (SentencePiece output keeps the space Encode prefixed), and
// that the incremental Decoder agrees with Decode.
func TestRoundTrip(t *testing.T) {
	corpus := testCorpus(t)
	for _, rel := range allVocabs {
		t.Run(rel, func(t *testing.T) {
			tk := loadTokenizer(t, rel)
			n := 0
			for _, text := range corpus {
				if !utf8.ValidString(text) || strings.Contains(text, "▁") {
					continue // "▁" is SentencePiece's space and cannot survive
				}
				for _, parse := range []bool{false, true} {
					ids := tk.Encode(text, false, parse)
					want := text
					if tk.kind == kindSPM && text != "" {
						want = " " + text
						if parse {
							continue // spaces are re-inserted after parsed special tokens
						}
					}
					if got := tk.Decode(ids, true); got != want {
						t.Errorf("Decode(Encode(%q, parse=%v)) = %q", text, parse, got)
					}
					if got, want := decodeStream(t, tk, ids, true), tk.Decode(ids, true); got != want {
						t.Errorf("Decoder over %q = %q, Decode = %q", text, got, want)
					}
					n++
				}
			}
			t.Logf("%d round trips", n)
		})
	}
}

// TestDecoderRandomIDs feeds random id streams (rich in byte tokens, which
// split characters) and checks every prefix yields valid UTF-8 and the
// concatenation equals Decode.
func TestDecoderRandomIDs(t *testing.T) {
	for _, rel := range []string{"vocab/ggml-vocab-llama-spm.gguf", "vocab/kiln-vocab-qwen3.gguf"} {
		t.Run(rel, func(t *testing.T) {
			tk := loadTokenizer(t, rel)
			rng := rand.New(rand.NewPCG(1, 2))
			for range 200 {
				ids := make([]int, rng.IntN(40))
				for i := range ids {
					switch rng.IntN(3) {
					case 0:
						ids[i] = rng.IntN(tk.Len())
					case 1:
						ids[i] = int(tk.byteTok[rng.IntN(256)])
					default:
						ids[i] = int(tk.byteTok[0x80+rng.IntN(0x80)])
					}
				}
				for _, special := range []bool{false, true} {
					if got, want := decodeStream(t, tk, ids, special), tk.Decode(ids, special); got != want {
						t.Fatalf("ids %v special=%v: Decoder %q, Decode %q", ids, special, got, want)
					}
				}
			}
		})
	}
}

// TestEmojiByteFallback: emoji missing from the Llama 2 vocabulary are
// spelled with byte tokens, and the Decoder releases them whole.
func TestEmojiByteFallback(t *testing.T) {
	tk := loadTokenizer(t, "vocab/ggml-vocab-llama-spm.gguf")
	ids := tk.Encode("🦙", false, false)
	var outs []string
	d := tk.NewDecoder(false)
	for _, id := range ids {
		outs = append(outs, d.Add(id))
	}
	want := []string{" ", "", "", "", "🦙"} // ▁ then <0xF0> <0x9F> <0xA6> <0x99>
	if len(outs) != len(want) {
		t.Fatalf("ids %v gave outputs %q, want %q", ids, outs, want)
	}
	for i := range want {
		if outs[i] != want[i] {
			t.Fatalf("ids %v gave outputs %q, want %q", ids, outs, want)
		}
	}
}

// FuzzEncode: no input makes Encode or Decode panic, and valid UTF-8
// round-trips through byte-level BPE and SentencePiece (with its space).
func FuzzEncode(f *testing.F) {
	for _, s := range testCorpus(f) {
		f.Add(s)
	}
	f.Add("\xff\xfe<s>\xc3")
	f.Add("<|im_start|>user\n\xed\xa0\x80hi<|im_end|>")
	var tks []*Tokenizer
	for _, rel := range allVocabs {
		tks = append(tks, loadTokenizer(f, rel))
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, tk := range tks {
			for _, parse := range []bool{false, true} {
				ids := tk.Encode(text, true, parse)
				dec := tk.Decode(ids, true)
				if !utf8.ValidString(dec) {
					t.Fatalf("Decode returned invalid UTF-8 %q", dec)
				}
				if parse || !utf8.ValidString(text) || strings.Contains(text, "▁") {
					continue
				}
				body := tk.Decode(tk.Encode(text, false, false), true)
				want := text
				if tk.kind == kindSPM && text != "" {
					want = " " + text
				}
				if body != want {
					t.Fatalf("round trip of %q gave %q", text, body)
				}
			}
		}
	})
}
