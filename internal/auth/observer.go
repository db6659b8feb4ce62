package auth

import (
	"context"
	"errors"
	"time"
)

// Observer learns what operators watch: how logins and refreshes end, which
// throttle refused a call, and how long password hashes take. The use cases
// call it on their hot paths, so it must be quick and never block; the
// metrics implement it.
type Observer interface {
	ObserveLogin(LoginOutcome)
	ObserveRefresh(RefreshOutcome)
	ObserveThrottled(Throttle)
	ObservePasswordHash(time.Duration)
}

// LoginOutcome is how a login ended.
type LoginOutcome string

// The outcomes of a login.
//
//nolint:gosec // outcome labels, not credentials
const (
	LoginSucceeded          LoginOutcome = "success"
	LoginInvalidCredentials LoginOutcome = "invalid_credentials"
	LoginAccountDisabled    LoginOutcome = "account_disabled"
	LoginRateLimited        LoginOutcome = "rate_limited"
	LoginBadInput           LoginOutcome = "bad_input"
	// LoginCanceled is a login whose client went away before it ended:
	// no fault of the service.
	LoginCanceled LoginOutcome = "canceled"
	LoginError    LoginOutcome = "error"
)

// LoginOutcomes lists every LoginOutcome.
func LoginOutcomes() []LoginOutcome {
	return []LoginOutcome{LoginSucceeded, LoginInvalidCredentials, LoginAccountDisabled, LoginRateLimited, LoginBadInput, LoginCanceled, LoginError}
}

// RefreshOutcome is how a refresh ended.
type RefreshOutcome string

// The outcomes of a refresh.
const (
	// RefreshRotated spent an unspent token for a new pair.
	RefreshRotated RefreshOutcome = "rotated"
	// RefreshGraceReuse is a spent token back within the reuse interval:
	// it got a pair of its own.
	RefreshGraceReuse RefreshOutcome = "grace_reuse"
	// RefreshReuseDetected is a spent token back after the reuse interval:
	// its session was revoked.
	RefreshReuseDetected RefreshOutcome = "reuse_detected"
	// RefreshInvalid is an unknown, expired or revoked token.
	RefreshInvalid     RefreshOutcome = "invalid"
	RefreshRateLimited RefreshOutcome = "rate_limited"
	// RefreshCanceled is a refresh whose client went away before it ended.
	RefreshCanceled RefreshOutcome = "canceled"
	RefreshError    RefreshOutcome = "error"
)

// RefreshOutcomes lists every RefreshOutcome.
func RefreshOutcomes() []RefreshOutcome {
	return []RefreshOutcome{RefreshRotated, RefreshGraceReuse, RefreshReuseDetected, RefreshInvalid, RefreshRateLimited, RefreshCanceled, RefreshError}
}

// Throttle names what refused a call as too frequent.
type Throttle string

// The throttles.
const (
	ThrottleLoginAccount Throttle = kindLoginAccount
	ThrottleLoginAddress Throttle = kindLoginAddress
	ThrottleRegister     Throttle = kindRegister
	ThrottleRefresh      Throttle = kindRefresh
	ThrottleValidate     Throttle = kindValidate
	ThrottleMailAddress  Throttle = kindMailAddress
	ThrottleRecipient    Throttle = kindMailRecipient
	ThrottleToken        Throttle = kindToken
	// ThrottlePasswordHash is a hash shed after waiting too long for a slot.
	ThrottlePasswordHash Throttle = "password-hash"
)

// Throttles lists every Throttle.
func Throttles() []Throttle {
	return []Throttle{ThrottleLoginAccount, ThrottleLoginAddress, ThrottleRegister, ThrottleRefresh, ThrottleValidate, ThrottleMailAddress, ThrottleRecipient, ThrottleToken, ThrottlePasswordHash}
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) ObserveLogin(LoginOutcome)         {}
func (nopObserver) ObserveRefresh(RefreshOutcome)     {}
func (nopObserver) ObserveThrottled(Throttle)         {}
func (nopObserver) ObservePasswordHash(time.Duration) {}

// loginOutcome classifies the error a login returned.
func loginOutcome(err error) LoginOutcome {
	var (
		limited *RateLimitedError
		invalid *ValidationError
	)
	switch {
	case err == nil:
		return LoginSucceeded
	case errors.Is(err, ErrInvalidCredentials):
		return LoginInvalidCredentials
	case errors.Is(err, ErrAccountDisabled):
		return LoginAccountDisabled
	case errors.As(err, &limited):
		return LoginRateLimited
	case errors.As(err, &invalid):
		return LoginBadInput
	case errors.Is(err, context.Canceled):
		return LoginCanceled
	}
	return LoginError
}

// refreshOutcome classifies the error a refresh returned; grace tells a
// successful reuse within the interval from a rotation.
func refreshOutcome(err error, grace bool) RefreshOutcome {
	var limited *RateLimitedError
	switch {
	case err == nil && grace:
		return RefreshGraceReuse
	case err == nil:
		return RefreshRotated
	case errors.Is(err, ErrInvalidRefreshToken):
		return RefreshInvalid
	case errors.Is(err, ErrRefreshTokenReused):
		return RefreshReuseDetected
	case errors.As(err, &limited):
		return RefreshRateLimited
	case errors.Is(err, context.Canceled):
		return RefreshCanceled
	}
	return RefreshError
}
