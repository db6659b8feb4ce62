//go:build !linux

package password

// mapHashMemory returns n bytes for a hash's memory from the Go heap.
func mapHashMemory(n int) (mem []byte, unmap func()) {
	return make([]byte, n), func() {}
}
