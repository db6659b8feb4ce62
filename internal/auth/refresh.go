package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
	"github.com/latchkey/latchkey/ent/session"
	"github.com/latchkey/latchkey/internal/token"
)

// Refresh spends a refresh token and returns a new pair for its session.
//
// A spent token that comes back within the reuse interval of its rotation
// gets another pair (tabs refreshing at once); after it, the session is
// revoked and Refresh fails with ErrRefreshTokenReused. The token is spent
// by a conditional update, so of concurrent refreshes of one token exactly
// one finds it unspent, on any number of replicas.
func (s *Service) Refresh(ctx context.Context, refresh string) (*Tokens, error) {
	out, grace, err := s.throttledRefresh(ctx, refresh)
	s.obs.ObserveRefresh(refreshOutcome(err, grace))
	return out, err
}

// throttledRefresh refreshes, and counts an unknown token against the
// caller's address: over the limit, it is refused as RATE_LIMITED. A token
// that is valid is never refused for its address's failures.
func (s *Service) throttledRefresh(ctx context.Context, refresh string) (out *Tokens, grace bool, err error) {
	now := s.now()
	out, grace, err = s.refresh(ctx, refresh, now)
	if errors.Is(err, ErrInvalidRefreshToken) {
		if terr := s.throttle.attempt(ctx, kindRefresh, s.throttle.limits.RefreshAddress, RequestFrom(ctx).ClientIP, now); terr != nil {
			return nil, false, terr
		}
	}
	return out, grace, err
}

// refresh rotates the token; grace reports a spent token's successful
// return within the reuse interval.
func (s *Service) refresh(ctx context.Context, refresh string, now time.Time) (out *Tokens, grace bool, err error) {
	if refresh == "" || len(refresh) > 256 {
		return nil, false, ErrInvalidRefreshToken
	}
	hash := token.HashRefreshToken(refresh)
	var (
		reused bool
		g      grant
	)
	err = s.withTx(ctx, func(tx *ent.Tx) error {
		rt, sess, u, spentNow, err := s.queries.takeRefreshToken(ctx, tx, hash, now)
		if ent.IsNotFound(err) {
			return ErrInvalidRefreshToken
		}
		if err != nil {
			return fmt.Errorf("loading refresh token: %w", err)
		}
		if !now.Before(sess.ExpiresAt) {
			return ErrInvalidRefreshToken
		}
		// The token is spent even when its session is revoked: the session
		// was read after the token, so a revocation seen here may be the
		// consequence of a concurrent reuse of this very token, which this
		// refresh must then report as a reuse too.
		spentAt := rt.SpentAt
		if spentAt == nil && !spentNow {
			n, err := exec(ctx, tx, s.queries.spend, now, rt.ID)
			if err != nil {
				return fmt.Errorf("spending refresh token: %w", err)
			}
			if n == 0 {
				// A concurrent refresh spent it first: this is a reuse.
				again, err := tx.RefreshToken.Get(ctx, rt.ID)
				if err != nil {
					return fmt.Errorf("reloading refresh token: %w", err)
				}
				spentAt = again.SpentAt
			}
		}
		// A reuse is reported as such even when an earlier reuse (a
		// concurrent one, say) has revoked the session already.
		if spentAt != nil && !s.withinReuseInterval(*spentAt, now) {
			reused = true
			if _, err := s.revoke(ctx, tx.Session, session.ID(sess.ID)); err != nil {
				return err
			}
			return s.audit(ctx, tx, auditEntry{Type: auditevent.TypeREFRESH_TOKEN_REUSED, UserID: u.ID, SessionID: sess.ID})
		}
		if sess.RevokedAt != nil || u.Disabled {
			return ErrInvalidRefreshToken
		}
		expires := s.refreshExpiry(sess.CreatedAt, now)
		n, err := exec(ctx, tx, s.queries.extend, now, expires, sess.ID)
		if err != nil {
			return fmt.Errorf("extending session: %w", err)
		}
		if n == 0 {
			// Revoked since it was read.
			return ErrInvalidRefreshToken
		}
		sess.LastUsedAt, sess.ExpiresAt = now, expires
		grace = spentAt != nil
		g, err = s.issue(ctx, tx, u, sess, &rt.ID, now)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if reused {
		s.logger.WarnContext(ctx, "refresh token reused, session revoked")
		return nil, false, ErrRefreshTokenReused
	}
	out, err = s.sign(g)
	return out, grace, err
}

// withinReuseInterval reports whether a token spent at spentAt may still be
// presented at now. A concurrent refresh may have spent it a moment after
// this one read the clock, so spentAt can be later than now.
func (s *Service) withinReuseInterval(spentAt, now time.Time) bool {
	return s.life.RefreshReuseInterval > 0 && now.Sub(spentAt) < s.life.RefreshReuseInterval
}
