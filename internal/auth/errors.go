package auth

import (
	"errors"
	"fmt"
	"time"
)

// Domain errors. The GraphQL layer maps each to the contract's extensions.code
// in one place; callers compare with errors.Is and errors.As.
var (
	// ErrInvalidCredentials is a wrong email or password: one error for both.
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrForbidden means the caller is authenticated but lacks a role.
	ErrForbidden = errors.New("forbidden")
	// ErrEmailTaken means another user already has the email.
	ErrEmailTaken = errors.New("email already in use")
	// ErrInvalidRefreshToken is an unknown, expired or revoked refresh token.
	ErrInvalidRefreshToken = errors.New("invalid refresh token")
	// ErrRefreshTokenReused is a spent refresh token presented after the reuse
	// interval; its session has been revoked.
	ErrRefreshTokenReused = errors.New("refresh token reused")
	// ErrAccountDisabled is the right password of a disabled account.
	ErrAccountDisabled = errors.New("account disabled")
	// ErrLastAdmin refuses a change that would leave no enabled
	// administrator.
	ErrLastAdmin = errors.New("the last enabled administrator")
)

// Reasons an access token is refused, as the contract names them in
// extensions.reason.
const (
	ReasonMissing = "missing"
	ReasonExpired = "expired"
	ReasonInvalid = "invalid"
	ReasonRevoked = "revoked"
)

// UnauthenticatedError refuses a request for want of a valid, unrevoked access
// token. Reason is one of the Reason constants.
type UnauthenticatedError struct {
	Reason string
}

func (e *UnauthenticatedError) Error() string {
	return "unauthenticated: " + e.Reason
}

// ErrUnauthenticated matches every *UnauthenticatedError under errors.Is.
var ErrUnauthenticated = errors.New("unauthenticated")

// Is reports whether target is ErrUnauthenticated.
func (e *UnauthenticatedError) Is(target error) bool { return target == ErrUnauthenticated }

// ValidationError is invalid input; Field names the input field as the client
// sent it (email, password, newPassword, ...).
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("%s: %s", e.Field, e.Message)
}

// RateLimitedError refuses a call that came too often; RetryAfter says how
// long to wait.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited: retry after %s", e.RetryAfter)
}

var (
	// ErrEmailNotVerified refuses login and register of an unverified
	// account while email verification is required.
	ErrEmailNotVerified = errors.New("email not verified")
	// ErrMailNotConfigured refuses a mutation that must mail while the
	// service sends none.
	ErrMailNotConfigured = errors.New("mail is not configured")
)

// Reasons a mail token is refused, as the contract names them in
// extensions.reason.
const (
	TokenInvalid = "invalid" // unknown, of another purpose, or for an address no longer the user's
	TokenExpired = "expired"
	TokenUsed    = "used"
)

// InvalidTokenError refuses a mail token; Reason is TokenInvalid,
// TokenExpired or TokenUsed.
type InvalidTokenError struct {
	Reason string
}

func (e *InvalidTokenError) Error() string {
	return "invalid token: " + e.Reason
}
