package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// MailToken is a token sent in a mail (verify an address, reset a
// password, confirm an email change), stored only as its SHA-256. It holds
// for one purpose, one user and the address it was sent to; spending it
// spends every token of that purpose of the user. Spent and expired ones
// stay 7 days past expiry, so that answers say expired or used.
type MailToken struct {
	ent.Schema
}

// Fields of the MailToken.
func (MailToken) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New).Immutable(),
		field.Bytes("token_hash").NotEmpty().MaxLen(32).Unique().Immutable(),
		field.String("purpose").NotEmpty().MaxLen(64).Immutable(),
		field.UUID("user_id", uuid.UUID{}).Immutable(),
		// address is the address mailed: the token holds only while it is
		// still the user's (or, for an email change, the pending one).
		field.String("address").MaxLen(254).Immutable(),
		field.Time("created_at").Immutable(),
		field.Time("expires_at").Immutable(),
		field.Time("spent_at").Optional().Nillable(),
	}
}

// Indexes of the MailToken.
func (MailToken) Indexes() []ent.Index {
	return []ent.Index{
		// Spending every token of a purpose of a user.
		index.Fields("user_id", "purpose"),
		// The purge.
		index.Fields("expires_at"),
	}
}
