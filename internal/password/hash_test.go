package password

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// lowCostParams keep tests fast; production cost comes from config.
var lowCostParams = Params{Memory: 64, Iterations: 1, Parallelism: 1}

func newLowCostHasher(t testing.TB, concurrency int) *Hasher {
	t.Helper()
	h, err := NewHasher(lowCostParams, concurrency, 0, nil)
	if err != nil {
		t.Fatalf("NewHasher(%+v, %d) = %v", lowCostParams, concurrency, err)
	}
	return h
}

// Made by the reference implementation (Debian's argon2 0~20171227):
//
//	echo -n 'correct horse battery staple' | argon2 somesaltsomesalt -id -t 2 -m 6 -p 1 -l 32 -e
//	echo -n 'correct horse battery staple' | argon2 somesaltsomesalt -id -t 3 -k 64 -p 2 -l 32 -e
const (
	referencePassword = "correct horse battery staple"
	referenceHashT2P1 = "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30"
	referenceHashT3P2 = "$argon2id$v=19$m=64,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$Nslh/MZXkiSwZ8zA8yYvNGbRscBANFPstxEgzNUlWU8"
)

func TestNewHasher(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		params      Params
		concurrency int
		wantErr     bool
	}{
		{"low cost", lowCostParams, 1, false},
		{"owasp", Params{Memory: 19456, Iterations: 2, Parallelism: 1}, 4, false},
		{"zero iterations", Params{Memory: 64, Iterations: 0, Parallelism: 1}, 1, true},
		{"too many iterations", Params{Memory: 64, Iterations: 101, Parallelism: 1}, 1, true},
		{"zero parallelism", Params{Memory: 64, Iterations: 1, Parallelism: 0}, 1, true},
		{"memory below 8 KiB per lane", Params{Memory: 15, Iterations: 1, Parallelism: 2}, 1, true},
		{"memory above 1 GiB", Params{Memory: 1<<20 + 1, Iterations: 1, Parallelism: 1}, 1, true},
		{"zero concurrency", lowCostParams, 0, true},
		{"negative concurrency", lowCostParams, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := NewHasher(tt.params, tt.concurrency, 0, nil)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("NewHasher(%+v, %d) = %v, want error: %t", tt.params, tt.concurrency, err, tt.wantErr)
			}
			if err == nil && h == nil {
				t.Fatalf("NewHasher(%+v, %d) = nil, nil", tt.params, tt.concurrency)
			}
		})
	}
}

func TestHasherHashFormat(t *testing.T) {
	t.Parallel()
	h := newLowCostHasher(t, 1)
	encoded, err := h.Hash(t.Context(), "some password")
	if err != nil {
		t.Fatalf("Hash() = %v", err)
	}
	const prefix = "$argon2id$v=19$m=64,t=1,p=1$"
	rest, ok := strings.CutPrefix(encoded, prefix)
	if !ok {
		t.Fatalf("Hash() = %q, want prefix %q", encoded, prefix)
	}
	salt64, key64, ok := strings.Cut(rest, "$")
	if !ok {
		t.Fatalf("Hash() = %q, want $<salt>$<key> after the parameters", encoded)
	}
	for _, f := range []struct {
		name, b64 string
		wantLen   int
	}{{"salt", salt64, 16}, {"key", key64, 32}} {
		b, err := base64.RawStdEncoding.Strict().DecodeString(f.b64)
		if err != nil {
			t.Errorf("Hash() %s %q is not unpadded standard base64: %v", f.name, f.b64, err)
			continue
		}
		if len(b) != f.wantLen {
			t.Errorf("Hash() %s has %d bytes, want %d", f.name, len(b), f.wantLen)
		}
	}

	got, err := parsePHC(encoded)
	if err != nil {
		t.Fatalf("parsePHC(%q) = %v", encoded, err)
	}
	if diff := cmp.Diff(lowCostParams, got.params); diff != "" {
		t.Errorf("parsePHC(%q) params mismatch (-want +got):\n%s", encoded, diff)
	}
	if got.String() != encoded {
		t.Errorf("parsePHC(%q).String() = %q, want the input back", encoded, got.String())
	}

	again, err := h.Hash(t.Context(), "some password")
	if err != nil {
		t.Fatalf("Hash() = %v", err)
	}
	if again == encoded {
		t.Errorf("Hash() twice = %q both times, want different salts", encoded)
	}
}

