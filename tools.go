//go:build tools

package main

// Blank imports pin the code generators' versions in go.mod.
import (
	_ "entgo.io/ent/entc"
	_ "entgo.io/ent/entc/gen"
	_ "github.com/99designs/gqlgen"
)
