package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// TokenBytes returns the bytes token id stands for, as llama.cpp's
// llama_token_to_piece with special = true: SentencePiece "▁" becomes a
// space and <0xXX> its byte; byte-level BPE characters map back to bytes;
// control, unknown and user-defined tokens give their text verbatim; unused
// and undefined tokens and out-of-range ids give nothing. The result is a
// fresh slice and may be a partial UTF-8 sequence.
func (t *Tokenizer) TokenBytes(id int) []byte {
	return t.appendToken(nil, id)
}

func (t *Tokenizer) appendToken(dst []byte, id int) []byte {
	if id < 0 || id >= len(t.tokens) {
		return dst
	}
	a, text := t.attrs[id], t.tokens[id]
	switch {
	case a&(attrUnknown|attrControl|attrUserDefined) != 0:
		return append(dst, text...)
	case a&attrNormal != 0:
		if t.kind == kindSPM {
			return append(dst, strings.ReplaceAll(text, "▁", " ")...)
		}
		return appendByteDecoded(dst, text)
	case a&attrByte != 0:
		if b, ok := parseByteToken(text); ok {
			return append(dst, b)
		}
	}
	return dst
}

// parseByteToken reads a "<0xXX>" byte-fallback token.
func parseByteToken(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexVal(s[3])
	lo, ok2 := hexVal(s[4])
	return hi<<4 | lo, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// skipped reports whether id renders as nothing when special tokens are not
// wanted: llama.cpp suppresses control and unknown tokens then.
func (t *Tokenizer) skipped(id int, special bool) bool {
	return !special && id >= 0 && id < len(t.tokens) && t.attrs[id]&(attrControl|attrUnknown) != 0
}

// Decode returns the text of ids: the concatenation of their TokenBytes
// (without control and unknown tokens unless special), made valid UTF-8 by
// replacing each invalid byte, and an unfinished character at the end, with
// U+FFFD. No leading space is stripped: a SentencePiece text that Encode
// prefixed with a space decodes with that space.
func (t *Tokenizer) Decode(ids []int, special bool) string {
	var raw []byte
	for _, id := range ids {
		if !t.skipped(id, special) {
			raw = t.appendToken(raw, id)
		}
	}
	var sb strings.Builder
	rest := appendValid(&sb, raw)
	if len(rest) > 0 {
		sb.WriteRune(utf8.RuneError)
	}
	return sb.String()
}

// appendValid writes the valid UTF-8 prefix of b to sb, replacing invalid
// bytes with U+FFFD, and returns the trailing bytes that may still become a
// character when more bytes arrive.
func appendValid(sb *strings.Builder, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			if !utf8.FullRune(b) {
				return b
			}
			sb.WriteRune(utf8.RuneError)
			b = b[1:]
			continue
		}
		sb.Write(b[:n])
		b = b[n:]
	}
	return b
}

// Decoder turns a stream of ids into text incrementally and never returns a
// partial UTF-8 character: bytes of an unfinished character are held until
// it completes (or, at Flush, emitted as U+FFFD). The concatenation of its
// outputs equals Decode of the whole stream. A Decoder is not safe for
// concurrent use.
type Decoder struct {
	t       *Tokenizer
	special bool
	pending []byte
}

// NewDecoder returns a Decoder; special is as for Decode.
func (t *Tokenizer) NewDecoder(special bool) *Decoder {
	return &Decoder{t: t, special: special}
}

// Add feeds one id and returns the text that is now complete.
func (d *Decoder) Add(id int) string {
	if d.t.skipped(id, d.special) {
		return ""
	}
	d.pending = d.t.appendToken(d.pending, id)
	var sb strings.Builder
	rest := appendValid(&sb, d.pending)
	d.pending = append(d.pending[:0], rest...)
	return sb.String()
}

// Flush returns what is still held (as U+FFFD) and resets the Decoder.
func (d *Decoder) Flush() string {
	if len(d.pending) == 0 {
		return ""
	}
	d.pending = d.pending[:0]
	return string(utf8.RuneError)
}
