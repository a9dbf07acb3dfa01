package template

import (
	"regexp"
	"strings"
)

// gonja's parser only accepts "x if c else y" as the whole expression of an
// output tag or a set statement, but Hugging Face templates also nest it, as
// in gemma3's '\n' + (first_user_prefix if loop.first else ""). rewriteTernaries
// turns every conditional expression that sits inside brackets into
// (((c) and [x]) or [y])[0], which gonja parses and which evaluates lazily
// with the same result: [x] is a one-element list, hence always true.
// Text outside tags, comments and raw blocks is copied unchanged.
func rewriteTernaries(src string) string {
	var out strings.Builder
	i := 0
	for i < len(src) {
		start := strings.IndexByte(src[i:], '{')
		if start < 0 || i+start+1 >= len(src) {
			out.WriteString(src[i:])
			break
		}
		start += i
		out.WriteString(src[i:start])
		switch src[start+1] {
		case '#':
			end := strings.Index(src[start+2:], "#}")
			if end < 0 {
				out.WriteString(src[start:])
				return out.String()
			}
			end += start + 4
			out.WriteString(src[start : start+2])
			out.WriteString(lstripGuard(src, start))
			out.WriteString(src[start+2 : end])
			i = end
		case '{', '%':
			closer := "}}"
			if src[start+1] == '%' {
				closer = "%}"
			}
			body, end, ok := scanTag(src, start+2, closer)
			if !ok {
				out.WriteString(src[start:])
				return out.String()
			}
			if closer == "%}" && rawOpen.MatchString(body) {
				// Copy a raw block verbatim, up to and including its end tag.
				loc := rawClose.FindStringIndex(src[end:])
				if loc == nil {
					out.WriteString(src[start:])
					return out.String()
				}
				out.WriteString(src[start : end+loc[1]])
				i = end + loc[1]
				continue
			}
			out.WriteString(src[start : start+2])
			if closer == "%}" {
				out.WriteString(lstripGuard(src, start))
			}
			out.WriteString(rewriteTokens(lexTag(body)))
			out.WriteString(closer)
			i = end
		default:
			out.WriteByte('{')
			i = start + 1
		}
	}
	return out.String()
}

// lstripGuard returns "+" for a block or comment tag at pos that is not the
// first thing on its line. gonja's lexer applies lstrip_blocks to the blanks
// before such a tag too ("{% endif %}   {% if %}" loses its spaces); Jinja
// only strips from the start of a line, and "{%+" turns the stripping off.
func lstripGuard(src string, pos int) string {
	if pos+2 < len(src) && (src[pos+2] == '-' || src[pos+2] == '+') {
		return ""
	}
	i := pos - 1
	for i >= 0 && (src[i] == ' ' || src[i] == '\t') {
		i--
	}
	if i < 0 || src[i] == '\n' || src[i] == '\r' {
		return ""
	}
	return "+"
}

var (
	rawOpen  = regexp.MustCompile(`^[-+]?\s*raw\s*[-+]?$`)
	rawClose = regexp.MustCompile(`\{%[-+]?\s*endraw\s*[-+]?%\}`)
)

// scanTag finds the end of a tag whose body starts at pos: the first closer
// outside string literals and brackets. It returns the body, the index just
// past the closer and whether one was found.
func scanTag(src string, pos int, closer string) (string, int, bool) {
	depth := 0
	for i := pos; i < len(src); i++ {
		c := src[i]
		switch c {
		case '\'', '"':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			i = j
		case '(', '[', '{':
			depth++
		case ')', ']':
			if depth > 0 {
				depth--
			}
		case '}', '%':
			if depth == 0 && strings.HasPrefix(src[i:], closer) {
				return src[pos:i], i + len(closer), true
			}
			if c == '}' && depth > 0 {
				depth--
			}
		}
	}
	return "", 0, false
}

type tagToken struct {
	text  string
	ident bool
}

// lexTag splits a tag body into string literals, identifiers/numbers, runs
// of whitespace and single punctuation characters.
func lexTag(s string) []tagToken {
	var toks []tagToken
	for i := 0; i < len(s); {
		c := s[i]
		j := i + 1
		ident := false
		switch {
		case c == '\'' || c == '"':
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j < len(s) {
				j++
			}
			if j > len(s) {
				j = len(s)
			}
		case isWordByte(c):
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			ident = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
				j++
			}
		}
		toks = append(toks, tagToken{text: s[i:j], ident: ident})
		i = j
	}
	return toks
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func matching(toks []tagToken, open int) int {
	depth := 0
	for k := open; k < len(toks); k++ {
		switch toks[k].text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

// rewriteTokens copies a token sequence, rewriting conditional expressions
// inside every bracket group it contains (but not at its own top level).
func rewriteTokens(toks []tagToken) string {
	var sb strings.Builder
	for k := 0; k < len(toks); k++ {
		t := toks[k].text
		if t != "(" && t != "[" && t != "{" {
			sb.WriteString(t)
			continue
		}
		end := matching(toks, k)
		if end < 0 {
			for _, rest := range toks[k:] {
				sb.WriteString(rest.text)
			}
			break
		}
		sb.WriteString(t)
		inner := toks[k+1 : end]
		if t == "{" {
			sb.WriteString(rewriteTokens(inner))
		} else {
			sb.WriteString(rewriteGroup(inner))
		}
		sb.WriteString(toks[end].text)
		k = end
	}
	return sb.String()
}

// rewriteGroup handles the comma-separated elements of a () or [] group.
func rewriteGroup(toks []tagToken) string {
	var parts []string
	depth, from := 0, 0
	for k, t := range toks {
		switch t.text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		case ",":
			if depth == 0 {
				parts = append(parts, rewriteElement(toks[from:k]))
				from = k + 1
			}
		}
	}
	parts = append(parts, rewriteElement(toks[from:]))
	return strings.Join(parts, ",")
}

func rewriteElement(toks []tagToken) string {
	depth, ifAt, elseAt := 0, -1, -1
	for k, t := range toks {
		switch t.text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		case ":":
			if depth == 0 {
				return rewriteTokens(toks) // a slice or a keyword-ish form: leave it
			}
		case "if":
			if depth == 0 && t.ident && ifAt < 0 {
				ifAt = k
			}
		case "else":
			if depth == 0 && t.ident && ifAt >= 0 && elseAt < 0 {
				elseAt = k
			}
		}
	}
	if ifAt < 0 || elseAt < 0 {
		return rewriteTokens(toks)
	}
	x := rewriteTokens(toks[:ifAt])
	c := rewriteTokens(toks[ifAt+1 : elseAt])
	y := rewriteElement(toks[elseAt+1:])
	return "(((" + c + ") and [" + x + "]) or [" + y + "])[0]"
}
