package graph

import (
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/latchkey/latchkey/internal/auth"
)

// Options configures the GraphQL handler.
type Options struct {
	// Introspection turns schema introspection on.
	Introspection bool
	// MaxComplexity, MaxDepth, MaxRootFields and MaxQueryBytes refuse
	// operations before any resolver runs.
	MaxComplexity int
	MaxDepth      int
	MaxRootFields int
	MaxQueryBytes int
	// MaxQueryTokens refuses documents of more tokens, before parsing.
	MaxQueryTokens int
	// RouterAuthDirectives keeps @authenticated and @requiresScopes in the
	// subgraph SDL, for Apollo Router to enforce.
	RouterAuthDirectives bool
	// MaxEntities bounds the representations of one _entities call.
	MaxEntities int
	// Logger receives internal errors and panics.
	Logger *slog.Logger
	// Extensions are used before any other, so that they see every
	// request, those the limits refuse included.
	Extensions []graphql.HandlerExtension
}

// NewHandler returns the GraphQL endpoint: POST, and GET for queries only.
func NewHandler(svc *auth.Service, opts Options) http.Handler {
	srv := handler.New(NewExecutableSchema(Config{
		Resolvers:  &Resolver{auth: svc},
		Directives: directives(svc),
		Complexity: complexityRoot(),
	}))
	// GET refuses mutations; POST takes one operation per request.
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	for _, ext := range opts.Extensions {
		srv.Use(ext)
	}
	srv.Use(&introspectionGate{enabled: opts.Introspection})
	srv.Use(&shapeLimits{
		maxBytes:      opts.MaxQueryBytes,
		maxTokens:     opts.MaxQueryTokens,
		maxDepth:      opts.MaxDepth,
		maxRootFields: opts.MaxRootFields,
		maxComplexity: opts.MaxComplexity,
	})
	srv.AroundFields(entitiesGuard(svc, opts.MaxEntities))
	srv.AroundFields(serviceSDL(opts.RouterAuthDirectives))
	srv.SetErrorPresenter(presentError(opts.Logger))
	srv.SetRecoverFunc(recoverPanic(opts.Logger))
	return srv
}
