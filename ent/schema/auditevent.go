package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// AuditEvent is one security event of an account: a login, a failed one, a
// change of password or roles, an administrator's action. It is written in
// the transaction of the change it records, and has no foreign key: the
// trail outlives the user it names, and a flood of failed logins adds rows
// without locking users.
type AuditEvent struct {
	ent.Schema
}

// Fields of the AuditEvent.
func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		// id is a UUIDv7: time-ordered, so that inserts append to the
		// primary key's index.
		field.UUID("id", uuid.UUID{}).Immutable(),
		field.Enum("type").Values(
			"USER_CREATED", "LOGIN_SUCCEEDED", "LOGIN_FAILED", "REFRESH_TOKEN_REUSED",
			"PASSWORD_CHANGED", "PASSWORD_RESET_REQUESTED", "PASSWORD_RESET", "EMAIL_VERIFIED",
			"EMAIL_CHANGE_REQUESTED", "EMAIL_CHANGED", "ROLES_CHANGED", "USER_DISABLED",
			"USER_ENABLED", "USER_DELETED",
		).Immutable(),
		field.Time("occurred_at").Immutable(),
		// user_id is the account the event is about; actor_id who did it
		// (the user, an administrator), null when nobody signed in did.
		field.UUID("user_id", uuid.UUID{}).Optional().Nillable().Immutable(),
		field.UUID("actor_id", uuid.UUID{}).Optional().Nillable().Immutable(),
		field.UUID("session_id", uuid.UUID{}).Optional().Nillable().Immutable(),
		field.String("ip_address").Optional().Nillable().MaxLen(64).Immutable(),
		field.String("user_agent").Optional().Nillable().MaxLen(512).Immutable(),
		field.String("reason").Optional().Nillable().MaxLen(64).Immutable(),
		// roles are the roles an event set (ROLES_CHANGED).
		field.Strings("roles").Optional(),
		// email is the address an event concerns; cleared when the user is
		// deleted.
		field.String("email").Optional().Nillable().MaxLen(254),
	}
}

// Indexes of the AuditEvent.
func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{
		// Newest first, and the purge of old events.
		index.Fields("occurred_at", "id"),
		// One user's events, newest first.
		index.Fields("user_id", "occurred_at", "id"),
	}
}
