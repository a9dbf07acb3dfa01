//go:build !amd64 || purego

package attention

import "unsafe"

var active = portable

// hostKernels lists the implementations this host can run, for tests.
func hostKernels() []*kernels { return []*kernels{portable} }

func prefetch(p unsafe.Pointer, n int) {}
