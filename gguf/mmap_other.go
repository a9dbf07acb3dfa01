//go:build !unix

package gguf

import (
	"fmt"
	"io"
	"math"
	"os"
)

// mapFile reads the whole file into memory on platforms without mmap
// support here; Data slices then point into this copy.
func mapFile(fd *os.File, size int64) ([]byte, func() error, error) {
	if size < 0 || uint64(size) > math.MaxInt {
		return nil, nil, fmt.Errorf("file size %d cannot be read", size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(fd, data); err != nil {
		return nil, nil, fmt.Errorf("read: %w", err)
	}
	return data, func() error { return nil }, nil
}
