// Package hugepages asks the operating system to back memory with
// transparent huge pages, where a large read-mostly buffer walked by the
// CPU (the weights, the KV cache) spends less on address translation and
// lets the hardware prefetcher run across 4 KiB boundaries.
package hugepages

// Size is the size of an x86-64 and arm64 transparent huge page.
const Size = 2 << 20

// Advise advises the whole huge pages inside b to be backed by huge pages
// (Linux; elsewhere it does nothing). It is only advice: where transparent
// huge pages are off, the memory is the same in 4 KiB pages.
func Advise(b []byte) { advise(b) }
