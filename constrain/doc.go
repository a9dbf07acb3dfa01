// Package constrain implements constrained decoding for JSON output: JSON mode
// (any JSON object), JSON Schema and forced tool calls.
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
package constrain
