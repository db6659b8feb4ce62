package auth

import (
	"testing"
	"time"
)

// TestRefusalLog checks that a flood of refused logins of one account is
// recorded once a minute, other accounts apart, and that the memory of
// accounts stays bounded.
func TestRefusalLog(t *testing.T) {
	var l refusalLog
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		email string
		at    time.Duration
		want  bool
	}{
		{"a@example.com", 0, true},
		{"a@example.com", time.Second, false},
		{"b@example.com", time.Second, true},
		{"a@example.com", refusalInterval - time.Nanosecond, false},
		{"a@example.com", refusalInterval, true},
		{"a@example.com", refusalInterval + time.Second, false},
		{"a@example.com", -time.Hour, true}, // the clock went back
	} {
		if got := l.first(tc.email, t0.Add(tc.at)); got != tc.want {
			t.Errorf("first(%s, +%s) = %v, want %v", tc.email, tc.at, got, tc.want)
		}
	}
	for i := range 3 * maxRefusalAccounts {
		l.first(string(rune(i)), t0)
	}
	if n := len(l.last); n > maxRefusalAccounts {
		t.Errorf("refusalLog remembers %d accounts, want at most %d", n, maxRefusalAccounts)
	}
}
