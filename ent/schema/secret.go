package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// Secret is a random key the service generates once per database, so that
// every replica uses the same: the key that signs pagination cursors.
type Secret struct {
	ent.Schema
}

// Fields of the Secret.
func (Secret) Fields() []ent.Field {
	return []ent.Field{
		// id names the secret's use, such as "cursor".
		field.String("id").NotEmpty().MaxLen(64).Immutable(),
		field.Bytes("value").Sensitive().NotEmpty().Immutable(),
		field.Time("created_at").Immutable(),
	}
}
