package graph

import (
	"context"

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
