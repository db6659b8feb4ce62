package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Throttle counts attempts of one kind by one subject (an account, a client
// address, an account at an address, a session), so that every replica sees
// the same counts. An attempt is counted, atomically, before the work it
// asks for, and refused when the count is over its limit. Whether the subject
// is throttled is derived from the counts and the configured limits.
type Throttle struct {
	ent.Schema
}

// Fields of the Throttle.
func (Throttle) Fields() []ent.Field {
	return []ent.Field{
		// id is the SHA-256, in hex, of the kind and the subject: no email
		// or address is stored as such.
		field.String("id").NotEmpty().MaxLen(64).Immutable(),
		field.Int("count"),
		// window_start is when the current count began, and last_at when it
		// last grew, in Unix milliseconds: plain integers compare and add the
		// same way in every database's SQL.
		field.Int64("window_start"),
		field.Int64("last_at"),
		// blocked_until is, for a count with backoff (an account's failed
		// logins), when the lockout that the count has reached ends, in
		// Unix milliseconds; 0 while it has reached none.
		field.Int64("blocked_until").Default(0),
	}
}

// Indexes of the Throttle.
func (Throttle) Indexes() []ent.Index {
	return []ent.Index{
		// The purge of stale counts.
		index.Fields("last_at"),
	}
}
