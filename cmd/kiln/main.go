// Command kiln runs GGUF language models on the CPU.
//
//	kiln serve    [--model [NAME=]PATH ...] [--host H] [--port N] [--api-key KEY ...] [--ctx-size N] [--parallel N]
//	kiln template [--model PATH] [--chat-template-file F] --request FILE.json
//	kiln run      [--model PATH] [--prompt TEXT] [--max-tokens N] [--temperature T]
//	kiln tokenize [--model PATH] [--special] TEXT
//	kiln info     [--model PATH]
//	kiln synth    --out PATH [--preset NAME | --arch A --embd N ...] [--type T]
//	kiln bench    [--model PATH] [--threads N] [-p 512] [-n 128] [--reps R] [--json]
//
// With no --model, kiln uses a tiny built-in demo model with random weights.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "kiln:", err)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = `kiln runs GGUF language models on the CPU.

Commands:
  serve     serve models over the OpenAI-compatible HTTP API
  template  print the prompt a chat completions request renders to
  run       generate a continuation of a prompt and stream it to stdout
  tokenize  print the token ids of a text as a JSON array
  info      print a model file's metadata, tensor types and size
  synth     write a deterministic random-weight model of a given shape
  bench     measure prefill and decode speed against the machine's limits

Run "kiln COMMAND -h" for a command's flags. Without --model, kiln uses a
built-in demo model (tiny, random weights: its text is meaningless).
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serveCmd(ctx, rest, stdout, stderr)
	case "template":
		return templateCmd(rest, stdout, stderr)
	case "run":
		return runCmd(ctx, rest, stdout, stderr)
	case "tokenize":
		return tokenizeCmd(rest, stdout, stderr)
	case "info":
		return infoCmd(rest, stdout, stderr)
	case "synth":
		return synthCmd(rest, stdout, stderr)
	case "bench":
		return benchCmd(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "kiln: unknown command %q\n\n%s", cmd, usage)
	return errUsage
}
