package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/internal/token"
)

// Authenticate returns the caller of the request in ctx: the user of a valid
// access token whose session is live. The token is checked, and the user
// loaded with the session's liveness, once per request in one database
// round trip, however many fields ask.
func (s *Service) Authenticate(ctx context.Context) (*Principal, error) {
	r := RequestFrom(ctx)
	r.once.Do(func() { r.principal, r.err = s.authenticate(ctx, r.Authorization) })
	return r.principal, r.err
}

func (s *Service) authenticate(ctx context.Context, header string) (*Principal, error) {
	if header == "" {
		return nil, &UnauthenticatedError{Reason: ReasonMissing}
	}
	tok, ok := bearerToken(header)
	if !ok {
		return nil, &UnauthenticatedError{Reason: ReasonInvalid}
	}
	_, uid, sid, err := s.parse(tok)
	if err != nil {
		if errors.Is(err, token.ErrExpired) {
			return nil, &UnauthenticatedError{Reason: ReasonExpired}
		}
		return nil, &UnauthenticatedError{Reason: ReasonInvalid}
	}
	u, err := s.queries.loadPrincipal(ctx, s.db, sid, uid, s.now())
	if ent.IsNotFound(err) {
		return nil, &UnauthenticatedError{Reason: ReasonRevoked}
	}
	if err != nil {
		return nil, fmt.Errorf("loading principal: %w", err)
	}
	return &Principal{User: u, SessionID: sid}, nil
}

// parse verifies an access token and reads its user and session ids.
func (s *Service) parse(tok string) (*token.Claims, uuid.UUID, uuid.UUID, error) {
	claims, err := s.tokens.Parse(tok)
	if err != nil {
		return nil, uuid.Nil, uuid.Nil, err
	}
	uid, err := uuid.Parse(claims.Subject)
	if err != nil {
		return nil, uuid.Nil, uuid.Nil, token.ErrInvalid
	}
	sid, err := uuid.Parse(claims.SessionID)
	if err != nil {
		return nil, uuid.Nil, uuid.Nil, token.ErrInvalid
	}
	return claims, uid, sid, nil
}

// principal returns the principal that @auth put in ctx, authenticating the
// request when a use case is called without it.
func (s *Service) principal(ctx context.Context) (*Principal, error) {
	if p, ok := PrincipalFrom(ctx); ok {
		return p, nil
	}
	return s.Authenticate(ctx)
}

// Authorize returns the caller when it has role, ErrForbidden when it is
// authenticated without it.
func (s *Service) Authorize(ctx context.Context, role string) (*Principal, error) {
	p, err := s.Authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(p.User.Roles, role) {
		return nil, ErrForbidden
	}
	return p, nil
}

// Validation is the verdict on an access token.
type Validation struct {
	Valid bool
	// Reason says why the token is not valid: ReasonExpired, "malformed",
	// "bad_signature", "invalid_claims", "unknown_key" or ReasonRevoked.
	Reason    string
	UserID    string
	SessionID string
	Roles     []string
	ExpiresAt time.Time
}

// ValidateToken checks an access token as @auth does, for services that
// ask: signature, claims, expiry, and in one database round trip whether
// its session is live and the user's roles now, as @hasRole reads them.
//
// Forged and malformed tokens count against the caller's address, and over
// its limit are refused as RATE_LIMITED; expired and revoked ones, which
// honest services see all day, do not count, and a valid token is never
// refused for its address's failures.
func (s *Service) ValidateToken(ctx context.Context, tok string) (Validation, error) {
	now := s.now()
	claims, uid, sid, err := s.parse(tok)
	if err != nil {
		if !errors.Is(err, token.ErrExpired) {
			if terr := s.throttle.attempt(ctx, kindValidate, s.throttle.limits.ValidateAddress, RequestFrom(ctx).ClientIP, now); terr != nil {
				return Validation{}, terr
			}
		}
		return Validation{Reason: token.Reason(err)}, nil
	}
	u, err := s.queries.loadPrincipal(ctx, s.db, sid, uid, now)
	if ent.IsNotFound(err) {
		return Validation{Reason: ReasonRevoked}, nil
	}
	if err != nil {
		return Validation{}, fmt.Errorf("checking session: %w", err)
	}
	return Validation{
		Valid:     true,
		UserID:    uid.String(),
		SessionID: sid.String(),
		Roles:     u.Roles,
		ExpiresAt: claims.ExpiresAt.Time,
	}, nil
}
