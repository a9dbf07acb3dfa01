package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kiln-llm/kiln/constrain"
	"github.com/kiln-llm/kiln/engine"
	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/model"
	"github.com/kiln-llm/kiln/template"
	"github.com/kiln-llm/kiln/tokenizer"
)

// Model is one served model with everything a request needs.
type Model struct {
	// ID is the name clients use in "model".
	ID        string
	Engine    Generator
	Tokenizer *tokenizer.Tokenizer
	Template  *template.Template
	// Constraints builds JSON-mode, schema and tool-call constraints; nil
	// disables them (requests that need one get a 400).
	Constraints *constrain.Index
	// Fingerprint is the system_fingerprint of every response.
	Fingerprint string
	// Created is the "created" time of GET /v1/models (the file's
	// modification time when loaded from a file).
	Created int64

	prompts *promptBuilder
	closers []func() error
}

// Close stops the model's engine (when Load started it) and releases the
// model file.
func (m *Model) Close() error {
	var errs []error
	for i := len(m.closers) - 1; i >= 0; i-- {
		errs = append(errs, m.closers[i]())
	}
	m.closers = nil
	return errors.Join(errs...)
}

// LoadOptions says how to load one model file.
type LoadOptions struct {
	// Path is the GGUF file.
	Path string
	// ID is the served name; empty means the file's base name without .gguf.
	ID string
	// ChatTemplate overrides the file's tokenizer.chat_template when set.
	ChatTemplate string
	// Engine options (slots, context, queue); Workers tunes the forward pass.
	Engine  engine.Options
	Workers int
	// Mmap keeps the file mapped (gguf.Mapped) instead of reading it into
	// huge pages (gguf.HugePages, the default: faster decoding).
	Mmap bool
	// Build identifies the engine build in system_fingerprint.
	Build string
	// Logger receives the load notes (template fallback); nil discards.
	Logger *slog.Logger
}

// Load opens a GGUF file and builds the tokenizer, model, chat template,
// constraint index and engine for it.
func Load(opt LoadOptions) (*Model, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	place := gguf.HugePages
	if opt.Mmap {
		place = gguf.Mapped
	}
	f, err := gguf.OpenIn(opt.Path, place)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	m := &Model{ID: opt.ID, closers: []func() error{f.Close}}
	fail := func(err error) (*Model, error) {
		m.Close()
		return nil, fmt.Errorf("load model %s: %w", opt.Path, err)
	}
	if m.ID == "" {
		m.ID = strings.TrimSuffix(filepath.Base(opt.Path), ".gguf")
	}
	if m.Tokenizer, err = tokenizer.FromGGUF(f); err != nil {
		return fail(err)
	}
	weights, err := model.Load(f, model.Options{Workers: opt.Workers})
	if err != nil {
		return fail(err)
	}
	var fallback bool
	if m.Template, fallback, err = ChatTemplate(f, opt.ChatTemplate); err != nil {
		return fail(err)
	}
	if fallback {
		log.Info("model has no chat template: using ChatML", slog.String("model", m.ID))
	}
	hash, err := FileHash(opt.Path)
	if err != nil {
		return fail(err)
	}
	m.Fingerprint = Fingerprint(opt.Build, hash)
	if st, err := os.Stat(opt.Path); err == nil {
		m.Created = st.ModTime().Unix()
	} else {
		m.Created = time.Now().Unix()
	}
	m.Constraints = constrain.NewIndex(m.Tokenizer)
	e := engine.New(weights, m.Tokenizer, opt.Engine)
	m.Engine = e
	m.closers = append(m.closers, func() error { e.Close(); return nil })
	return m, nil
}

// hashSpan is how much of each end of a model file FileHash reads.
const hashSpan = 1 << 20

// FileHash identifies a model file cheaply: sha256 over the file size (8
// bytes, little endian), the first MiB and the last MiB. Reading a
// multi-GB file whole at every start would take longer than loading it
// (which only maps it); the ends hold the GGUF header with every metadata
// key and tensor offset, and the tail of the last tensor, so two different
// model files differ there in practice. It is a fingerprint, not a
// security check.
func FileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash model file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("hash model file: %w", err)
	}
	size := st.Size()
	h := sha256.New()
	var sz [8]byte
	binary.LittleEndian.PutUint64(sz[:], uint64(size))
	h.Write(sz[:])
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, min(size, hashSpan))); err != nil {
		return "", fmt.Errorf("hash model file: %w", err)
	}
	if size > hashSpan {
		tail := max(hashSpan, size-hashSpan)
		if _, err := io.Copy(h, io.NewSectionReader(f, tail, size-tail)); err != nil {
			return "", fmt.Errorf("hash model file: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Fingerprint is the system_fingerprint: OpenAI's "fp_" prefix, the engine
// build and the first 12 hex digits of the model file hash, so a client
// that compares fingerprints notices a change of either.
func Fingerprint(build, fileHash string) string {
	if build == "" {
		build = "dev"
	}
	return "fp_kiln-" + build + "-" + fileHash[:min(12, len(fileHash))]
}

// ChatTemplate parses the chat template of a model: override when set,
// else the file's tokenizer.chat_template, else ChatML (fallback true, so
// the caller can say so).
func ChatTemplate(f *gguf.File, override string) (t *template.Template, fallback bool, err error) {
	src := override
	if src == "" {
		if src, err = f.StringOr("tokenizer.chat_template", ""); err != nil {
			return nil, false, err
		}
		if src == "" {
			src, fallback = template.ChatML, true
		}
	}
	if t, err = template.Parse(src); err != nil {
		return nil, false, fmt.Errorf("chat template: %w", err)
	}
	return t, fallback, nil
}
