package auth

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/predicate"
	"github.com/latchkey/latchkey/ent/user"
)

// MaxPageSize bounds the first argument of a list.
const MaxPageSize = 100

// maxSearchLen bounds the users filter's search.
const maxSearchLen = 254

// Page is one page of a list, newest first.
type Page[T any] struct {
	// Items are the page's rows, and Cursors their cursors, in order.
	Items   []T
	Cursors []string
	// HasNextPage is whether rows follow the page; HasPreviousPage whether
	// it was asked after a cursor.
	HasNextPage, HasPreviousPage bool
	// TotalCount is the number of rows of the whole list, when asked for.
	TotalCount int
}

// UserFilter narrows the users listed; nil fields do not.
type UserFilter struct {
	// Search is a case-insensitive substring of the email or display name.
	Search *string
	// Role is a role the users have.
	Role          *string
	Disabled      *bool
	EmailVerified *bool
}

// ListUsers returns first users (1 to MaxPageSize) after the cursor after,
// if any, that match f, newest first: keyset pagination over created_at
// and id, so that a page deep in the list costs what the first costs,
// and a cursor stays valid however the users before it change.
// withTotal also counts every user that matches f. The schema lets only
// administrators ask.
func (s *Service) ListUsers(ctx context.Context, first int, after *string, f UserFilter, withTotal bool) (*Page[*ent.User], error) {
	if first < 1 || first > MaxPageSize {
		return nil, &ValidationError{Field: "first", Message: fmt.Sprintf("from 1 to %d", MaxPageSize)}
	}
	where, err := userFilter(f)
	if err != nil {
		return nil, err
	}
	key, err := s.cursorKey(ctx)
	if err != nil {
		return nil, err
	}
	page := &Page[*ent.User]{}
	q := s.db.User.Query().Where(where...)
	if after != nil {
		pos, err := decodeCursor(key, listUsers, *after)
		if err != nil {
			return nil, err
		}
		page.HasPreviousPage = true
		// (created_at, id) < (at, id), spelled so that both databases read
		// it as a range of the index from its first conjunct: an OR alone
		// makes them scan from the newest user down to the cursor.
		q.Where(user.CreatedAtLTE(pos.at), user.Or(user.CreatedAtLT(pos.at), user.IDLT(pos.id)))
	}
	list, err := q.Order(ent.Desc(user.FieldCreatedAt), ent.Desc(user.FieldID)).Limit(first + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	if len(list) > first {
		list, page.HasNextPage = list[:first], true
	}
	page.Items = list
	for _, u := range list {
		page.Cursors = append(page.Cursors, encodeCursor(key, listUsers, position{u.CreatedAt, u.ID}))
	}
	if withTotal {
		if page.TotalCount, err = s.db.User.Query().Where(where...).Count(ctx); err != nil {
			return nil, fmt.Errorf("counting users: %w", err)
		}
	}
	return page, nil
}

// listUsers names the users list in its cursors.
const listUsers = "users"

// userFilter returns the predicates of f.
func userFilter(f UserFilter) ([]predicate.User, error) {
	var where []predicate.User
	if f.Search != nil {
		search := strings.TrimSpace(*f.Search)
		if len(search) > maxSearchLen {
			return nil, &ValidationError{Field: "search", Message: fmt.Sprintf("at most %d bytes", maxSearchLen)}
		}
		if search != "" {
			where = append(where, user.Or(
				user.EmailContains(strings.ToLower(search)),
				user.DisplayNameContainsFold(search),
			))
		}
	}
	if f.Role != nil {
		where = append(where, hasRole(*f.Role))
	}
	if f.Disabled != nil {
		where = append(where, user.Disabled(*f.Disabled))
	}
	if f.EmailVerified != nil {
		where = append(where, user.EmailVerified(*f.EmailVerified))
	}
	return where, nil
}

// uuidOrNil parses id, uuid.Nil when it is no UUID.
func uuidOrNil(id string) uuid.UUID {
	uid, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil
	}
	return uid
}
