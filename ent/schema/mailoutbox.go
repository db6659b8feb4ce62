package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// MailOutbox is one mail to send, written in the transaction that causes
// it; each replica's sender claims due rows, sends them and records the
// outcome. A row holds the template data, never a token or a body: the
// sender renders the mail and mints its token as it sends.
type MailOutbox struct {
	ent.Schema
}

// Annotations of the MailOutbox.
func (MailOutbox) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Annotation{Table: "mail_outbox"}}
}

// Fields of the MailOutbox.
func (MailOutbox) Fields() []ent.Field {
	return []ent.Field{
		// id is also the mail's Message-ID, stable across attempts.
		field.UUID("id", uuid.UUID{}).Default(uuid.New).Immutable(),
		// kind names the templates: verify_email, reset_password, ...
		field.String("kind").NotEmpty().MaxLen(64).Immutable(),
		// recipient is the address the mail goes to; emptied when the mail
		// is dropped, so that no copy of an address without an account stays.
		field.String("recipient").MaxLen(254),
		// user_id is the account the mail concerns, when the request knew it.
		field.UUID("user_id", uuid.UUID{}).Optional().Nillable().Immutable(),
		// data is what the templates show besides what the sender looks up.
		field.JSON("data", map[string]string{}).Optional(),
		field.Enum("status").Values("pending", "sent", "failed", "dropped").Default("pending"),
		field.Int("attempts").Default(0),
		field.Time("created_at").Immutable(),
		// next_attempt_at is when the row is due; locked_until, when a
		// sender's claim on it lapses.
		field.Time("next_attempt_at"),
		field.Time("locked_until").Optional().Nillable(),
		// done_at is when it was sent, failed or dropped.
		field.Time("done_at").Optional().Nillable(),
		field.String("last_error").Optional().Nillable().MaxLen(1000),
	}
}

// Indexes of the MailOutbox.
func (MailOutbox) Indexes() []ent.Index {
	return []ent.Index{
		// The senders' claims of due rows, and the oldest pending one.
		index.Fields("status", "next_attempt_at"),
		// The resend interval: the last mail of a kind to a recipient.
		index.Fields("recipient", "kind", "created_at"),
		// The purge of finished rows.
		index.Fields("done_at"),
	}
}
