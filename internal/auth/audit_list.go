package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
	"github.com/latchkey/latchkey/ent/predicate"
)

// AuditFilter narrows the audit events listed; zero fields do not.
type AuditFilter struct {
	// UserID is the user the events are about.
	UserID *string
	// Types are the event types to list, any of them, by name
	// (LOGIN_FAILED, ...).
	Types []string
	// Since and Until bound when the events occurred: at or after Since,
	// before Until.
	Since, Until *time.Time
}

// listAudit names the audit events list in its cursors.
const listAudit = "audit"

// AuditEvents returns first audit events (1 to MaxPageSize) after the
// cursor after that match f, newest first. The schema lets only
// administrators ask.
func (s *Service) AuditEvents(ctx context.Context, first int, after *string, f AuditFilter) (*Page[*ent.AuditEvent], error) {
	var where []predicate.AuditEvent
	if f.UserID != nil {
		where = append(where, auditevent.UserID(uuidOrNil(*f.UserID)))
	}
	if len(f.Types) > 0 {
		types := make([]auditevent.Type, len(f.Types))
		for i, t := range f.Types {
			types[i] = auditevent.Type(t)
		}
		where = append(where, auditevent.TypeIn(types...))
	}
	if f.Since != nil {
		where = append(where, auditevent.OccurredAtGTE(*f.Since))
	}
	if f.Until != nil {
		where = append(where, auditevent.OccurredAtLT(*f.Until))
	}
	return s.listAudit(ctx, first, after, where)
}

// UserAuditEvents returns first audit events of the user with id after the
// cursor after, newest first; the schema lets only the user and
// administrators ask.
func (s *Service) UserAuditEvents(ctx context.Context, id string, first int, after *string) (*Page[*ent.AuditEvent], error) {
	return s.listAudit(ctx, first, after, []predicate.AuditEvent{auditevent.UserID(uuidOrNil(id))})
}

func (s *Service) listAudit(ctx context.Context, first int, after *string, where []predicate.AuditEvent) (*Page[*ent.AuditEvent], error) {
	if first < 1 || first > MaxPageSize {
		return nil, &ValidationError{Field: "first", Message: fmt.Sprintf("from 1 to %d", MaxPageSize)}
	}
	key, err := s.cursorKey(ctx)
	if err != nil {
		return nil, err
	}
	page := &Page[*ent.AuditEvent]{}
	q := s.db.AuditEvent.Query().Where(where...)
	if after != nil {
		pos, err := decodeCursor(key, listAudit, *after)
		if err != nil {
			return nil, err
		}
		page.HasPreviousPage = true
		// As in ListUsers: a range of the index, then the tie on id.
		q.Where(auditevent.OccurredAtLTE(pos.at), auditevent.Or(auditevent.OccurredAtLT(pos.at), auditevent.IDLT(pos.id)))
	}
	list, err := q.Order(ent.Desc(auditevent.FieldOccurredAt), ent.Desc(auditevent.FieldID)).Limit(first + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing audit events: %w", err)
	}
	if len(list) > first {
		list, page.HasNextPage = list[:first], true
	}
	page.Items = list
	for _, e := range list {
		page.Cursors = append(page.Cursors, encodeCursor(key, listAudit, position{e.OccurredAt, e.ID}))
	}
	return page, nil
}
