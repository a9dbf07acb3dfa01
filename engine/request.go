package engine

import (
	"errors"

	"github.com/kiln-llm/kiln/sample"
)

// Constraint restricts which tokens may come next (JSON mode, JSON schemas,
// forced tool calls). The engine asks it for the allowed set before every
// sampling step and tells it each chosen token. One Constraint belongs to one
// sequence and is used from one goroutine at a time.
type Constraint interface {
	// Allow sets allowed[id] to false for every token that may not come next;
	// it leaves the others as they are. End-of-generation tokens are allowed
	// only when Done.
	Allow(allowed []bool)
	// Accept advances the constraint past tok, which Allow permitted.
	Accept(tok int) error
	// Done reports whether the output so far is complete (generation may end).
	Done() bool
}

// GenRequest is one sequence to generate, as the server hands it to the engine.
type GenRequest struct {
	Prompt    []int
	MaxTokens int // > 0
	Sampling  sample.Params
	// Stop holds stop sequences (text). Generation ends when the text
	// contains one; KeepStop says whether it stays in the returned text
	// (completions) or is cut (chat).
	Stop     []string
	KeepStop bool
	// Logprobs asks for the chosen token's log-probability and, when
	// TopLogprobs > 0, that many alternatives per position.
	Logprobs    bool
	TopLogprobs int
	// PromptLogprobs asks for the log-probabilities of the prompt's own tokens
	// (completions with echo and logprobs). The FIRST prompt token has none
	// (nothing precedes it): its Token has Logprob 0 and no Top, and must be
	// reported as null. Such a request never reuses a cached prefix, since
	// every prompt position's logits are needed.
	PromptLogprobs bool
	// Constraint, when set, restricts the tokens (nil: free generation).
	Constraint Constraint
	// IgnoreEOS keeps generating past end-of-generation tokens. As in
	// llama.cpp, they are then never sampled (banned), so generation ends
	// only at MaxTokens, a stop sequence or the end of the context.
	IgnoreEOS bool
	// StopTokens end the sequence with FinishStop when one of them is
	// sampled. Like an end-of-generation token, the stop token is neither
	// sent as text nor counted as a completion token: it is a signal, not
	// output. They apply with IgnoreEOS too (which bans only the model's
	// end-of-generation ids, so listing one of those here has no effect
	// then). Ids must be inside the vocabulary.
	StopTokens []int
}

// TokenLogprob is one token with its log-probability under the model.
type TokenLogprob struct {
	ID    int
	Bytes []byte
	// Logprob is the natural log-probability under the model's raw logits
	// (before temperature, penalties, bias or constraints); 0 when not
	// asked for, and 0 for the first prompt token, which has none.
	Logprob float32
}

// Token is a generated (or, with PromptLogprobs, a prompt) token.
type Token struct {
	TokenLogprob
	Top []TokenLogprob // most probable first; empty unless TopLogprobs > 0
}

// Event is one step of a generation's output stream.
type Event struct {
	// Text is new output text, safe to send: it never ends inside a UTF-8
	// character and never contains a prefix of a stop sequence that may
	// still complete.
	Text string
	// Tokens are the tokens whose text Text completes (with logprobs when
	// asked for). A token whose bytes end inside a UTF-8 character rides
	// with the token that completes it; the final event carries every token
	// not sent yet, except those whose text a stop sequence cut entirely (a
	// token straddling the cut stays: part of its text is in the output).
	Tokens []Token
	// PromptTokens is set once, in the first event, with PromptLogprobs.
	PromptTokens []Token
	// Finish is set on the last event of a stream.
	Finish FinishReason
	// PromptTokenCount and CompletionTokens are final on the last event.
	// CompletionTokens counts the generated tokens that were emitted (the
	// one completing a stop sequence included), not an end-of-generation
	// token: OpenAI's convention (llama.cpp counts that token too).
	PromptTokenCount int
	CompletionTokens int
	// CachedTokens, final on the last event, is how many leading prompt
	// tokens were not computed for this request because the prefix cache
	// held their keys and values from an earlier one (OpenAI's
	// prompt_tokens_details.cached_tokens). Positions copied from a
	// sibling choice computing the same prompt at the same time do not
	// count: that prompt was computed once, for the request.
	CachedTokens int
	// Err ends the stream with a failure of the engine (not of the request):
	// ErrClosed, a model step error, a Constraint that refused or allowed
	// nothing, or a recovered internal panic.
	Err error
}

// Errors Submit returns.
var (
	ErrQueueFull     = errors.New("engine: queue full")
	ErrClosed        = errors.New("engine: closed")
	ErrPromptTooLong = errors.New("engine: prompt does not fit the context")
)
