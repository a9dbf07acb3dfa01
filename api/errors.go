package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Error types as OpenAI names them in the "type" field of its error object.
// The SDKs pick their exception class from the HTTP status, so these matter
// mostly to clients that log or branch on the body.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeRateLimit      = "rate_limit_exceeded"
	TypeServer         = "server_error"
)

// Error codes used in the "code" field. OpenAI leaves code null for most
// errors; the ones here are those a client can usefully branch on.
const (
	CodeInvalidType         = "invalid_type"
	CodeInvalidValue        = "invalid_value"
	CodeMissingParameter    = "missing_required_parameter"
	CodeInvalidJSON         = "invalid_json"
	CodeEmptyArray          = "empty_array"
	CodeArrayTooLong        = "array_above_max_length"
	CodeDecimalAboveMax     = "decimal_above_max_value"
	CodeDecimalBelowMin     = "decimal_below_min_value"
	CodeIntegerAboveMax     = "integer_above_max_value"
	CodeIntegerBelowMin     = "integer_below_min_value"
	CodeInvalidAPIKey       = "invalid_api_key"
	CodeModelNotFound       = "model_not_found"
	CodeUnknownURL          = "unknown_url"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeRequestTooLarge     = "request_too_large"
	CodeRateLimitExceeded   = "rate_limit_exceeded"
	CodeContextLengthExceed = "context_length_exceeded"
	CodeUnsupportedContent  = "unsupported_content"
	CodeServiceUnavailable  = "service_unavailable"
)

// Error is an API error: the HTTP status plus OpenAI's error object. It is
// returned as a concrete pointer (not the error interface) from decoders so
// the server can write it without a type assertion.
type Error struct {
	Status  int
	Message string
	Type    string
	Param   *string
	Code    *string
	// RetryAfter, when positive, is sent as a Retry-After header (rounded up
	// to whole seconds) so that the SDKs' retry logic backs off by that much.
	RetryAfter time.Duration
}

// Error implements error so an *Error can travel through ordinary Go error
// paths (and be logged) before it is written.
func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
	if e.Param != nil {
		s += " (param " + *e.Param + ")"
	}
	return s
}

type errorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

type errorEnvelope struct {
	Error errorBody `json:"error"`
}

// MarshalJSON writes OpenAI's envelope, {"error":{...}}, with param and code
// present as null when unset because the SDKs read them unconditionally.
func (e Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(errorEnvelope{Error: errorBody{Message: e.Message, Type: e.Type, Param: e.Param, Code: e.Code}})
}

// UnmarshalJSON reads the envelope back, which lets Go clients and tests of
// the server inspect errors with the same type. Status is not in the body
// and stays as it was.
func (e *Error) UnmarshalJSON(b []byte) error {
	var env errorEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("decode error envelope: %w", err)
	}
	e.Message, e.Type, e.Param, e.Code = env.Error.Message, env.Error.Type, env.Error.Param, env.Error.Code
	return nil
}

func strPtr(s string) *string { return &s }

func optPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// NewInvalidRequest is a 400 invalid_request_error. param is the offending
// field path (empty for none) and code an optional machine-readable code.
func NewInvalidRequest(param, code, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Message: message, Param: optPtr(param), Code: optPtr(code)}
}

// NewContextLengthExceeded is the 400 OpenAI returns when the prompt plus the
// requested completion do not fit the model's context window.
func NewContextLengthExceeded(param, message string) *Error {
	return NewInvalidRequest(param, CodeContextLengthExceed, message)
}

// NewAuthentication is a 401 for a missing or wrong API key. OpenAI uses the
// invalid_request_error type here, with code invalid_api_key.
func NewAuthentication(message string) *Error {
	if message == "" {
		message = "Incorrect API key provided. You can pass it in the Authorization header as 'Bearer <key>'."
	}
	return &Error{Status: http.StatusUnauthorized, Type: TypeInvalidRequest, Message: message, Code: strPtr(CodeInvalidAPIKey)}
}

// NewModelNotFound is the 404 for a model the server does not serve.
func NewModelNotFound(model string) *Error {
	return &Error{
		Status:  http.StatusNotFound,
		Type:    TypeInvalidRequest,
		Message: fmt.Sprintf("The model '%s' does not exist or you do not have access to it.", model),
		Param:   strPtr("model"),
		Code:    strPtr(CodeModelNotFound),
	}
}

// NewRouteNotFound is the 404 for an unknown URL, worded as OpenAI words it.
func NewRouteNotFound(method, path string) *Error {
	return &Error{
		Status:  http.StatusNotFound,
		Type:    TypeInvalidRequest,
		Message: fmt.Sprintf("Invalid URL (%s %s)", method, path),
		Code:    strPtr(CodeUnknownURL),
	}
}

// NewMethodNotAllowed is the 405 for a known URL with the wrong method.
func NewMethodNotAllowed(method, path string) *Error {
	return &Error{
		Status:  http.StatusMethodNotAllowed,
		Type:    TypeInvalidRequest,
		Message: fmt.Sprintf("Invalid method for URL (%s %s)", method, path),
		Code:    strPtr(CodeMethodNotAllowed),
	}
}

// NewRequestTooLarge is the 413 for a body over the server's limit.
func NewRequestTooLarge(limitBytes int64) *Error {
	return &Error{
		Status:  http.StatusRequestEntityTooLarge,
		Type:    TypeInvalidRequest,
		Message: fmt.Sprintf("The request body is too large: the limit is %d bytes.", limitBytes),
		Code:    strPtr(CodeRequestTooLarge),
	}
}

// NewOverloaded is the 429 for a full queue. The SDKs retry 429 by default,
// honouring Retry-After, which is the behaviour wanted for transient load.
func NewOverloaded(message string, retryAfter time.Duration) *Error {
	if message == "" {
		message = "The server is currently overloaded with other requests. Please retry after a short wait."
	}
	return &Error{Status: http.StatusTooManyRequests, Type: TypeRateLimit, Message: message, Code: strPtr(CodeRateLimitExceeded), RetryAfter: retryAfter}
}

// NewUnavailable is the 503 for a server that is shutting down or still
// loading its model.
func NewUnavailable(message string, retryAfter time.Duration) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Type: TypeServer, Message: message, Code: strPtr(CodeServiceUnavailable), RetryAfter: retryAfter}
}

// NewInternal is a 500. The message goes to the client, so it should not
// carry internal details that the server would rather only log.
func NewInternal(message string) *Error {
	if message == "" {
		message = "The server had an error while processing your request."
	}
	return &Error{Status: http.StatusInternalServerError, Type: TypeServer, Message: message}
}

// WriteError writes e as an OpenAI error response. It never fails: if the
// client is gone there is nobody left to tell.
func WriteError(w http.ResponseWriter, e *Error) {
	if e == nil {
		e = NewInternal("")
	}
	status := e.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	body, err := json.Marshal(*e)
	if err != nil {
		// Only strings and nil pointers are marshalled, so this cannot
		// happen; keep a well-formed body regardless.
		body = []byte(`{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
