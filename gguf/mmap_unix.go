//go:build unix

package gguf

import (
	"fmt"
	"math"
	"os"
	"syscall"
)

// mapFile maps size bytes of fd read-only and shared, so that the kernel
// pages tensor data in on demand and several processes share one copy.
func mapFile(fd *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 {
		// mmap of length 0 fails; an empty file is still a (bad) GGUF file
		// for the parser to report.
		return nil, func() error { return nil }, nil
	}
	if size < 0 || uint64(size) > math.MaxInt {
		return nil, nil, fmt.Errorf("file size %d cannot be mapped", size)
	}
	data, err := syscall.Mmap(int(fd.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap: %w", err)
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
