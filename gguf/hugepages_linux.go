package gguf

import (
	"fmt"
	"io"
	"math"
	"os"
	"syscall"
	"unsafe"
)

// hugePage is the size of an x86-64 and arm64 transparent huge page.
const hugePage = 2 << 20

// readHuge reads the file into anonymous memory aligned to huge pages and
// advised to use them (HugePages). The memory stays writable until seal.
func readHuge(fd *os.File, size int64) (data []byte, release, seal func() error, err error) {
	if size == 0 {
		data, release, err = mapFile(fd, size)
		return data, release, nil, err
	}
	if size < 0 || uint64(size) > math.MaxInt-2*hugePage {
		return nil, nil, nil, fmt.Errorf("file size %d cannot be read", size)
	}
	n := int(size)
	padded := (n + hugePage - 1) / hugePage * hugePage
	// One extra huge page of slack lets the data start on a 2 MiB boundary
	// wherever the kernel puts the region.
	mem, err := syscall.Mmap(-1, 0, padded+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("allocate %d bytes: %w", padded+hugePage, err)
	}
	release = func() error { return syscall.Munmap(mem) }
	fail := func(err error) ([]byte, func() error, func() error, error) {
		if uerr := release(); uerr != nil {
			return nil, nil, nil, fmt.Errorf("%w (and unmap: %v)", err, uerr)
		}
		return nil, nil, nil, err
	}
	off := (hugePage - int(uintptr(unsafe.Pointer(&mem[0]))%hugePage)) % hugePage
	data = mem[off : off+padded]
	// Only advice: where transparent huge pages are off, the memory is
	// still correct, in 4 KiB pages.
	_ = syscall.Madvise(data, syscall.MADV_HUGEPAGE)
	if _, err := io.ReadFull(io.NewSectionReader(fd, 0, size), data[:n]); err != nil {
		return fail(fmt.Errorf("read: %w", err))
	}
	// Read-only once sealed, as a mapping is: a stray write into the
	// weights faults instead of corrupting them.
	seal = func() error { return syscall.Mprotect(mem, syscall.PROT_READ) }
	return data[:n:n], release, seal, nil
}