func TestParsePHCReference(t *testing.T) {
	t.Parallel()
	got, err := parsePHC(referenceHashT3P2)
	if err != nil {
		t.Fatalf("parsePHC(%q) = %v", referenceHashT3P2, err)
	}
	want := Params{Memory: 64, Iterations: 3, Parallelism: 2}
	if diff := cmp.Diff(want, got.params); diff != "" {
		t.Errorf("parsePHC(%q) params mismatch (-want +got):\n%s", referenceHashT3P2, diff)
	}
	if string(got.salt) != "somesaltsomesalt" {
		t.Errorf("parsePHC(%q) salt = %q, want %q", referenceHashT3P2, got.salt, "somesaltsomesalt")
	}
	if len(got.key) != 32 {
		t.Errorf("parsePHC(%q) key has %d bytes, want 32", referenceHashT3P2, len(got.key))
	}
}

func TestHasherVerify(t *testing.T) {
	t.Parallel()
	h := newLowCostHasher(t, 2)
	const password = "tr0ub4dor&3 horse"
	encoded, err := h.Hash(t.Context(), password)
	if err != nil {
		t.Fatalf("Hash() = %v", err)
	}
	// Same params as referenceHashT2P1, so that one needs no rehash.
	refHasher, err := NewHasher(Params{Memory: 64, Iterations: 2, Parallelism: 1}, 1, 0, nil)
	if err != nil {
		t.Fatalf("NewHasher() = %v", err)
	}

	tests := []struct {
		name            string
		hasher          *Hasher
		encoded         string
		password        string
		wantOK          bool
		wantNeedsRehash bool
	}{
		{"right password", h, encoded, password, true, false},
		{"wrong password", h, encoded, "tr0ub4dor&3 horsf", false, false},
		{"other case", h, encoded, strings.ToUpper(password), false, false},
		{"empty password", h, encoded, "", false, false},
		{"prefix of password", h, encoded, password[:len(password)-1], false, false},
		{"reference hash", refHasher, referenceHashT2P1, referencePassword, true, false},
		{"reference hash, wrong password", refHasher, referenceHashT2P1, "correct horse battery stapler", false, false},
		{"reference hash, other iterations and parallelism", h, referenceHashT3P2, referencePassword, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, needsRehash, err := tt.hasher.Verify(t.Context(), tt.encoded, tt.password)
			if err != nil {
				t.Fatalf("Verify(%q, %q) = %v", tt.encoded, tt.password, err)
			}
			if ok != tt.wantOK || needsRehash != tt.wantNeedsRehash {
				t.Errorf("Verify(%q, %q) = %t, %t, want %t, %t", tt.encoded, tt.password, ok, needsRehash, tt.wantOK, tt.wantNeedsRehash)
			}
		})
	}
}

