package password

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on the platforms Latchkey
// ships for.
const hugePage = 2 << 20

// mapHashMemory returns n bytes of zeroed memory outside the Go heap, in
// huge pages where the kernel grants them (transparent huge pages in
// "madvise" mode or "always"): a hash's memory is then faulted in a few
// large pages instead of thousands of small ones, which costs a fresh
// buffer 1-2 ms instead of 60-130 ms where page faults are slow. The tail
// that does not fill a huge page (1 MiB of the default 19 MiB) stays in
// small pages: a huge page there would hold 2 MiB resident for it. unmap
// gives the memory back. Without mmap it falls back to the Go heap.
func mapHashMemory(n int) (mem []byte, unmap func()) {
	// One huge page more, to start on a huge page's boundary.
	region, err := syscall.Mmap(-1, 0, n+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]byte, n), func() {}
	}
	off := 0
	if r := addr(region) % hugePage; r != 0 {
		off = int(hugePage - r)
	}
	mem = region[off : off+n]
	// Advice only: without it the memory is used in small pages.
	whole := n / hugePage * hugePage
	if whole > 0 {
		_ = syscall.Madvise(mem[:whole], syscall.MADV_HUGEPAGE)
	}
	if whole < n {
		_ = syscall.Madvise(mem[whole:], syscall.MADV_NOHUGEPAGE)
	}
	return mem, func() { _ = syscall.Munmap(region) }
}

// addr is the address of b's first byte.
func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) } //nolint:gosec // read to align, never turned back into a pointer
