package token

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestParseRemembersVerified checks the cache of verified tokens: a token
// parsed again gives the same claims; a changed token, a token of a key
// taken out and an expired token are refused as without the cache; and
// the cache stays within maxVerified.
func TestParseRemembersVerified(t *testing.T) {
	t.Parallel()
	keys := keysFor(t)
	var now atomic.Pointer[time.Time]
	setNow := func(t time.Time) { now.Store(&t) }
	setNow(testNow)
	i, err := NewIssuer(Options{Issuer: testIssuer, Audience: testAudience, TTL: testTTL, Leeway: time.Second,
		Now: func() time.Time { return *now.Load() }}, keys["ES256"], keys["RS256"])
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: []string{"user"}})
	if err != nil {
		t.Fatal(err)
	}
	cached := func() int {
		v := &i.keys.Load().verified
		v.mu.RLock()
		defer v.mu.RUnlock()
		return len(v.claims)
	}

	first, err := i.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	if cached() != 1 {
		t.Fatalf("%d tokens remembered after one Parse, want 1", cached())
	}
	again, err := i.Parse(tok)
	if err != nil {
		t.Fatalf("Parse again = %v", err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("claims parsed again differ (-first +again):\n%s", diff)
	}
	again.Roles = nil // a caller's change reaches no other caller
	if third, _ := i.Parse(tok); third == nil || len(third.Roles) != 1 {
		t.Errorf("Parse after a caller changed its claims = %+v, want the roles as issued", third)
	}

	// A token differing in one character of its signature is checked, and
	// refused.
	forged := tok[:len(tok)-2] + map[bool]string{true: "A", false: "B"}[tok[len(tok)-2] != 'A'] + tok[len(tok)-1:]
	if _, err := i.Parse(forged); !errors.Is(err, ErrInvalid) {
		t.Errorf("Parse(token with a changed signature) = %v, want ErrInvalid", err)
	}

	// Expired within the leeway, then past it: ErrExpired, and forgotten.
	exp := first.ExpiresAt.Time
	setNow(exp.Add(500 * time.Millisecond))
	if _, err := i.Parse(tok); err != nil {
		t.Errorf("Parse within the leeway after exp = %v, want nil", err)
	}
	setNow(exp.Add(time.Second))
	if _, err := i.Parse(tok); !errors.Is(err, ErrExpired) || Reason(err) != reasonExpired {
		t.Errorf("Parse at exp plus the leeway = %v, want ErrExpired", err)
	}
	if cached() != 0 {
		t.Errorf("%d tokens remembered after the only one expired, want 0", cached())
	}

	// The signing key taken out: the token it signed is refused.
	setNow(testNow)
	if _, err := i.Parse(tok); err != nil {
		t.Fatal(err)
	}
	if err := i.SetKeys(keys["RS256"]); err != nil {
		t.Fatal(err)
	}
	if _, err := i.Parse(tok); !errors.Is(err, ErrInvalid) || Reason(err) != reasonUnknownKey {
		t.Errorf("Parse after its key was taken out = %v (%s), want ErrInvalid, %s", err, Reason(err), reasonUnknownKey)
	}

	// Many tokens (HMAC, which signs fast): the cache keeps at most
	// maxVerified.
	if err := i.SetKeys(keys["HS256"]); err != nil {
		t.Fatal(err)
	}
	for n := range maxVerified + 10 {
		tok, _, err := i.Issue(Subject{UserID: testSubject, SessionID: fmt.Sprint(n), Email: testEmail})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := i.Parse(tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := cached(); n != maxVerified {
		t.Errorf("%d tokens remembered after %d, want %d", n, maxVerified+10, maxVerified)
	}
}
