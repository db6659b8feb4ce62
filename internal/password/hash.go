package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/internal/password/argon2"
)

// Hashes are stored in the PHC string format that libargon2, Python's
// argon2-cffi and most other implementations share, so a stored hash can be
// checked by other tools and outlives a change of library:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// with salt and key in unpadded standard base64.
const (
	argonSaltLen = 16
	argonKeyLen  = 32

	// Bounds on what a stored hash may ask for. A corrupted or hostile row
	// must not make Verify allocate or spin without bound; hashes we write
	// are far inside them.
	argonMaxMemory     = 1 << 20 // KiB: 1 GiB
	argonMaxIterations = 100
	argonMinSaltLen    = 8
	argonMaxSaltLen    = 64
	argonMinKeyLen     = 16
	argonMaxKeyLen     = 64
	// argonMaxEncodedLen bounds the whole string before any parsing.
	argonMaxEncodedLen = 256
)

// errMalformedHash is a stored password hash that cannot be parsed or asks
// for parameters out of bounds: a data problem, never the user's.
var errMalformedHash = errors.New("malformed password hash")

// Params are argon2id's cost parameters. OWASP's minimum for argon2id is
// Memory 19456 (19 MiB), Iterations 2, Parallelism 1.
type Params struct {
	// Memory is in KiB; each hash in flight holds this much.
	Memory      uint32
	Iterations  uint32
	Parallelism uint8
}

func (p Params) validate() error {
	switch {
	case p.Iterations < 1 || p.Iterations > argonMaxIterations:
		return fmt.Errorf("iterations %d out of range 1..%d", p.Iterations, argonMaxIterations)
	case p.Parallelism < 1:
		return fmt.Errorf("parallelism %d out of range 1..255", p.Parallelism)
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > argonMaxMemory:
		// argon2 needs at least 8 KiB per lane and silently raises less.
		return fmt.Errorf("memory %d KiB out of range %d..%d", p.Memory, 8*uint32(p.Parallelism), argonMaxMemory)
	}
	return nil
}

// Hasher hashes and verifies passwords with argon2id and bounded concurrency:
// at most a fixed number of hashes run at once, so a login flood queues
// instead of exhausting memory. Each of those slots owns the memory its
// hashes run in (Memory KiB), outside the Go heap and in huge pages where
// the kernel grants them: a hash allocates nothing, leaves no garbage for
// the collector, and memory given back after an idle spell costs the next
// hash a millisecond or two to take again. A Hasher is safe for concurrent
// use.
type Hasher struct {
	params Params
	// slots holds the slots that are free: a hash runs while it holds one.
	slots chan *slot
	// maxWait is how long a hash may wait for a slot before it is shed.
	maxWait time.Duration
	// dummy is the hash of a random password that VerifyUnknown checks
	// against, so that it costs what Verify costs.
	dummy phcHash
	// obs learns how long each hash takes.
	obs Observer
	// done counts the hashes that have finished, for ReleaseWhenIdle.
	done atomic.Uint64
}

// Observer learns how long each hash takes: the hash alone, not the wait
// for a slot.
type Observer interface {
	ObservePasswordHash(time.Duration)
}

// ErrBusy is a hash shed because it waited longer than the Hasher's maxWait
// for a slot.
var ErrBusy = errors.New("password hashing busy")

// NewHasher returns a Hasher that hashes with p and runs at most concurrency
// hashes at once. A hash that waits longer than maxWait for its turn is shed
// with ErrBusy, so that a flood gets fast refusals instead of a queue without
// end; zero means wait as long as the request's context allows. obs, if not
// nil, learns the hashes' timings. It computes one hash before returning.
func NewHasher(p Params, concurrency int, maxWait time.Duration, obs Observer) (*Hasher, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("password hash parameters: %w", err)
	}
	if concurrency < 1 {
		return nil, fmt.Errorf("password hash concurrency %d must be at least 1", concurrency)
	}
	if obs == nil {
		obs = nopObserver{}
	}
	h := &Hasher{params: p, slots: make(chan *slot, concurrency), maxWait: maxWait, obs: obs}
	for range concurrency {
		h.slots <- &slot{size: argon2.MemorySize(p.Memory, p.Parallelism)}
	}
	h.dummy = phcHash{params: p, salt: newSalt()}
	s := <-h.slots
	h.dummy.key = h.dummy.derive(s.memory(), rand.Text(), argonKeyLen)
	h.slots <- s
	return h, nil
}

// Hash returns the PHC-encoded argon2id hash of password under a fresh random
// salt. It waits for a free slot, or returns ctx.Err() if ctx ends first.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	ph := phcHash{params: h.params, salt: newSalt()}
	s, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer h.release(s)
	ph.key = h.derive(s, ph, password, argonKeyLen)
	return ph.String(), nil
}

// Unusable is the stored hash of an account without a usable password, as
// "!" is in /etc/shadow: users import stores it for a user whose hash it
// cannot verify, or who had none. No password matches it; Verify spends on
// it what VerifyUnknown spends, so that such an account answers a login as
// slowly as any other, until a password reset stores a real hash.
const Unusable = "!"

