package model

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of an x86-64 and arm64 transparent huge page.
const hugePage = 2 << 20

// hugeSlice makes a slice of n elements whose whole 2 MiB pages are advised
// to be backed by huge pages (see blockGroup). It is only advice: where
// transparent huge pages are off, the memory is the same in 4 KiB pages.
func hugeSlice[T any](n int) []T {
	x := make([]T, n)
	if n == 0 {
		return x
	}
	p := unsafe.Pointer(unsafe.SliceData(x))
	start := uintptr(p)
	lo := (start + hugePage - 1) &^ (hugePage - 1)
	hi := (start + uintptr(n)*unsafe.Sizeof(x[0])) &^ (hugePage - 1)
	if hi > lo {
		_ = syscall.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, lo-start)), hi-lo), syscall.MADV_HUGEPAGE)
	}
	return x
}
