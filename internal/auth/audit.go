package auth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
)

// Reasons of a LOGIN_FAILED event.
//
//nolint:gosec // reasons, not credentials
const (
	auditReasonInvalidCredentials = "invalid_credentials"
	auditReasonRateLimited        = "rate_limited"
	auditReasonDisabled           = "disabled"
	auditReasonEmailNotVerified   = "email_not_verified"
)

// auditEntry is one security event to record. The request's client
// address and user agent are added from the context.
type auditEntry struct {
	Type auditevent.Type
	// UserID is the account the event is about; ActorID who did it (the
	// user, an administrator); SessionID the session concerned. uuid.Nil
	// for none.
	UserID, ActorID, SessionID uuid.UUID
	// Reason says why, for a failure.
	Reason string
	// Roles are the roles an event set.
	Roles []string
	// Email is the address an event concerns, if any; it is cleared when
	// the user is deleted.
	Email string
}

// audit records e in tx, the transaction of the change it is about, so
// that the change and its record commit or fail together. With tx nil it
// is one insert of its own: for an event that changes nothing, such as a
// failed login.
func (s *Service) audit(ctx context.Context, tx *ent.Tx, e auditEntry) error {
	events := s.db.AuditEvent
	if tx != nil {
		events = tx.AuditEvent
	}
	req := RequestFrom(ctx)
	c := events.Create().
		SetID(newEventID()).
		SetType(e.Type).
		SetOccurredAt(s.now()).
		SetNillableUserID(nonNil(e.UserID)).
		SetNillableActorID(nonNil(e.ActorID)).
		SetNillableSessionID(nonNil(e.SessionID)).
		SetNillableIPAddress(truncated(req.ClientIP, 64)).
		SetNillableUserAgent(truncated(req.UserAgent, 512)).
		SetNillableReason(truncated(e.Reason, 64)).
		SetNillableEmail(truncated(e.Email, 254))
	if e.Roles != nil {
		c.SetRoles(e.Roles)
	}
	if err := c.Exec(ctx); err != nil {
		return fmt.Errorf("recording %s event: %w", e.Type, err)
	}
	return nil
}

// auditLoginFailed records a failed login of an existing account, in one
// insert of its own. A failure to record it is logged, not returned: the
// login has failed either way, and its answer must not change.
func (s *Service) auditLoginFailed(ctx context.Context, uid uuid.UUID, reason string) {
	if err := s.audit(ctx, nil, auditEntry{Type: auditevent.TypeLOGIN_FAILED, UserID: uid, Reason: reason}); err != nil {
		s.logger.WarnContext(ctx, "recording failed login", "error", err)
	}
}

// auditLoginRefused records a throttled login of the account email, if
// there is one, in one statement that looks the account up and inserts
// the event: no row for an unknown email. A flood of refused logins costs
// no hashing, so that a row each would make the audit table its
// bottleneck: each replica records at most one refusal per account per
// refusalInterval.
func (s *Service) auditLoginRefused(ctx context.Context, email string) {
	if !s.refusals.first(email, s.clock()) {
		return
	}
	req := RequestFrom(ctx)
	_, err := s.db.ExecContext(ctx, s.queries.auditLoginRefused,
		newEventID(), string(auditevent.TypeLOGIN_FAILED), s.now(),
		truncated(req.ClientIP, 64), truncated(req.UserAgent, 512), auditReasonRateLimited, email)
	if err != nil {
		s.logger.WarnContext(ctx, "recording refused login", "error", err)
	}
}

// refusalInterval is the least time between two recorded refusals of one
// account's logins on one replica.
const refusalInterval = time.Minute

// maxRefusalAccounts bounds the accounts refusalLog remembers: past it, it
// forgets them all, and at worst records a refusal early.
const maxRefusalAccounts = 10_000

// refusalLog remembers when a refused login of each account was last
// recorded.
type refusalLog struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// first reports whether a refusal of email at now is the first of its
// interval, and remembers it if so.
func (l *refusalLog) first(email string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[email]; ok && now.Sub(t) < refusalInterval && !now.Before(t) {
		return false
	}
	if l.last == nil || len(l.last) >= maxRefusalAccounts {
		l.last = make(map[string]time.Time)
	}
	l.last[email] = now
	return true
}

// purgeAudit deletes the events older than retain; zero keeps them all.
func (s *Service) purgeAudit(ctx context.Context, now time.Time, retain time.Duration) (int, error) {
	if retain <= 0 {
		return 0, nil
	}
	n, err := s.db.AuditEvent.Delete().Where(auditevent.OccurredAtLT(now.Add(-retain))).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("purging audit events: %w", err)
	}
	return n, nil
}

// newEventID returns a UUIDv7: time-ordered, so that inserts append to
// the primary key's index, and random enough to be unique.
func newEventID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return id
}

// nonNil returns a pointer to id, or nil for uuid.Nil.
func nonNil(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}
