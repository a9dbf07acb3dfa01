//go:build !amd64 || purego

package tensor

// activeKernels is the kernel set MatMul uses: portable Go on this build.
var activeKernels = portableKernels

// hostKernels lists the kernel sets this host can run, for tests.
func hostKernels() []*kernelSet { return []*kernelSet{portableKernels} }
