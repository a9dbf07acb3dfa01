package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kiln-llm/kiln/gguf"
)

func tokenizeCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := modelFlag(fs)
	special := fs.Bool("special", false, "recognise special tokens written in the text (e.g. <|im_start|>)")
	noBOS := fs.Bool("no-bos", false, "do not add the BOS/EOS tokens the model asks for")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("tokenize: give the text as an argument")
	}
	l, err := load(*modelPath, nil, gguf.Mapped, stderr)
	if err != nil {
		return err
	}
	defer l.Close()
	ids := l.tok.Encode(strings.Join(fs.Args(), " "), !*noBOS, *special)
	if ids == nil {
		ids = []int{}
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}
