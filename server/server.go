// Package server is Kiln's OpenAI-compatible HTTP API: /v1/chat/completions,
// /v1/completions, /v1/models, /health and the /tokenize and /detokenize
// helpers, on top of one engine per served model.
//
// The handlers stay thin on purpose: decoding and validation live in package
// api, rendering in package template, generation in package engine. What is
// left here is the glue OpenAI clients notice: routing and error objects,
// auth, prompt construction without control-token injection, the mapping of
// request fields onto engine requests (n, seeds, stops, constraints) and the
// exact shapes of responses and SSE streams.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kiln-llm/kiln/api"
	"github.com/kiln-llm/kiln/engine"
)

// DefaultMaxBodyBytes bounds a request body. Chat histories with long
// documents fit easily; what does not fit is almost certainly a mistake or
// abuse, and reading it whole would cost memory before validation can fail.
const DefaultMaxBodyBytes = 8 << 20

// Config configures a Server. Models are loaded by the caller (see Load).
type Config struct {
	// Models are the served models; the first one is the default for the
	// endpoints where the model may be omitted (/tokenize, /detokenize).
	Models []*Model
	// APIKeys, when non-empty, are the accepted Bearer keys; /health stays
	// open so that load balancers need no secret.
	APIKeys []string
	// MaxBodyBytes bounds request bodies (413 beyond); 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RetryAfter is the back-off suggested with a 429; 0 means one second.
	RetryAfter time.Duration
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
}

// Generator is the part of *engine.Engine the server uses. It is an
// interface only so that a test can stand in a generator that fails in ways
// a real engine cannot be made to fail on demand.
type Generator interface {
	Submit(ctx context.Context, r engine.GenRequest) (<-chan engine.Event, error)
	Ctx() int
	// Capacity is how many generations may be submitted and not yet
	// finished (running plus waiting) before Submit answers ErrQueueFull.
	Capacity() int
}

// Server serves the HTTP API. It is safe for concurrent use.
type Server struct {
	models     []*Model
	byID       map[string]*Model
	keys       [][32]byte
	maxBody    int64
	retryAfter time.Duration
	log        *slog.Logger
	mux        *http.ServeMux
}

