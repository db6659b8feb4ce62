package main

// Ent first: gqlgen's resolvers compile against the Ent client.
//go:generate go run ./ent/entc.go
//go:generate go run github.com/99designs/gqlgen generate