// SchemeArgon2id is the scheme of the Hasher's own hashes, as Scheme names
// it.
const SchemeArgon2id = "argon2id"

// Scheme checks encoded as Verify would before hashing anything, and returns
// its scheme: SchemeArgon2id for a PHC-encoded argon2id hash within the
// Hasher's bounds, or one of the legacy schemes (SchemeWerkzeugPBKDF2,
// SchemeWerkzeugScrypt, SchemeBcrypt) for a hash ParseLegacy accepts. It
// hashes nothing. Any other hash, Unusable included, is an error wrapping
// ErrUnknownScheme, ErrMalformed or ErrOutOfBounds, as ParseLegacy's are.
func Scheme(encoded string) (string, error) {
	if LegacyScheme(encoded) != "" {
		l, err := ParseLegacy(encoded)
		if err != nil {
			return "", err
		}
		return l.Scheme(), nil
	}
	if strings.HasPrefix(encoded, "$"+SchemeArgon2id+"$") {
		if _, err := parsePHC(encoded); err != nil {
			return "", fmt.Errorf("%w: not argon2id as Latchkey writes it, or out of bounds", ErrMalformed)
		}
		return SchemeArgon2id, nil
	}
	return "", ErrUnknownScheme
}

// Verify reports whether password matches the stored hash encoded, and, on
// a match, whether encoded should be replaced by a fresh Hash of password:
// because it is of a legacy scheme (see ParseLegacy), or an argon2id hash
// made with parameters other than h's. A legacy verification takes a slot
// like any other, and the time and memory its scheme and parameters take.
// Unusable matches no password, after the work VerifyUnknown does. A
// malformed hash, or one asking for more than the bounds allow, is an error.
// Verify waits for a free slot, or returns ctx.Err() if ctx ends first.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, needsRehash bool, err error) {
	if encoded == Unusable {
		return false, false, h.VerifyUnknown(ctx, password)
	}
	if LegacyScheme(encoded) != "" {
		return h.verifyLegacy(ctx, encoded, password)
	}
	ph, err := parsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	s, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer h.release(s)
	if subtle.ConstantTimeCompare(h.derive(s, ph, password, len(ph.key)), ph.key) != 1 {
		return false, false, nil
	}
	rehash := ph.params != h.params || len(ph.key) != argonKeyLen || len(ph.salt) != argonSaltLen
	return true, rehash, nil
}

// verifyLegacy is Verify for a hash of a legacy scheme: a match always
// needs a rehash.
func (h *Hasher) verifyLegacy(ctx context.Context, encoded, password string) (ok, needsRehash bool, err error) {
	l, err := ParseLegacy(encoded)
	if err != nil {
		return false, false, err
	}
	s, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer h.release(s)
	start := time.Now()
	ok, err = l.Verify(password)
	h.obs.ObservePasswordHash(time.Since(start))
	return ok, ok, err
}

// VerifyUnknown costs what Verify costs for a wrong password, and fails as
// Verify fails when the hasher is overloaded or ctx ends. Login calls it when
// no user has the email, so that neither the time a login takes nor its
// error tells whether the email is registered.
func (h *Hasher) VerifyUnknown(ctx context.Context, password string) error {
	s, err := h.acquire(ctx)
	if err != nil {
		return err
	}
	defer h.release(s)
	subtle.ConstantTimeCompare(h.derive(s, h.dummy, password, argonKeyLen), h.dummy.key)
	return nil
}

func (h *Hasher) acquire(ctx context.Context) (*slot, error) {
	// select picks at random among ready cases: check ctx first so that a
	// canceled request never starts a hash.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case s := <-h.slots:
		return s, nil
	default:
	}
	var shed <-chan time.Time
	if h.maxWait > 0 {
		t := time.NewTimer(h.maxWait)
		defer t.Stop()
		shed = t.C
	}
	select {
	case s := <-h.slots:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-shed:
		return nil, ErrBusy
	}
}

func (h *Hasher) release(s *slot) {
	h.done.Add(1)
	h.slots <- s
}

// Warm computes as many hashes at once as the Hasher runs at most, so that
// the memory of every slot has been touched once: on a machine where fresh
// memory is slow to touch, the first hashes of a new process otherwise cost
// several times a warm one. It waits for free slots like any hash.
func (h *Hasher) Warm(ctx context.Context) error {
	errs := make([]error, cap(h.slots))
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = h.VerifyUnknown(ctx, rand.Text()) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ReleaseWhenIdle gives the slots' memory back to the system once per idle
// spell, when no hash has run for between idle and twice idle, until ctx
// ends: an idle replica then holds only what the Go runtime keeps, and the
// next hash maps its slot's memory again. After each release it calls
// released, unless nil: the service gives back the Go heap that the logins
// left behind then too.
func (h *Hasher) ReleaseWhenIdle(ctx context.Context, idle time.Duration, released func()) {
	t := time.NewTicker(idle)
	defer t.Stop()
	last, done := h.done.Load(), false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := h.done.Load()
		switch {
		case n != last || len(h.slots) < cap(h.slots):
			last, done = n, false
		case !done:
			h.unmapIdle()
			done = true
			if released != nil {
				released()
			}
		}
	}
}

