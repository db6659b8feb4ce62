package token

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

func TestNewRefreshToken(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 100 {
		tok, hash, err := NewRefreshToken()
		if err != nil {
			t.Fatalf("NewRefreshToken() = %v", err)
		}
		if len(tok) != 43 {
			t.Errorf("NewRefreshToken() = %q of %d characters, want 43", tok, len(tok))
		}
		if raw, err := base64.RawURLEncoding.Strict().DecodeString(tok); err != nil || len(raw) != 32 {
			t.Errorf("NewRefreshToken() = %q, want 32 bytes in unpadded base64url (decoding: %d bytes, %v)", tok, len(raw), err)
		}
		if seen[tok] {
			t.Errorf("NewRefreshToken() = %q twice", tok)
		}
		seen[tok] = true
		if want := HashRefreshToken(tok); !bytes.Equal(hash, want) {
			t.Errorf("NewRefreshToken() hash = %x, want HashRefreshToken(token) = %x", hash, want)
		}
	}
}

func TestHashRefreshToken(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"", "token", "dGhpcyBpcyBub3QgYSByZWFsIHJlZnJlc2ggdG9rZW4"} {
		got := HashRefreshToken(tok)
		want := sha256.Sum256([]byte(tok))
		if !bytes.Equal(got, want[:]) || len(got) != 32 {
			t.Errorf("HashRefreshToken(%q) = %x, want %x", tok, got, want)
		}
		if again := HashRefreshToken(tok); !bytes.Equal(got, again) {
			t.Errorf("HashRefreshToken(%q) = %x, then %x, want the same", tok, got, again)
		}
	}
	if a, b := HashRefreshToken("a"), HashRefreshToken("b"); bytes.Equal(a, b) {
		t.Errorf("HashRefreshToken(\"a\") = HashRefreshToken(\"b\") = %x", a)
	}
}
