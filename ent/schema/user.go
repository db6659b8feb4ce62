// Package schema holds the Ent schemas of Latchkey's tables.
package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// User is a person who signs in. Emails are stored trimmed and lowercased, so
// the unique index makes them unique case-insensitively.
type User struct {
	ent.Schema
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New).Immutable(),
		field.String("email").NotEmpty().MaxLen(254).Unique(),
		field.String("password_hash").Sensitive().NotEmpty(),
		field.String("display_name").Optional().Nillable().MaxLen(400),
		field.Strings("roles"),
		field.Bool("email_verified").Default(false),
		// email_verified_at is when the email was first verified.
		field.Time("email_verified_at").Optional().Nillable(),
		// pending_email is the address an email change awaits confirmation of.
		field.String("pending_email").Optional().Nillable().MaxLen(254),
		field.Bool("disabled").Default(false),
		field.Time("created_at").Immutable(),
		field.Time("updated_at"),
		field.Time("last_login_at").Optional().Nillable(),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("sessions", Session.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the User.
func (User) Indexes() []ent.Index {
	return []ent.Index{
		// The users query's keyset pagination, newest first.
		index.Fields("created_at", "id"),
	}
}
