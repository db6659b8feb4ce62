//go:build ignore

package main

import (
	"log"

	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
)

func main() {
	err := entc.Generate("./ent/schema", &gen.Config{
		Target:  "./ent",
		Package: "github.com/latchkey/latchkey/ent",
		Features: []gen.Feature{
			gen.FeatureUpsert,
			gen.FeatureExecQuery,
			gen.FeatureModifier,
			gen.FeatureLock, // the mail senders' FOR UPDATE SKIP LOCKED
		},
	})
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}
