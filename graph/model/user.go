package model

import "time"

// A person who signs in to Latchkey. Other subgraphs of a federated graph
// extend it by `id`. Its `email`, `roles`, `lastLoginAt` and `sessions` are
// the user's own: only the user and administrators may read them, others get
// `FORBIDDEN`. They carry no `@authenticated`: `register` and `login` return
// them to a caller who has no token yet.
//
// It is written by hand, not generated, for PreloadedSessions.
type User struct {
	// The user's id, a UUID.
	ID string `json:"id"`
	// The email, trimmed and lowercased.
	Email string `json:"email"`
	// The name the user chose to be shown, if any.
	DisplayName *string `json:"displayName,omitempty"`
	// The user's roles: every user has `user`; administrators also have `admin`.
	Roles []string `json:"roles"`
	// Whether the user has proven they receive mail at `email`.
	EmailVerified bool `json:"emailVerified"`
	// When the user registered.
	CreatedAt time.Time `json:"createdAt"`
	// When the user's record last changed.
	UpdatedAt time.Time `json:"updatedAt"`
	// When the user last logged in, if ever.
	LastLoginAt *time.Time `json:"lastLoginAt,omitempty"`
	// PreloadedSessions, when not nil, are the user's live sessions, loaded
	// with the batch of users the user came in, so that the sessions field
	// needs no query of its own. The field's directive still decides who
	// reads them.
	PreloadedSessions []*Session `json:"-"`
}

func (User) IsEntity() {}
