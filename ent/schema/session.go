package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Session is one login: the family of refresh tokens rotated from it. Its
// id is the access tokens' sid claim.
type Session struct {
	ent.Schema
}

// Fields of the Session.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New).Immutable(),
		field.UUID("user_id", uuid.UUID{}).Immutable(),
		field.Time("created_at").Immutable(),
		field.Time("last_used_at"),
		// expires_at is the refresh expiry: the earlier of the last rotation
		// plus REFRESH_TOKEN_TTL and created_at plus SESSION_MAX_AGE.
		field.Time("expires_at"),
		field.Time("revoked_at").Optional().Nillable(),
		field.String("user_agent").Optional().Nillable().MaxLen(512),
		field.String("ip_address").Optional().Nillable().MaxLen(64),
	}
}

// Edges of the Session.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("sessions").Field("user_id").
			Unique().Required().Immutable(),
		edge.To("refresh_tokens", RefreshToken.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the Session.
func (Session) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "expires_at"),
		// The purge of ended sessions.
		index.Fields("expires_at"),
	}
}