// New checks cfg and builds the server's routes.
func New(cfg Config) (*Server, error) {
	if len(cfg.Models) == 0 {
		return nil, errors.New("server: no models to serve")
	}
	s := &Server{
		models:     cfg.Models,
		byID:       make(map[string]*Model, len(cfg.Models)),
		maxBody:    cfg.MaxBodyBytes,
		retryAfter: cfg.RetryAfter,
		log:        cfg.Logger,
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.retryAfter <= 0 {
		s.retryAfter = time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for i, m := range cfg.Models {
		if m == nil || m.ID == "" || m.Engine == nil || m.Tokenizer == nil || m.Template == nil {
			return nil, fmt.Errorf("server: model %d is incomplete (id, engine, tokenizer and template are required)", i)
		}
		if _, dup := s.byID[m.ID]; dup {
			return nil, fmt.Errorf("server: model id %q is served twice", m.ID)
		}
		s.byID[m.ID] = m
		if m.prompts == nil {
			m.prompts = newPromptBuilder(m.Tokenizer)
		}
	}
	for _, k := range cfg.APIKeys {
		if k == "" {
			return nil, errors.New("server: empty API key")
		}
		// Hashing first gives every key the same length, so the
		// constant-time compare leaks neither content nor length.
		s.keys = append(s.keys, sha256.Sum256([]byte(k)))
	}
	s.routes()
	return s, nil
}

// routeTable lists every route once, so that the 404/405 fallback can tell
// an unknown URL from a known one used with the wrong method.
var routeTable = []struct {
	method, pattern string
}{
	{http.MethodPost, "/v1/chat/completions"},
	{http.MethodPost, "/v1/completions"},
	{http.MethodGet, "/v1/models"},
	{http.MethodGet, "/v1/models/{id...}"},
	{http.MethodGet, "/health"},
	{http.MethodPost, "/tokenize"},
	{http.MethodPost, "/detokenize"},
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	s.mux.HandleFunc("POST /v1/completions", s.handleCompletions)
	s.mux.HandleFunc("GET /v1/models", s.handleModels)
	s.mux.HandleFunc("GET /v1/models/{id...}", s.handleModel)
	s.mux.HandleFunc("GET /health", s.handleHealth)
	s.mux.HandleFunc("POST /tokenize", s.handleTokenize)
	s.mux.HandleFunc("POST /detokenize", s.handleDetokenize)
	// The catch-all answers what the patterns above do not match with
	// OpenAI error objects rather than ServeMux's plain-text pages.
	s.mux.HandleFunc("/", s.handleFallback)
}

func (s *Server) handleFallback(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, rt := range routeTable {
		if pathMatches(rt.pattern, r.URL.Path) {
			allowed = append(allowed, rt.method)
		}
	}
	if len(allowed) == 0 {
		api.WriteError(w, api.NewRouteNotFound(r.Method, r.URL.Path))
		return
	}
	if containsString(allowed, http.MethodGet) {
		allowed = append(allowed, http.MethodHead)
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	api.WriteError(w, api.NewMethodNotAllowed(r.Method, r.URL.Path))
}

// pathMatches reports whether path matches a route pattern of routeTable,
// whose only wildcard is a trailing {name...}.
func pathMatches(pattern, path string) bool {
	if i := strings.Index(pattern, "{"); i >= 0 {
		return strings.HasPrefix(path, pattern[:i]) && len(path) > i
	}
	return path == pattern
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Handler returns the HTTP handler: logging, then auth, then the routes.
func (s *Server) Handler() http.Handler {
	return s.logRequests(s.authenticate(s.mux))
}

func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(s.keys) == 0 || r.URL.Path == "/health" {
			next.ServeHTTP(w, r)
			return
		}
		h := r.Header.Get("Authorization")
		scheme, key, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			api.WriteError(w, api.NewAuthentication("You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."))
			return
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
		match := 0
		// Every key is compared, whatever matched earlier, so the time
		// taken says nothing about which key (if any) was close.
		for i := range s.keys {
			match |= subtle.ConstantTimeCompare(sum[:], s.keys[i][:])
		}
		if match != 1 {
			api.WriteError(w, api.NewAuthentication("Incorrect API key provided."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusWriter records the status for the request log and passes Flush
// through, which streaming needs.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Int64("bytes", sw.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr))
	})
}

// readBody reads the body within the size limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *api.Error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, api.NewRequestTooLarge(s.maxBody)
		}
		return nil, api.NewInvalidRequest("", "", "Could not read the request body: "+err.Error())
	}
	return body, nil
}

// model returns the served model called id.
func (s *Server) model(id string) (*Model, *api.Error) {
	if m, ok := s.byID[id]; ok {
		return m, nil
	}
	return nil, api.NewModelNotFound(id)
}

// submitError maps an engine.Submit failure onto the API error a client
// should see.
func (s *Server) submitError(err error) *api.Error {
	switch {
	case errors.Is(err, engine.ErrQueueFull):
		return api.NewOverloaded("The server is overloaded: every generation slot is busy and the queue is full. Please retry after a short wait.", s.retryAfter)
	case errors.Is(err, engine.ErrClosed):
		return api.NewUnavailable("The server is shutting down.", s.retryAfter)
	case errors.Is(err, engine.ErrPromptTooLong):
		return api.NewContextLengthExceeded("messages", "The prompt does not fit the model's context window.")
	}
	// Remaining Submit errors are validation failures of what the server
	// built; the server validates first, so reaching here is our bug.
	s.log.Error("engine rejected a request", slog.String("err", err.Error()))
	return api.NewInternal("The engine rejected the request.")
}
