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
	var all map[string]json.RawMessage
	if err := json.Unmarshal(plain, &all); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
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
	all[c.namespace] = ns
	return json.Marshal(all)
}
