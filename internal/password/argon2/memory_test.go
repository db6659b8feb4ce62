package argon2

import (
	"bytes"
	"crypto/rand"
	mathrand "math/rand/v2"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// TestIDKeyInMatchesXCrypto checks IDKeyIn against x/crypto's IDKey over
// random parameters, in one buffer reused from key to key (so left dirty by
// the one before), in a buffer too short (which IDKeyIn must not use), and
// in one longer than needed.
func TestIDKeyInMatchesXCrypto(t *testing.T) {
	t.Parallel()
	reused := make([]byte, MemorySize(256, 4))
	for i := range 40 {
		password, salt := []byte(rand.Text()[:mathrand.IntN(26)]), []byte(rand.Text()[:8+mathrand.IntN(18)])
		time := 1 + mathrand.Uint32N(3)
		threads := uint8(1 + mathrand.IntN(4))
		memory := mathrand.Uint32N(257)
		keyLen := 16 + mathrand.Uint32N(49)
		want := xargon2.IDKey(password, salt, time, memory, threads, keyLen)
		for name, mem := range map[string][]byte{
			"reused":    reused,
			"too short": make([]byte, MemorySize(memory, threads)-1),
			"exact":     make([]byte, MemorySize(memory, threads)),
		} {
			if got := IDKeyIn(mem, password, salt, time, memory, threads, keyLen); !bytes.Equal(got, want) {
				t.Fatalf("%d: IDKeyIn(%s, t=%d m=%d p=%d len=%d) = %x, x/crypto's IDKey %x", i, name, time, memory, threads, keyLen, got, want)
			}
		}
	}
}

// TestIDKeyInDefaults checks IDKeyIn at Latchkey's default parameters
// (m=19456 KiB, t=2, p=1) against x/crypto's IDKey, twice in one buffer.
func TestIDKeyInDefaults(t *testing.T) {
	t.Parallel()
	mem := make([]byte, MemorySize(19456, 1))
	for range 2 {
		password, salt := []byte(rand.Text()), []byte(rand.Text()[:16])
		want := xargon2.IDKey(password, salt, 2, 19456, 1, 32)
		if got := IDKeyIn(mem, password, salt, 2, 19456, 1, 32); !bytes.Equal(got, want) {
			t.Fatalf("IDKeyIn = %x, x/crypto's IDKey %x", got, want)
		}
	}
}
