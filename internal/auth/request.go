package auth

import (
	"context"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
)

// Request holds the facts of the HTTP request that the use cases need. The
// HTTP layer puts it in the context with WithRequest.
type Request struct {
	// ID identifies the request in logs and in internal errors.
	ID string
	// Authorization is the Authorization header as sent, "" when absent.
	Authorization string
	// ClientIP is the client address, forwarding headers of trusted proxies
	// taken into account.
	ClientIP string
	// UserAgent is the User-Agent header.
	UserAgent string

	// The principal of the request, authenticated at most once however many
	// fields ask.
	once      sync.Once
	principal *Principal
	err       error
}

// Principal is the authenticated caller: the user of a valid access token
// whose session is live.
type Principal struct {
	User      *ent.User
	SessionID uuid.UUID
}

type requestKey struct{}

type principalKey struct{}

// WithRequest returns ctx carrying r.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request in ctx, or an empty one.
func RequestFrom(ctx context.Context) *Request {
	if r, ok := ctx.Value(requestKey{}).(*Request); ok {
		return r
	}
	return &Request{}
}

// WithPrincipal returns ctx carrying p; the @auth directive calls it for the
// field it guards.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx, if any.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// bearerToken extracts the token of an Authorization header: ok is false for
// a header of another scheme or an empty token.
func bearerToken(header string) (tok string, ok bool) {
	scheme, tok, found := strings.Cut(strings.TrimSpace(header), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
