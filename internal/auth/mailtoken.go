package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/mailtoken"
)

// mailTokenLen is the length of every token the sender mints: 32 bytes in
// unpadded base64url.
const mailTokenLen = 43

// lookupToken reads the mail token tok of purpose, spent or not. An
// unknown token, or one of another purpose, is refused as invalid, an
// expired one as expired; the caller decides about a spent one.
func (s *Service) lookupToken(ctx context.Context, tok, purpose string, now time.Time) (*ent.MailToken, error) {
	if len(tok) != mailTokenLen {
		return nil, &InvalidTokenError{Reason: TokenInvalid}
	}
	mt, err := s.db.MailToken.Query().Where(mailtoken.TokenHash(hashMailToken(tok))).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &InvalidTokenError{Reason: TokenInvalid}
	}
	if err != nil {
		return nil, fmt.Errorf("loading mail token: %w", err)
	}
	switch {
	case mt.Purpose != purpose:
		return nil, &InvalidTokenError{Reason: TokenInvalid}
	case !now.Before(mt.ExpiresAt):
		return nil, &InvalidTokenError{Reason: TokenExpired}
	}
	return mt, nil
}

// spendToken spends mt in tx, and with it every other token of its
// purpose of its user. Of concurrent spends of one token, on any number of
// replicas, one succeeds; the others find it spent (the conditional update
// waits for the first to commit) and fail as used.
func spendToken(ctx context.Context, tx *ent.Tx, mt *ent.MailToken, now time.Time) error {
	n, err := tx.MailToken.Update().Where(mailtoken.ID(mt.ID), mailtoken.SpentAtIsNil()).SetSpentAt(now).Save(ctx)
	if err != nil {
		return fmt.Errorf("spending mail token: %w", err)
	}
	if n == 0 {
		return &InvalidTokenError{Reason: TokenUsed}
	}
	return spendTokens(ctx, tx, mt.UserID, mt.Purpose, now)
}

// spendTokens spends, in tx, every unspent token of purpose of the user
// uid.
func spendTokens(ctx context.Context, tx *ent.Tx, uid uuid.UUID, purpose string, now time.Time) error {
	err := tx.MailToken.Update().
		Where(mailtoken.UserID(uid), mailtoken.Purpose(purpose), mailtoken.SpentAtIsNil()).
		SetSpentAt(now).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("spending %s tokens: %w", purpose, err)
	}
	return nil
}

// tokenThrottled runs fn, a mutation that spends a mail token, counted
// against the client address's budget of failed token mutations: refused
// with a *RateLimitedError when it is spent, and given back when fn does
// not fail with an *InvalidTokenError.
func (s *Service) tokenThrottled(ctx context.Context, now time.Time, fn func() error) error {
	l, ip := s.throttle.limits.TokenAddress, RequestFrom(ctx).ClientIP
	if l.Max <= 0 || ip == "" {
		return fn()
	}
	k := key(kindToken, addressSubject(ip))
	if err := s.throttle.reserve(ctx, kindToken, l, k, now); err != nil {
		return err
	}
	err := fn()
	var bad *InvalidTokenError
	if !errors.As(err, &bad) {
		_ = s.throttle.release(context.WithoutCancel(ctx), s.db, k)
	}
	return err
}