func TestHasherVerifyNeedsRehash(t *testing.T) {
	t.Parallel()
	const password = "an older password hash"
	current := newLowCostHasher(t, 1)
	hashWith := func(params Params, saltLen, keyLen int) string {
		ph := phcHash{params: params, salt: make([]byte, saltLen)}
		ph.key = ph.derive(nil, password, keyLen)
		return ph.String()
	}
	tests := []struct {
		name    string
		encoded string
		want    bool
	}{
		{"same parameters", hashWith(lowCostParams, 16, 32), false},
		{"less memory", hashWith(Params{Memory: 32, Iterations: 1, Parallelism: 1}, 16, 32), true},
		{"more memory", hashWith(Params{Memory: 128, Iterations: 1, Parallelism: 1}, 16, 32), true},
		{"more iterations", hashWith(Params{Memory: 64, Iterations: 2, Parallelism: 1}, 16, 32), true},
		{"more parallelism", hashWith(Params{Memory: 64, Iterations: 1, Parallelism: 2}, 16, 32), true},
		{"shorter key", hashWith(lowCostParams, 16, 16), true},
		{"longer key", hashWith(lowCostParams, 16, 64), true},
		{"shorter salt", hashWith(lowCostParams, 8, 32), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, needsRehash, err := current.Verify(t.Context(), tt.encoded, password)
			if err != nil || !ok || needsRehash != tt.want {
				t.Errorf("Verify(%q, %q) = %t, %t, %v, want true, %t, nil", tt.encoded, password, ok, needsRehash, err, tt.want)
			}
			// needsRehash is for a match only: a wrong password says nothing.
			ok, needsRehash, err = current.Verify(t.Context(), tt.encoded, "wrong password")
			if err != nil || ok || needsRehash {
				t.Errorf("Verify(%q, wrong) = %t, %t, %v, want false, false, nil", tt.encoded, ok, needsRehash, err)
			}
		})
	}
}

// malformedHashes are refused by parsePHC and Verify; FuzzVerify seeds with them.
var malformedHashes = map[string]string{
	"empty":                  "",
	"plain text":             "correct horse battery staple",
	"unusable in a hash":     "!$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"werkzeug plain":         "plain$$correct horse battery staple",
	"werkzeug out of bounds": "pbkdf2:sha256:10000001$salt$" + strings.Repeat("00", 32),
	"argon2i":                "$argon2i$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"argon2d":                "$argon2d$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"upper-case algorithm":   "$ARGON2ID$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"version 18":             "$argon2id$v=18$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"version 16":             "$argon2id$v=16$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"no version":             "$argon2id$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"huge memory":            "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"memory over 1 GiB":      "$argon2id$v=19$m=1048577,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"memory overflows":       "$argon2id$v=19$m=4294967296,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"memory below 8p":        "$argon2id$v=19$m=8,t=2,p=2$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"zero iterations":        "$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"too many iterations":    "$argon2id$v=19$m=64,t=101,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"zero parallelism":       "$argon2id$v=19$m=64,t=2,p=0$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"parallelism 256":        "$argon2id$v=19$m=4096,t=2,p=256$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"negative memory":        "$argon2id$v=19$m=-64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"signed memory":          "$argon2id$v=19$m=+64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"leading zero":           "$argon2id$v=19$m=064,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"parameters reordered":   "$argon2id$v=19$t=2,m=64,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"parameter missing":      "$argon2id$v=19$m=64,t=2$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"extra parameter":        "$argon2id$v=19$m=64,t=2,p=1,keyid=x$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"empty parameter value":  "$argon2id$v=19$m=,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"bad base64 salt":        "$argon2id$v=19$m=64,t=2,p=1$c29tZX!!HRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"bad base64 key":         "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZis.LIdwA8ojCXux0K30ccqFS30",
	"url base64 key":         "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N_nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"padded salt":            "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA==$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"non-canonical base64":   "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdB$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"newline in key":         "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdw\nA8ojCXux0K30ccqFS30",
	"short salt":             "$argon2id$v=19$m=64,t=2,p=1$c29tZQ$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"empty salt":             "$argon2id$v=19$m=64,t=2,p=1$$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"short key":              "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7E",
	"long key":               "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("Sr6N", 22),
	"missing key":            "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA",
	"extra field":            "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30$",
	"no leading dollar":      "argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30",
	"trailing space":         "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30 ",
	"oversized":              "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("A", 1<<20),
}

func TestHasherVerifyMalformed(t *testing.T) {
	t.Parallel()
	h := newLowCostHasher(t, 1)
	for name, encoded := range malformedHashes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ok, needsRehash, err := h.Verify(t.Context(), encoded, referencePassword)
			if err == nil || ok || needsRehash {
				t.Errorf("Verify(%.100q) = %t, %t, %v, want false, false, an error", encoded, ok, needsRehash, err)
			}
		})
	}
}

