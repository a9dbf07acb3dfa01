package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kiln-llm/kiln/engine"
	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/model"
	"github.com/kiln-llm/kiln/server"
	"github.com/kiln-llm/kiln/synth"
)

// listFlag collects a repeated string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// modelSpec splits a --model value: NAME=PATH or PATH. A path that itself
// contains "=" is taken whole when the file exists.
func modelSpec(v string) (name, path string) {
	if _, err := os.Stat(v); err == nil {
		return "", v
	}
	if n, p, ok := strings.Cut(v, "="); ok && n != "" && !strings.ContainsAny(n, `/\`) {
		return n, p
	}
	return "", v
}

// buildID identifies this binary in system_fingerprint, so that two
// different builds never share a fingerprint: the VCS revision when the
// build recorded one and the tree was clean; otherwise (no VCS stamp, as
// with go run, go test or a build outside a checkout; or local changes on
// top of the revision) a hash of the running executable itself. It is
// computed once at startup.
func buildID() string {
	info, _ := debug.ReadBuildInfo()
	return buildIDFrom(info, os.Executable)
}

func buildIDFrom(info *debug.BuildInfo, executable func() (string, error)) string {
	var rev string
	modified := false
	if info != nil {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	rev = rev[:min(12, len(rev))]
	if rev != "" && !modified {
		return rev
	}
	h, err := executableHash(executable)
	if err != nil {
		// Nothing identifies this build; say so rather than pretend.
		if rev != "" {
			return rev + "-dirty"
		}
		return "unknown"
	}
	if rev != "" {
		return rev + "-dirty-" + h
	}
	return "exe-" + h
}

// executableHash is the first 12 hex digits of the sha256 of the running
// executable's file.
func executableHash(executable func() (string, error)) (string, error) {
	path, err := executable()
	if err != nil {
		return "", fmt.Errorf("find the executable: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash the executable: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash the executable: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var models, keys listFlag
	fs.Var(&models, "model", "GGUF model to serve, PATH or NAME=PATH (repeatable; default: the built-in demo model)")
	fs.Var(&keys, "api-key", "accepted Bearer API key (repeatable; also KILN_API_KEY, comma-separated)")
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", 8080, "port to listen on (0: any free port, logged at start)")
	ctxSize := fs.Int("ctx-size", 0, "context positions per sequence (default min(4096, the model's training context))")
	parallel := fs.Int("parallel", engine.DefaultParallel, "sequences generated at once per model")
	queue := fs.Int("queue", engine.DefaultQueue, "requests that may wait for a slot before the server answers 429 (0: none wait)")
	threads := fs.Int("threads", 0, "worker goroutines per forward pass (default: one per CPU)")
	templateFile := fs.String("chat-template-file", "", "Jinja chat template to use instead of the models' own")
	maxBody := fs.Int64("max-body", server.DefaultMaxBodyBytes, "largest accepted request body in bytes (413 beyond)")
	kvType := kvTypeFlag(fs)
	mmap := mmapFlag(fs)
	batchTokens := batchTokensFlag(fs)
	stepTgt := stepTargetFlag(fs)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if *port < 0 || *port > 65535 || *parallel < 1 || *ctxSize < 0 || *batchTokens < 1 {
		return errors.New("serve: --port must be 0..65535, --parallel and --batch-tokens at least 1, --ctx-size not negative")
	}
	kv, err := parseKV(*kvType)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	// The engine reads Queue 0 as "the default"; on the command line 0
	// means what it says, no waiting room (engine: negative).
	queueLen := *queue
	if queueLen <= 0 {
		queueLen = -1
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	var tmpl string
	if *templateFile != "" {
		b, err := os.ReadFile(*templateFile)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		tmpl = string(b)
	}
	if env := os.Getenv("KILN_API_KEY"); env != "" {
		for _, k := range strings.Split(env, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
	}
	if len(models) == 0 {
		p, err := synth.DefaultModelPath("")
		if err != nil {
			return err
		}
		fmt.Fprintln(stderr, synth.DefaultNotice)
		// A stable id, whatever version the cached file name carries.
		models = append(models, "kiln-demo="+p)
	}

	var loaded []*server.Model
	defer func() {
		for _, m := range loaded {
			m.Close()
		}
	}()
	build := buildID()
	for _, v := range models {
		name, path := modelSpec(v)
		m, err := server.Load(server.LoadOptions{
			Path: path, ID: name, ChatTemplate: tmpl, Workers: *threads, Build: build, Logger: log, Mmap: *mmap,
			Engine: engine.Options{Parallel: *parallel, Ctx: *ctxSize, Queue: queueLen, MaxBatchTokens: *batchTokens, StepTarget: stepTarget(*stepTgt), KV: model.CacheOptions{Type: kv}},
		})
		if err != nil {
			return err
		}
		loaded = append(loaded, m)
	}
	limitHeap(kvBytes(loaded))
	srv, err := server.New(server.Config{Models: loaded, APIKeys: keys, MaxBodyBytes: *maxBody, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second}
	ids := make([]string, len(loaded))
	for i, m := range loaded {
		ids[i] = m.ID
	}
	log.Info("kiln listening", "url", "http://"+ln.Addr().String(), "models", strings.Join(ids, ","), "auth", len(keys) > 0)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		// Streams still running after the grace period end when the
		// engines close (deferred above).
		log.Warn("shutdown", "err", err)
	}
	return nil
}

func templateCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("template", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := modelFlag(fs)
	templateFile := fs.String("chat-template-file", "", "Jinja chat template to use instead of the model's own")
	request := fs.String("request", "", "chat completions request body (JSON file) to render")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *request == "" || fs.NArg() > 0 {
		return errors.New("template: give the request body with --request FILE.json")
	}
	body, err := os.ReadFile(*request)
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	var override string
	if *templateFile != "" {
		b, err := os.ReadFile(*templateFile)
		if err != nil {
			return fmt.Errorf("template: %w", err)
		}
		override = string(b)
	}
	l, err := load(*modelPath, nil, gguf.Mapped, stderr)
	if err != nil {
		return err
	}
	defer l.Close()
	t, fallback, err := server.ChatTemplate(l.file, override)
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	if fallback {
		fmt.Fprintln(stderr, "kiln: the model has no chat template: using ChatML")
	}
	out, err := server.RenderChat(body, t, l.tok)
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	_, err = io.WriteString(stdout, out)
	return err
}
