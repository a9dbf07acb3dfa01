package gguf

import (
	"fmt"
	"io"
	"math"
	"os"
	"syscall"
	"unsafe"

	"github.com/kiln-llm/kiln/internal/hugepages"
)

// readHuge reads the file into anonymous memory aligned to huge pages and
// advised to use them (HugePages). The memory stays writable until seal.
func readHuge(fd *os.File, size int64) (data []byte, release, seal func() error, err error) {
	if size == 0 {
		data, release, err = mapFile(fd, size)
		return data, release, nil, err
	}
	if size < 0 || uint64(size) > math.MaxInt-2*hugepages.Size {
		return nil, nil, nil, fmt.Errorf("file size %d cannot be read", size)
	}
	n := int(size)
	padded := (n + hugepages.Size - 1) / hugepages.Size * hugepages.Size
	// One extra huge page of slack lets the data start on a 2 MiB boundary
	// wherever the kernel puts the region.
	mem, err := syscall.Mmap(-1, 0, padded+hugepages.Size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("allocate %d bytes: %w", padded+hugepages.Size, err)
	}
	release = func() error { return syscall.Munmap(mem) }
	fail := func(err error) ([]byte, func() error, func() error, error) {
		if uerr := release(); uerr != nil {
			return nil, nil, nil, fmt.Errorf("%w (and unmap: %v)", err, uerr)
		}
		return nil, nil, nil, err
	}
	off := (hugepages.Size - int(uintptr(unsafe.Pointer(&mem[0]))%hugepages.Size)) % hugepages.Size
	data = mem[off : off+padded]
	hugepages.Advise(data)
	if _, err := io.ReadFull(io.NewSectionReader(fd, 0, size), data[:n]); err != nil {
		return fail(fmt.Errorf("read: %w", err))
	}
	// Read-only once sealed, as a mapping is: a stray write into the
	// weights faults instead of corrupting them.
	seal = func() error { return syscall.Mprotect(mem, syscall.PROT_READ) }
	return data[:n:n], release, seal, nil
}