func TestHasherVerifyUnknown(t *testing.T) {
	t.Parallel()
	h := newLowCostHasher(t, 1)
	for _, password := range []string{"", "password", referencePassword, strings.Repeat("x", 256)} {
		if err := h.VerifyUnknown(t.Context(), password); err != nil {
			t.Errorf("VerifyUnknown(%q) = %v, want nil", password, err)
		}
	}
}

// holdSlots takes n of h's slots, as n hashes in flight would, until cleanup.
func holdSlots(t *testing.T, h *Hasher, n int) (release func()) {
	t.Helper()
	held := make([]*slot, n)
	for i := range held {
		s, err := h.acquire(t.Context())
		if err != nil {
			t.Fatalf("acquire() = %v", err)
		}
		held[i] = s
	}
	released := false
	release = func() {
		if !released {
			released = true
			for _, s := range held {
				h.release(s)
			}
		}
	}
	t.Cleanup(release)
	return release
}

func TestHasherConcurrencyBound(t *testing.T) {
	t.Parallel()
	h := newLowCostHasher(t, 2)
	release := holdSlots(t, h, 2)

	done := make(chan error, 1)
	go func() {
		_, err := h.Hash(t.Context(), "a third hash")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Hash() with every slot taken returned %v, want it to wait", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Hash() after slots were freed = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Hash() still waiting 10s after slots were freed")
	}
}

func TestHasherCanceledWhileWaiting(t *testing.T) {
	t.Parallel()
	h := newLowCostHasher(t, 1)
	encoded, err := h.Hash(t.Context(), referencePassword)
	if err != nil {
		t.Fatalf("Hash() = %v", err)
	}
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Hash", func(ctx context.Context) error {
			_, err := h.Hash(ctx, referencePassword)
			return err
		}},
		{"Verify", func(ctx context.Context) error {
			_, _, err := h.Verify(ctx, encoded, referencePassword)
			return err
		}},
		{"VerifyUnknown", func(ctx context.Context) error {
			return h.VerifyUnknown(ctx, referencePassword)
		}},
		{"Verify legacy", func(ctx context.Context) error {
			_, _, err := h.Verify(ctx, cheapPBKDF2, referencePassword)
			return err
		}},
		{"Verify Unusable", func(ctx context.Context) error {
			_, _, err := h.Verify(ctx, Unusable, referencePassword)
			return err
		}},
	}
	// Subtests run in turn: they share h's single slot.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := holdSlots(t, h, 1)
			defer release()
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- tt.call(ctx) }()
			time.Sleep(20 * time.Millisecond)
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("%s() canceled while waiting = %v, want context.Canceled", tt.name, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s() still waiting 10s after cancel", tt.name)
			}
		})
	}
	t.Run("canceled before the call, slot free", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, tt := range tests {
			if err := tt.call(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("%s() with canceled ctx = %v, want context.Canceled", tt.name, err)
			}
		}
	})
}

func BenchmarkHash(b *testing.B) {
	owasp := Params{Memory: 19456, Iterations: 2, Parallelism: 1}
	h, err := NewHasher(owasp, 1, 0, nil)
	if err != nil {
		b.Fatalf("NewHasher(%+v, 1) = %v", owasp, err)
	}
	ctx := b.Context()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHasherShedsAfterMaxWait(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(lowCostParams, 1, 30*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	holdSlots(t, h, 1)
	for name, call := range map[string]func() error{
		"Hash":          func() error { _, err := h.Hash(t.Context(), "x"); return err },
		"VerifyUnknown": func() error { return h.VerifyUnknown(t.Context(), "x") },
	} {
		if err := call(); !errors.Is(err, ErrBusy) {
			t.Errorf("%s() with the only slot held past maxWait = %v, want ErrBusy", name, err)
		}
	}
}
