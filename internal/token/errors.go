package token

import "errors"

// Reasons a token is refused, as Reason returns them.
const (
	reasonExpired       = "expired"
	reasonMalformed     = "malformed"
	reasonBadSignature  = "bad_signature"
	reasonUnknownKey    = "unknown_key"
	reasonInvalidClaims = "invalid_claims"
)

// parseError is a refusal by Parse: kind (ErrExpired or ErrInvalid) for
// errors.Is, reason for Reason, and the cause for logs.
type parseError struct {
	reason string
	kind   error
	cause  error
}

func (e *parseError) Error() string { return e.kind.Error() + ": " + e.cause.Error() }

// Unwrap returns only the kind, so that errors.Is matches exactly one of
// ErrExpired and ErrInvalid, and no golang-jwt error leaks to callers.
func (e *parseError) Unwrap() error { return e.kind }

// refuse returns an ErrInvalid for reason.
func refuse(reason string, cause error) error {
	return &parseError{reason: reason, kind: ErrInvalid, cause: cause}
}

// Reason says in one word why Parse refused a token, for clients that ask:
// "expired", "malformed" (not a JWT, or too long), "bad_signature" (the
// signature or its algorithm is wrong), "unknown_key" (no kid, or not one
// of ours) or "invalid_claims" (iss, aud, nbf, or a missing exp, sub or
// sid). Any other error, such as ErrInvalid returned by a caller that
// checks more claims, is "invalid_claims". Reason(nil) is "".
func Reason(err error) string {
	if err == nil {
		return ""
	}
	if pe, ok := errors.AsType[*parseError](err); ok {
		return pe.reason
	}
	if errors.Is(err, ErrExpired) {
		return reasonExpired
	}
	return reasonInvalidClaims
}
