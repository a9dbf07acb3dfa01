// Package constrain implements constrained decoding for JSON output: JSON mode
// (any JSON object), JSON Schema, forced tool calls, and tool calls that
// the model starts by itself in free text.
//
// At every step only tokens that keep the output a valid prefix of some
// complete value are allowed, and end-of-generation tokens only once the value
// is complete, so the output is guaranteed to parse and to validate however the
// model samples. Three layers:
//
//   - a schema compiler that turns a JSON Schema (a supported subset) into a
//     graph of typed atoms, rejecting keywords it cannot enforce (the server
//     answers 400 rather than silently producing output that may not
//     validate), and that computes which sub-schemas can produce any value at
//     all, so the matcher never enters a branch with no way out;
//   - a byte-level matcher: a pushdown automaton over JSON whose state is a
//     small set of threads (one per live anyOf alternative), each a value frame
//     on top of a persistent linked stack, so copying a state is a struct copy;
//   - an Index, built once per vocabulary, holding every token's bytes in a
//     preorder byte trie; Allow walks it depth first carrying the matcher state
//     and skips a whole subtree as soon as its prefix is rejected.
//
// Output shape rules, chosen so that a model cannot run away with whitespace:
// no insignificant whitespace at all except one optional space after ':' and
// after ','. Object keys are written without escapes unless the schema's own
// property name needs them; \u escapes of UTF-16 surrogates are not allowed
// (characters outside the BMP must be written as UTF-8), so that string
// lengths count the same in the matcher and in any validator. enum and const
// values are produced in one canonical form (compact, object keys sorted).
// Numbers with minimum/maximum bounds are written without exponent; integers
// never have a fraction or exponent. Numbers may otherwise be arbitrarily long.
//
// pattern is a subset of ECMA-262 regular expressions, compiled to a DFA
// over the UTF-8 bytes of the decoded string (see regex.go): literals,
// escapes (\d \w \s and their negations, \n \t \xHH \uHHHH, escaped
// punctuation), character classes and negated classes, groups (capturing,
// (?:...) and named), alternation, the quantifiers * + ? {m} {m,} {m,n}
// (lazy forms too, which match the same strings) and the anchors ^ and $ at
// the start and end of a top-level alternative. As in ECMA (RegExp.test), a
// pattern is unanchored: without ^ or $ it may match anywhere in the
// string. Backreferences, lookaround, word boundaries, \p{...} and
// anchors elsewhere are refused with an error naming pattern. minLength
// and maxLength combine with a pattern exactly (no dead end). Inside a
// pattern-constrained string the matcher writes only the short escapes and
// \u00XX for control characters; every other character is written as
// UTF-8.
//
// format date, date-time, time (RFC 3339; seconds 00-59, upper-case T and
// Z), uuid and email (a practical subset: dot-separated atoms of
// [A-Za-z0-9_%+-], '@', a domain of hyphenated labels and a top-level label
// of at least two letters) are enforced as built-in patterns, intersected
// with any pattern. Any other format is an annotation and ignored, as JSON
// Schema allows.
//
// Pattern plans (the whole-vocabulary walk from one DFA state of a pattern)
// are kept in a bounded cache on the Index, keyed by the pattern's canonical
// source and the DFA state, so the first visit of a state is paid once per
// process rather than once per request. That walk is over a class trie: the
// token trie with each byte replaced by its class under the pattern's DFA
// (bytes the DFA cannot tell apart), which merges the 151k tokens of a
// large vocabulary into a few hundred to a few tens of thousands of class
// strings. A class trie is built once per byte partition and vocabulary,
// when a constraint whose schema can meet the pattern is created, and
// cached with the plans. A plan of a length-limited pattern groups its
// tokens by end state and length, sorted by "need" (characters plus the
// fewest characters to an accepting state), so with maxLength alone the
// allowed tokens are a prefix of that list.
//
// Triggers (tool_choice auto) leave the output free until it starts a call
// in the model family's syntax: a marker such as "<tool_call>" anywhere, or
// "{" at the start of the message. From the marker on, the output is held
// to a region of calls (each validating against a schema, with the
// family's literals between them, and nothing after the region but
// end-of-generation). While free, a step costs nothing (Free reports it,
// and the engine then builds no mask) except where a token could complete
// a marker and run on into the call: those few candidate tokens, found
// once per vocabulary and marker, are checked against the region.
//
// allOf is compiled by merging its members (and its sibling keywords) into
// one schema with the semantics of the conjunction: types and enum/const
// intersect, required unions, bounds tighten, patterns and formats all
// apply, anyOf/oneOf members are distributed, and each property must satisfy
// every member's schema for it (its declared schema, else that member's
// additionalProperties), so additionalProperties keeps its JSON Schema
// meaning of "not declared in this member". What cannot be merged (a
// differing unknown keyword, draft-4 boolean exclusive bounds, the array
// form of items) is an error naming allOf.
package constrain
