package graph

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/plugin/federation/fedruntime"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/parser"
)

// routerAuthDirectives are the federation directives through which Apollo
// Router enforces authentication itself. Apollo Gateway refuses a subgraph
// that links them (they are for SECURITY), so the SDL leaves them out
// unless the operator asks for them.
var routerAuthDirectives = []string{"authenticated", "requiresScopes"}

// serviceSDL serves federation's _service { sdl }: the schema as written,
// or, without routerAuth, the schema without the router's auth
// directives, which compose in Apollo Gateway and Apollo Router alike.
// @auth and @hasRole enforce the same rules here in either case.
func serviceSDL(routerAuth bool) graphql.FieldMiddleware {
	var (
		once     sync.Once
		stripped string
		err      error
	)
	return func(ctx context.Context, next graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		if routerAuth || fc == nil || fc.Object != "Query" || fc.Field.Name != "_service" {
			return next(ctx)
		}
		res, rerr := next(ctx)
		svc, ok := res.(fedruntime.Service)
		if rerr != nil || !ok {
			return res, rerr
		}
		once.Do(func() { stripped, err = withoutDirectives(svc.SDL, routerAuthDirectives) })
		if err != nil {
			return nil, err
		}
		svc.SDL = stripped
		return svc, nil
	}
}

// withoutDirectives returns sdl without the uses of the directives names,
// nor their @link imports.
func withoutDirectives(sdl string, names []string) (string, error) {
	doc, err := parser.ParseSchema(&ast.Source{Name: "sdl", Input: sdl})
	if err != nil {
		return "", fmt.Errorf("parsing the subgraph schema: %w", err)
	}
	drop := func(list ast.DirectiveList) ast.DirectiveList {
		return slices.DeleteFunc(list, func(d *ast.Directive) bool { return slices.Contains(names, d.Name) })
	}
	defs := func(list ast.DefinitionList) {
		for _, d := range list {
			d.Directives = drop(d.Directives)
			for _, f := range d.Fields {
				f.Directives = drop(f.Directives)
				for _, a := range f.Arguments {
					a.Directives = drop(a.Directives)
				}
			}
			for _, v := range d.EnumValues {
				v.Directives = drop(v.Directives)
			}
		}
	}
	defs(doc.Definitions)
	defs(doc.Extensions)
	for _, s := range append(doc.Schema, doc.SchemaExtension...) {
		for _, d := range s.Directives {
			if d.Name != "link" {
				continue
			}
			for _, a := range d.Arguments {
				if a.Name == "import" && a.Value != nil {
					a.Value.Children = slices.DeleteFunc(a.Value.Children, func(c *ast.ChildValue) bool {
						return c.Value != nil && slices.Contains(names, strings.TrimPrefix(c.Value.Raw, "@"))
					})
				}
			}
		}
	}
	var b strings.Builder
	formatter.NewFormatter(&b).FormatSchemaDocument(doc)
	return b.String(), nil
}