// unmapIdle gives back the memory of the slots that are free.
func (h *Hasher) unmapIdle() {
	for range cap(h.slots) {
		select {
		case s := <-h.slots:
			s.unmap()
			h.slots <- s
		default:
			return
		}
	}
}

// slot is the memory of one hash at a time, mapped at its first use and
// after each unmap.
type slot struct {
	size int
	mem  []byte
	free func() // gives mem back; nil while mem is nil
	// cleanup gives mem back if the slot, with its Hasher, is dropped
	// while mapped: the memory is outside the Go heap.
	cleanup runtime.Cleanup
}

// memory returns the slot's memory, mapping it if need be.
func (s *slot) memory() []byte {
	if s.mem == nil {
		s.mem, s.free = mapHashMemory(s.size)
		s.cleanup = runtime.AddCleanup(s, func(free func()) { free() }, s.free)
	}
	return s.mem
}

// unmap gives the slot's memory back to the system.
func (s *slot) unmap() {
	if s.free != nil {
		s.cleanup.Stop()
		s.free()
		s.mem, s.free = nil, nil
	}
}

// derive computes ph's key of password in s's memory, and tells the
// observer how long it took: the hash alone, not the wait for a slot.
func (h *Hasher) derive(s *slot, ph phcHash, password string, keyLen int) []byte {
	start := time.Now()
	key := ph.derive(s.memory(), password, keyLen)
	h.obs.ObservePasswordHash(time.Since(start))
	return key
}

func newSalt() []byte {
	salt := make([]byte, argonSaltLen)
	// crypto/rand.Read does not return errors: it crashes the program if the
	// system's generator fails.
	_, _ = rand.Read(salt)
	return salt
}

type nopObserver struct{}

func (nopObserver) ObservePasswordHash(time.Duration) {}

// phcHash is a parsed argon2id hash.
type phcHash struct {
	params    Params
	salt, key []byte
}

// derive computes ph's key of password in mem, or in memory of its own if
// ph asks for more than mem holds.
func (ph phcHash) derive(mem []byte, password string, keyLen int) []byte {
	return argon2.IDKeyIn(mem, []byte(password), ph.salt, ph.params.Iterations, ph.params.Memory, ph.params.Parallelism, uint32(keyLen))
}

// String returns the PHC encoding.
func (ph phcHash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, ph.params.Memory, ph.params.Iterations, ph.params.Parallelism,
		base64.RawStdEncoding.EncodeToString(ph.salt), base64.RawStdEncoding.EncodeToString(ph.key))
}

// parsePHC parses the PHC encoding of an argon2id hash strictly: the one
// canonical spelling String produces, parameters within bounds. Anything else
// is errMalformedHash.
func parsePHC(encoded string) (phcHash, error) {
	if len(encoded) > argonMaxEncodedLen {
		return phcHash{}, errMalformedHash
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return phcHash{}, errMalformedHash
	}
	// x/crypto/argon2 implements version 19 (0x13) only.
	if v, ok := cutDecimal(parts[2], "v="); !ok || v != argon2.Version {
		return phcHash{}, errMalformedHash
	}
	mp, rest, _ := strings.Cut(parts[3], ",")
	tp, pp, _ := strings.Cut(rest, ",")
	m, okM := cutDecimal(mp, "m=")
	t, okT := cutDecimal(tp, "t=")
	p, okP := cutDecimal(pp, "p=")
	if !okM || !okT || !okP || p > 255 {
		return phcHash{}, errMalformedHash
	}
	ph := phcHash{params: Params{Memory: m, Iterations: t, Parallelism: uint8(p)}}
	if ph.params.validate() != nil {
		return phcHash{}, errMalformedHash
	}
	var okS, okK bool
	ph.salt, okS = decodeB64(parts[4], argonMinSaltLen, argonMaxSaltLen)
	ph.key, okK = decodeB64(parts[5], argonMinKeyLen, argonMaxKeyLen)
	if !okS || !okK {
		return phcHash{}, errMalformedHash
	}
	return ph, nil
}

// cutDecimal parses s as prefix followed by a decimal uint32 without sign or
// leading zeros.
func cutDecimal(s, prefix string) (uint32, bool) {
	digits, ok := strings.CutPrefix(s, prefix)
	if !ok || digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

// decodeB64 decodes unpadded standard base64 of between minLen and maxLen
// bytes, refusing non-canonical spellings (the decoder would skip CR and LF).
func decodeB64(s string, minLen, maxLen int) ([]byte, bool) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) < minLen || len(b) > maxLen {
		return nil, false
	}
	return b, true
}
