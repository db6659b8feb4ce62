package token

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Hasura's session variables, as its JWT mode reads them.
const (
	hasuraUserID       = "x-hasura-user-id"
	hasuraDefaultRole  = "x-hasura-default-role"
	hasuraAllowedRoles = "x-hasura-allowed-roles"
	// defaultRole is every user's role, the default role when the user has it.
	defaultRole = "user"
)

// namespacedClaims are Claims with the Hasura-style claims added under a
// namespace key, as Issue writes them when Options.ClaimsNamespace is set.
type namespacedClaims struct {
	*Claims
	namespace string
}

// MarshalJSON writes the claims and, under the namespace, the user id, the
// default role ("user", else the first role) and the allowed roles (the
// user's roles).
func (c *namespacedClaims) MarshalJSON() ([]byte, error) {
	plain, err := json.Marshal(c.Claims)
	if err != nil {
		return nil, err
	}
	// A user without roles gets an empty default role, which Hasura
	// refuses: no role is granted that the user does not have.
	roles, def := c.Roles, ""
	switch {
	case slices.Contains(roles, defaultRole):
		def = defaultRole
	case len(roles) > 0:
		def = roles[0]
	}
	ns, err := json.Marshal(map[string]any{
		hasuraUserID:       c.Subject,
		hasuraDefaultRole:  def,
		hasuraAllowedRoles: roles,
	})
	if err != nil {
		return nil, err
	}
	key, err := json.Marshal(c.namespace)
	if err != nil {
		return nil, err
	}
	// The claims are an object with at least their required members, and
	// the namespace is none of theirs (NewIssuer refuses reserved names):
	// the namespace joins as one more member.
	if len(plain) < 2 || plain[len(plain)-1] != '}' {
		return nil, fmt.Errorf("claims: not a JSON object: %s", plain)
	}
	out := append(plain[:len(plain)-1:len(plain)-1], ',')
	out = append(append(append(out, key...), ':'), ns...)
	return append(out, '}'), nil
}
