package auth

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/database"
	"github.com/latchkey/latchkey/internal/testdb"
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

// TestPurgeAudit checks that PurgeEnded deletes the audit events older
// than AuditLogRetention, and only those.
func TestPurgeAudit(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		s, client := newTestService(t, uri, func() time.Time { return now })
		s.life.AuditLogRetention = 2160 * time.Hour
		uid := uuid.New()
		for _, at := range []time.Duration{0, time.Hour, 2 * time.Hour} {
			now = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC).Add(at)
			if err := s.audit(t.Context(), nil, auditEntry{Type: auditevent.TypeLOGIN_FAILED, UserID: uid, Reason: auditReasonInvalidCredentials}); err != nil {
				t.Fatal(err)
			}
		}
		// 90 days and 30 minutes after the first: it and only it is over.
		now = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC).Add(2160*time.Hour + 30*time.Minute)
		if _, err := s.PurgeEnded(t.Context(), 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		left, err := client.AuditEvent.Query().Order(ent.Asc(auditevent.FieldOccurredAt)).All(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 2 || !left[0].OccurredAt.Equal(time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)) {
			t.Errorf("after the purge %d events are left, the oldest %v; want 2, from 13:00", len(left), left)
		}
	})
}

// TestPurgePeriodically checks that the purge runs every interval and
// stops when its context ends.
func TestPurgePeriodically(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		s, client := newTestService(t, uri, func() time.Time { return now })
		s.life.AuditLogRetention = time.Hour
		if err := s.audit(t.Context(), nil, auditEntry{Type: auditevent.TypeLOGIN_FAILED, UserID: uuid.New(), Reason: auditReasonInvalidCredentials}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Hour)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.PurgePeriodically(ctx, 10*time.Millisecond)
		}()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			n, err := client.AuditEvent.Query().Count(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the audit event past its retention is still there after 10 s of purges every 10 ms")
			}
		}
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("PurgePeriodically did not return when its context ended")
		}
	})
}

// newTestService returns a Service on a fresh, migrated database of uri,
// with clock, for the use cases that need no tokens or hashing, and its
// client.
func newTestService(t *testing.T, uri string, clock func() time.Time) (*Service, *ent.Client) {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return map[string]string{"DATABASE_URI": uri}[k] })
	if err != nil {
		t.Fatal(err)
	}
	db, client, err := database.Open(cfg.Database, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if err := database.Migrate(t.Context(), db, client, cfg.Database, nil); err != nil {
		t.Fatal(err)
	}
	q := newQueries(database.Dialect(cfg.Database.Dialect))
	return &Service{
		db: client, queries: q, clock: clock, logger: slog.New(slog.DiscardHandler),
		throttle: newThrottler(client, Limits{}, nopObserver{}, q),
	}, client
}
