package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/predicate"
	"github.com/latchkey/latchkey/ent/refreshtoken"
	"github.com/latchkey/latchkey/ent/session"
	"github.com/latchkey/latchkey/internal/token"
)

// startSession creates a session of u with its first refresh token.
func (s *Service) startSession(ctx context.Context, tx *ent.Tx, u *ent.User, now time.Time) (grant, error) {
	req := RequestFrom(ctx)
	sess, err := tx.Session.Create().
		SetUserID(u.ID).
		SetCreatedAt(now).
		SetLastUsedAt(now).
		SetExpiresAt(s.refreshExpiry(now, now)).
		SetNillableUserAgent(truncated(req.UserAgent, 512)).
		SetNillableIPAddress(truncated(req.ClientIP, 64)).
		Save(ctx)
	if err != nil {
		return grant{}, fmt.Errorf("creating session: %w", err)
	}
	return s.issue(ctx, tx, u, sess, nil, now)
}

// Logout ends the caller's session: the one of the request's access token
// when it is valid, or else the one of refresh. It reports whether a live
// session ended.
func (s *Service) Logout(ctx context.Context, refresh *string) (bool, error) {
	if tok, ok := bearerToken(RequestFrom(ctx).Authorization); ok {
		if _, uid, sid, err := s.parse(tok); err == nil {
			return s.revoke(ctx, s.db.Session, session.ID(sid), session.UserID(uid))
		}
	}
	if refresh == nil || *refresh == "" || len(*refresh) > 256 {
		return false, nil
	}
	return s.revoke(ctx, s.db.Session, session.HasRefreshTokensWith(refreshtoken.TokenHash(token.HashRefreshToken(*refresh))))
}

// LogoutAll ends every session of the caller.
func (s *Service) LogoutAll(ctx context.Context) (bool, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return false, err
	}
	if _, err := s.revoke(ctx, s.db.Session, session.UserID(p.User.ID)); err != nil {
		return false, err
	}
	return true, nil
}

// RevokeSession ends one session of the caller. It reports false, changing
// nothing, for an unknown id or a session of another user.
func (s *Service) RevokeSession(ctx context.Context, id string) (bool, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return false, err
	}
	sid, err := uuid.Parse(id)
	if err != nil {
		return false, nil
	}
	return s.revoke(ctx, s.db.Session, session.ID(sid), session.UserID(p.User.ID))
}

// revoke revokes the live sessions that match where and reports whether
// there were any. sessions is the client of a transaction or of the database.
func (s *Service) revoke(ctx context.Context, sessions *ent.SessionClient, where ...predicate.Session) (bool, error) {
	now := s.now()
	n, err := sessions.Update().
		Where(append(where, session.RevokedAtIsNil(), session.ExpiresAtGT(now))...).
		SetRevokedAt(now).
		Save(ctx)
	if err != nil {
		return false, fmt.Errorf("revoking sessions: %w", err)
	}
	return n > 0, nil
}

// Me returns the caller.
func (s *Service) Me(ctx context.Context) (*ent.User, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	return p.User, nil
}

// Sessions lists the caller's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context) ([]*ent.Session, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	return s.liveSessions(ctx, p.User.ID)
}

// PurgePeriodically runs PurgeEnded, keeping ended sessions a day for the
// users' and operators' eyes, and PurgeMail every interval until ctx ends.
// Replicas may purge at once: the deletes are idempotent.
func (s *Service) PurgePeriodically(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := s.PurgeEnded(ctx, 24*time.Hour); err != nil {
			s.logger.Warn("purging ended sessions", "error", err)
		} else if n > 0 {
			s.logger.Info("purged ended sessions", "sessions", n)
		}
		if n, err := s.PurgeMail(ctx); err != nil {
			s.logger.Warn("purging mail", "error", err)
		} else if n > 0 {
			s.logger.Info("purged mail", "rows", n)
		}
	}
}

// PurgeEnded deletes sessions, with their refresh tokens, that ended more
// than retain ago, throttle counts no limit looks at any more, and audit
// events older than AuditLogRetention. It reports how many sessions went.
func (s *Service) PurgeEnded(ctx context.Context, retain time.Duration) (int, error) {
	now := s.now()
	cutoff := now.Add(-retain)
	n, err := s.db.Session.Delete().
		Where(session.Or(session.ExpiresAtLT(cutoff), session.RevokedAtLT(cutoff))).
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("purging sessions: %w", err)
	}
	if _, err := s.throttle.purge(ctx, now); err != nil {
		return n, err
	}
	if _, err := s.purgeAudit(ctx, now, s.life.AuditLogRetention); err != nil {
		return n, err
	}
	return n, nil
}
