package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/kiln-llm/kiln/gguf"
	"github.com/kiln-llm/kiln/tensor"
)

func infoCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := modelFlag(fs)
	listTensors := fs.Bool("tensors", false, "also list every tensor with its type and shape")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	f, err := openModelFile(*modelPath, gguf.Mapped, stderr)
	if err != nil {
		return err
	}
	defer f.Close()

	var b strings.Builder
	fmt.Fprintf(&b, "file:     %s\n", f.Path)
	fmt.Fprintf(&b, "format:   GGUF v%d, alignment %d\n", f.Version, f.Alignment)
	fmt.Fprintf(&b, "size:     %s (%d bytes)\n", humanBytes(uint64(f.Size())), f.Size())

	var params, dataBytes uint64
	count := map[tensor.Type]int{}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		params += t.Elements()
		dataBytes += t.Bytes()
		count[t.Type]++
	}
	types := make([]tensor.Type, 0, len(count))
	for t := range count {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = fmt.Sprintf("%s x%d", t, count[t])
	}
	fmt.Fprintf(&b, "tensors:  %d (%s)\n", len(f.Tensors), strings.Join(parts, ", "))
	fmt.Fprintf(&b, "params:   %d (%s of tensor data)\n", params, humanBytes(dataBytes))
	fmt.Fprintf(&b, "metadata: %d keys\n", len(f.KV))
	for _, kv := range f.KV {
		fmt.Fprintf(&b, "  %-44s %s\n", kv.Key, kv.Value)
	}
	if *listTensors {
		b.WriteString("tensor list:\n")
		for _, t := range f.Tensors {
			fmt.Fprintf(&b, "  %-36s %-5s %v\n", t.Name, t.Type, t.Dims)
		}
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n), []string{"KiB", "MiB", "GiB", "TiB"}
	i := -1
	for v >= unit && i < len(suffix)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, suffix[i])
}
