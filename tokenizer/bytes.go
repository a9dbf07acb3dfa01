package tokenizer

import "unicode/utf8"

// byteUnicode is GPT-2's byte-to-unicode table: byte-level BPE vocabularies
// spell every byte as a printable character so that tokens are valid text.
// Printable Latin-1 bytes stand for themselves; the other 68 bytes are
// numbered from U+0100 upwards in byte order.
var byteUnicode = func() (tab [256]string) {
	next := rune(256)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			tab[b] = string(rune(b))
			continue
		}
		tab[b] = string(next)
		next++
	}
	return tab
}()

// unicodeByte inverts byteUnicode; -1 marks runes no byte maps to.
var unicodeByte = func() (tab [324]int16) {
	for i := range tab {
		tab[i] = -1
	}
	for b, s := range byteUnicode {
		r, _ := utf8.DecodeRuneInString(s)
		tab[r] = int16(b)
	}
	return tab
}()

// appendByteDecoded undoes the byte-to-unicode mapping of a BPE token text.
// Characters outside the mapping (possible in hand-made vocabularies) are
// kept as their own UTF-8; llama.cpp would print an "[UNK_BYTE_...]" marker
// instead, which helps nobody reading the output.
func appendByteDecoded(dst []byte, s string) []byte {
	for _, r := range s {
		if r >= 0 && int(r) < len(unicodeByte) && unicodeByte[r] >= 0 {
			dst = append(dst, byte(unicodeByte[r]))
			continue
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// decodeRune decodes one code point the way llama.cpp's
// unicode_cpt_from_utf8 does: it checks the lead byte and the continuation
// bytes but not overlong forms or surrogates, and an undecodable byte
// becomes U+FFFD consuming one byte. Code points beyond U+10FFFF, which
// llama.cpp cannot re-encode, also become U+FFFD.
func decodeRune(s string, i int) (rune, int) {
	b0 := s[i]
	switch {
	case b0 < 0x80:
		return rune(b0), 1
	case b0&0x40 == 0:
		return utf8.RuneError, 1
	case b0&0x20 == 0:
		if i+1 < len(s) && s[i+1]&0xC0 == 0x80 {
			return rune(b0&0x1F)<<6 | rune(s[i+1]&0x3F), 2
		}
	case b0&0x10 == 0:
		if i+2 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 {
			return rune(b0&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F), 3
		}
	case b0&0x08 == 0:
		if i+3 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 && s[i+3]&0xC0 == 0x80 {
			r := rune(b0&0x07)<<18 | rune(s[i+1]&0x3F)<<12 | rune(s[i+2]&0x3F)<<6 | rune(s[i+3]&0x3F)
			if r > 0x10FFFF {
				return utf8.RuneError, 4
			}
			return r, 4
		}
	}
	return utf8.RuneError, 1
}

// appendCodePoint encodes r like llama.cpp's unicode_cpt_to_utf8, which
// (unlike utf8.AppendRune) keeps surrogate code points as three bytes.
func appendCodePoint(dst []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(dst, byte(r))
	case r < 0x800:
		return append(dst, 0xC0|byte(r>>6), 0x80|byte(r&0x3F))
	case r < 0x10000:
		return append(dst, 0xE0|byte(r>>12), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
	}
	return append(dst, 0xF0|byte(r>>18), 0x80|byte(r>>12&0x3F), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
}

// utf8SeqLen is llama.cpp's unicode_len_utf8: the sequence length implied
// by a lead byte, judged on its high nibble only.
func utf8SeqLen(b byte) int {
	switch {
	case b < 0xC0:
		return 1
	case b < 0xE0:
		return 2
	case b < 0xF0:
		return 3
	}
	return 4
}
