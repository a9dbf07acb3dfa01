package tokenizer

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/internal/testmodels"
)

// englishText returns about 10 KB of ordinary English prose.
func englishText() string {
	const para = `The lighthouse keeper had lived on the island for thirty-one years, and in all that time he had never once missed lighting the lamp. ` +
		`Every evening, just before sunset, he climbed the one hundred and twelve steps of the spiral staircase, trimmed the wick, polished the great lens, and waited. ` +
		`Ships passed in the night: fishing boats heading out to the banks, freighters bound for ports he would never see, and once, memorably, a tall ship with white sails that glowed in the moonlight. ` +
		`He kept a log of them all, written in a careful hand in a series of leather-bound notebooks that filled two shelves in his small kitchen. ` +
		"\"You'll go mad out there,\" his sister had told him when he took the job. \"There's nobody to talk to but the gulls.\" " +
		`But he hadn't gone mad. He'd found, instead, that solitude suited him; that the rhythm of the tides and the turning of the seasons gave his days a shape he'd never found on the mainland. ` +
		`In spring the puffins came back to nest in the cliffs. In summer the sea was calm and blue, and tourists on day trips waved at him from the ferry. ` +
		`Autumn brought storms, some of them fierce enough to shake the tower, and winter brought long nights and a silence so deep he could hear his own heartbeat.` + "\n\n"
	var sb strings.Builder
	for sb.Len() < 10_000 {
		sb.WriteString(para)
	}
	return sb.String()
}

func BenchmarkEncode(b *testing.B) {
	text := englishText()
	for _, rel := range []string{"vocab/ggml-vocab-llama-spm.gguf", "vocab/kiln-vocab-llama3_1.gguf", "vocab/kiln-vocab-qwen3.gguf"} {
		b.Run(filepath.Base(rel), func(b *testing.B) {
			tk := loadTokenizer(b, rel)
			b.SetBytes(int64(len(text)))
			var n int
			for b.Loop() {
				n = len(tk.Encode(text, true, true))
			}
			b.ReportMetric(float64(n), "tokens")
		})
	}
}

func BenchmarkDecoder(b *testing.B) {
	text := englishText()
	tk := loadTokenizer(b, "vocab/kiln-vocab-qwen3.gguf")
	ids := tk.Encode(text, false, false)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		d := tk.NewDecoder(false)
		for _, id := range ids {
			d.Add(id)
		}
		d.Flush()
	}
}

// BenchmarkLoad measures opening a vocabulary GGUF and building the
// Tokenizer from it.
func BenchmarkLoad(b *testing.B) {
	for _, rel := range []string{"vocab/kiln-vocab-llama3_1.gguf", "vocab/kiln-vocab-qwen3.gguf", "vocab/ggml-vocab-llama-spm.gguf"} {
		b.Run(filepath.Base(rel), func(b *testing.B) {
			path := filepath.Join(testmodels.Dir(b), rel)
			for b.Loop() {
				f, err := gguf.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := FromGGUF(f); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}

// BenchmarkNew separates building the Tokenizer from parsing the file.
func BenchmarkNew(b *testing.B) {
	for _, rel := range []string{"vocab/kiln-vocab-llama3_1.gguf", "vocab/kiln-vocab-qwen3.gguf"} {
		b.Run(filepath.Base(rel), func(b *testing.B) {
			f, err := gguf.Open(filepath.Join(testmodels.Dir(b), rel))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			v, err := VocabFromGGUF(f)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := New(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
