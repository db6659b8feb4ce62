package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/graph/model"
	"github.com/latchkey/latchkey/internal/auth"
)

// This file is the one place where Ent entities become GraphQL models; what
// is not copied here (the password hash) cannot reach a client.

func userModel(u *ent.User) *model.User {
	return &model.User{
		ID:              u.ID.String(),
		Email:           u.Email,
		DisplayName:     u.DisplayName,
		Roles:           u.Roles,
		EmailVerified:   u.EmailVerified,
		EmailVerifiedAt: u.EmailVerifiedAt,
		PendingEmail:    u.PendingEmail,
		CreatedAt:       u.CreatedAt,
		UpdatedAt:       u.UpdatedAt,
		LastLoginAt:     u.LastLoginAt,
		Disabled:        u.Disabled,
	}
}

func authPayload(t *auth.Tokens) *model.AuthPayload {
	return &model.AuthPayload{
		AccessToken:      t.AccessToken,
		TokenType:        "Bearer",
		ExpiresIn:        int(t.AccessTTL.Seconds()),
		ExpiresAt:        t.AccessExpiresAt,
		RefreshToken:     t.RefreshToken,
		RefreshExpiresAt: t.RefreshExpiresAt,
		User:             userModel(t.User),
	}
}

func sessionModels(ctx context.Context, list []*ent.Session) []*model.Session {
	p, _ := auth.PrincipalFrom(ctx)
	out := make([]*model.Session, len(list))
	for i, s := range list {
		out[i] = &model.Session{
			ID:         s.ID.String(),
			CreatedAt:  s.CreatedAt,
			LastUsedAt: s.LastUsedAt,
			ExpiresAt:  s.ExpiresAt,
			UserAgent:  s.UserAgent,
			IPAddress:  s.IPAddress,
			Current:    p != nil && p.SessionID == s.ID,
		}
	}
	return out
}

// tokenValidation sets only reason when the token is not valid, as the
// contract says.
func tokenValidation(v auth.Validation) *model.TokenValidation {
	if !v.Valid {
		return &model.TokenValidation{Reason: &v.Reason}
	}
	return &model.TokenValidation{
		Valid:     true,
		UserID:    &v.UserID,
		SessionID: &v.SessionID,
		Roles:     v.Roles,
		ExpiresAt: &v.ExpiresAt,
	}
}

// done is a Boolean! mutation's answer: true, or the error.
func done(err error) (bool, error) {
	return err == nil, err
}

// pageSize is a list's first argument, def when null.
func pageSize(first *int, def int) int {
	if first == nil {
		return def
	}
	return *first
}

// selects reports whether the field being resolved selects field, so that
// what nobody asked for is not computed.
func selects(ctx context.Context, field string) bool {
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == field {
			return true
		}
	}
	return false
}

func userFilter(f *model.UserFilter) auth.UserFilter {
	if f == nil {
		return auth.UserFilter{}
	}
	return auth.UserFilter{Search: f.Search, Role: f.Role, Disabled: f.Disabled, EmailVerified: f.EmailVerified}
}

func auditFilter(f *model.AuditEventFilter) auth.AuditFilter {
	if f == nil {
		return auth.AuditFilter{}
	}
	out := auth.AuditFilter{UserID: f.UserID, Since: f.Since, Until: f.Until}
	for _, t := range f.Types {
		out.Types = append(out.Types, string(t))
	}
	return out
}

func pageInfo(cursors []string, hasNext, hasPrevious bool) *model.PageInfo {
	info := &model.PageInfo{HasNextPage: hasNext, HasPreviousPage: hasPrevious}
	if len(cursors) > 0 {
		info.StartCursor, info.EndCursor = &cursors[0], &cursors[len(cursors)-1]
	}
	return info
}

func userConnection(p *auth.Page[*ent.User]) *model.UserConnection {
	out := &model.UserConnection{
		Edges:      make([]*model.UserEdge, len(p.Items)),
		PageInfo:   pageInfo(p.Cursors, p.HasNextPage, p.HasPreviousPage),
		TotalCount: p.TotalCount,
	}
	for i, u := range p.Items {
		out.Edges[i] = &model.UserEdge{Cursor: p.Cursors[i], Node: userModel(u)}
	}
	return out
}

func auditConnection(p *auth.Page[*ent.AuditEvent]) *model.AuditEventConnection {
	out := &model.AuditEventConnection{
		Edges:    make([]*model.AuditEventEdge, len(p.Items)),
		PageInfo: pageInfo(p.Cursors, p.HasNextPage, p.HasPreviousPage),
	}
	for i, e := range p.Items {
		out.Edges[i] = &model.AuditEventEdge{Cursor: p.Cursors[i], Node: auditEventModel(e)}
	}
	return out
}

func auditEventModel(e *ent.AuditEvent) *model.AuditEvent {
	id := func(u *uuid.UUID) *string {
		if u == nil {
			return nil
		}
		s := u.String()
		return &s
	}
	return &model.AuditEvent{
		ID:         e.ID.String(),
		Type:       model.AuditEventType(e.Type),
		OccurredAt: e.OccurredAt,
		UserID:     id(e.UserID),
		ActorID:    id(e.ActorID),
		SessionID:  id(e.SessionID),
		IPAddress:  e.IPAddress,
		UserAgent:  e.UserAgent,
		Reason:     e.Reason,
		Roles:      e.Roles,
		Email:      e.Email,
	}
}
