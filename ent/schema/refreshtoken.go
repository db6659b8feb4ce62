package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// RefreshToken is one opaque refresh token of a session, stored only as its
// SHA-256 hash. A token is spent when it is rotated; a spent token that comes
// back after the reuse interval reveals a theft and revokes the session.
type RefreshToken struct {
	ent.Schema
}

// Fields of the RefreshToken.
func (RefreshToken) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New).Immutable(),
		field.UUID("session_id", uuid.UUID{}).Immutable(),
		field.Bytes("token_hash").Sensitive().Immutable().NotEmpty().MaxLen(32),
		// parent_id is the token this one was rotated from; none for the
		// first token of a session.
		field.UUID("parent_id", uuid.UUID{}).Optional().Nillable().Immutable(),
		field.Time("created_at").Immutable(),
		field.Time("spent_at").Optional().Nillable(),
	}
}

// Edges of the RefreshToken.
func (RefreshToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("session", Session.Type).Ref("refresh_tokens").Field("session_id").
			Unique().Required().Immutable(),
	}
}

// Indexes of the RefreshToken.
func (RefreshToken) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("token_hash").Unique(),
		index.Fields("session_id"),
	}
}
