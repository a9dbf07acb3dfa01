// Package api holds the JSON wire types of Kiln's OpenAI-compatible HTTP API:
// request decoding with OpenAI-style validation, response objects with
// OpenAI's exact field names and null-versus-absent conventions, and the
// OpenAI error envelope.
//
// Requests are decoded by hand from the raw JSON rather than by
// json.Unmarshal into tagged structs. That costs some code but buys what the
// server needs: every type or range error names the offending field path
// ("messages[1].content", "tools[0].function.name"), JSON null is treated as
// "not set" as the SDKs send it, unknown fields are ignored as OpenAI does,
// and schemas, tool arguments and content parts keep their original bytes
// and key order.
//
// The package depends only on the standard library so that the HTTP server,
// tests and tools can share it without pulling in the engine.
package api
