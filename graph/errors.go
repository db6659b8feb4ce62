package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/latchkey/latchkey/internal/auth"
)

// The contract's extensions.code values that this layer sets.
//
//nolint:gosec // error codes, not credentials
const (
	codeUnauthenticated     = "UNAUTHENTICATED"
	codeForbidden           = "FORBIDDEN"
	codeBadUserInput        = "BAD_USER_INPUT"
	codeInvalidCredentials  = "INVALID_CREDENTIALS"
	codeEmailTaken          = "EMAIL_TAKEN"
	codeInvalidRefreshToken = "INVALID_REFRESH_TOKEN"
	codeRefreshTokenReused  = "REFRESH_TOKEN_REUSED"
	codeRateLimited         = "RATE_LIMITED"
	codeAccountDisabled     = "ACCOUNT_DISABLED"
	codeLastAdmin           = "LAST_ADMIN"
	codeInternal            = "INTERNAL_SERVER_ERROR"
	codeBadRequest          = "BAD_REQUEST"
	codeComplexityLimit     = "COMPLEXITY_LIMIT_EXCEEDED"
	codeQueryTooLarge       = "QUERY_TOO_LARGE"
	codeEmailNotVerified    = "EMAIL_NOT_VERIFIED"
	codeInvalidToken        = "INVALID_TOKEN"
	codeMailNotConfigured   = "MAIL_NOT_CONFIGURED"
)

// ErrorCodes returns every extensions.code a client can get from the
// GraphQL endpoint: the codes this package sets and the ones of gqlgen's
// parse and validation errors, which pass through unchanged. It is the
// table docs/contract.md must document.
func ErrorCodes() []string {
	return []string{
		codeUnauthenticated,
		codeForbidden,
		codeBadUserInput,
		codeInvalidCredentials,
		codeEmailTaken,
		codeInvalidRefreshToken,
		codeRefreshTokenReused,
		codeRateLimited,
		codeAccountDisabled,
		codeLastAdmin,
		codeInternal,
		codeBadRequest,
		codeComplexityLimit,
		codeQueryTooLarge,
		codeEmailNotVerified,
		codeInvalidToken,
		codeMailNotConfigured,
		errcode.ParseFailed,
		errcode.ValidationFailed,
	}
}

// errPanicked stands for a resolver panic, already logged with its stack.
var errPanicked = errors.New("panic in resolver")

// presentError maps domain errors to the contract's extensions.code, in
// this one place. Errors gqlgen made (parse, validation, complexity) keep
// their code; anything unknown is logged once and reaches the client as
// INTERNAL_SERVER_ERROR with the request id only.
func presentError(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var (
			unauth  *auth.UnauthenticatedError
			invalid *auth.ValidationError
			limited *auth.RateLimitedError
			badTok  *auth.InvalidTokenError
		)
		switch {
		case errors.As(err, &unauth):
			return public(gqlErr, codeUnauthenticated, "authentication required: access token "+unauth.Reason, "reason", unauth.Reason)
		case errors.As(err, &invalid):
			return public(gqlErr, codeBadUserInput, invalid.Error(), "field", invalid.Field)
		case errors.As(err, &limited):
			retry := int(math.Ceil(limited.RetryAfter.Seconds()))
			return public(gqlErr, codeRateLimited, fmt.Sprintf("too many attempts, retry in %d seconds", retry), "retryAfter", retry)
		case errors.As(err, &badTok):
			return public(gqlErr, codeInvalidToken, "invalid token: "+badTok.Reason, "reason", badTok.Reason)
		case errors.Is(err, auth.ErrEmailNotVerified):
			return public(gqlErr, codeEmailNotVerified, "email not verified: follow the link mailed to it")
		case errors.Is(err, auth.ErrMailNotConfigured):
			return public(gqlErr, codeMailNotConfigured, "this service sends no mail")
		case errors.Is(err, auth.ErrInvalidCredentials):
			return public(gqlErr, codeInvalidCredentials, "invalid email or password")
		case errors.Is(err, auth.ErrForbidden):
			return public(gqlErr, codeForbidden, "forbidden")
		case errors.Is(err, auth.ErrEmailTaken):
			return public(gqlErr, codeEmailTaken, "email already in use")
		case errors.Is(err, auth.ErrInvalidRefreshToken):
			return public(gqlErr, codeInvalidRefreshToken, "invalid refresh token")
		case errors.Is(err, auth.ErrAccountDisabled):
			return public(gqlErr, codeAccountDisabled, "this account is disabled")
		case errors.Is(err, auth.ErrLastAdmin):
			return public(gqlErr, codeLastAdmin, "the change would leave no enabled administrator")
		case errors.Is(err, auth.ErrRefreshTokenReused):
			return public(gqlErr, codeRefreshTokenReused, "refresh token reused; the session has been ended")
		}
		if _, ok := gqlErr.Extensions["code"]; ok && gqlErr.Err == nil {
			return gqlErr
		}
		if gqlErr.Err == nil && strings.HasPrefix(gqlErr.Message, "json request body could not be decoded") {
			// gqlgen's refusal of a body it could not decode (variables not
			// an object, query not a string): the client's mistake, and its
			// message would echo the body, password included, and Go types.
			return public(gqlErr, codeBadRequest, "malformed request: send a JSON object with the query as a string and the variables as an object")
		}
		if isRepresentationsArgument(gqlErr.Path) {
			// _entities' representations are _Any, which validation lets
			// through and execution then fails to read as objects.
			return public(gqlErr, codeBadUserInput, errRepresentations.Error(), "field", errRepresentations.Field)
		}
		switch {
		case errors.Is(err, errPanicked):
		case errors.Is(err, context.Canceled):
			// The client went away: nothing to page anyone for.
			logger.InfoContext(ctx, "request canceled by the client", "path", gqlErr.Path.String())
		case errors.Is(err, context.DeadlineExceeded):
			// REQUEST_TIMEOUT ran out, most often waiting for the database:
			// for a connection of a pool whose DATABASE_MAX_CONNS are all
			// busy, or for a statement PostgreSQL is slow to answer.
			logger.ErrorContext(ctx, "request timed out", "path", gqlErr.Path.String(), "error", err)
		default:
			logger.ErrorContext(ctx, "internal error", "path", gqlErr.Path.String(), "error", err)
		}
		return public(gqlErr, codeInternal, "internal server error", "requestId", auth.RequestFrom(ctx).ID)
	}
}

// errRepresentations says what _entities takes.
var errRepresentations = &auth.ValidationError{Field: "representations", Message: `each must be a User's: {"__typename": "User", "id": "..."}`}

// isRepresentationsArgument reports whether path points into the
// representations argument of the root field _entities (under any alias):
// where gqlgen reports an argument it could not read. No field of ours is
// named representations.
func isRepresentationsArgument(path ast.Path) bool {
	return len(path) >= 2 && path[1] == ast.PathName("representations")
}

// public replaces err's message and extensions with what a client may see.
func public(err *gqlerror.Error, code, message string, kv ...any) *gqlerror.Error {
	ext := map[string]any{"code": code}
	for i := 0; i+1 < len(kv); i += 2 {
		ext[kv[i].(string)] = kv[i+1]
	}
	return &gqlerror.Error{Message: message, Path: err.Path, Locations: err.Locations, Extensions: ext}
}

// recoverPanic logs a resolver panic with its stack and turns it into an
// internal error.
func recoverPanic(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		logger.ErrorContext(ctx, "panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		return errPanicked
	}
}
