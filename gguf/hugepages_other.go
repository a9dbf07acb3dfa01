//go:build !linux

package gguf

import "os"

// readHuge maps the file where transparent huge pages are not known
// (HugePages falls back to Mapped).
func readHuge(fd *os.File, size int64) (data []byte, release, seal func() error, err error) {
	data, release, err = mapFile(fd, size)
	return data, release, nil, err
}
