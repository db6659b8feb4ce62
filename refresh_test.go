package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/testdb"
)

// TestRefreshPayloadUser checks that the user a refresh returns, which the
// rotation reads in one joined query with the token and its session, is
// the user as register returned it and as me reads it, every field
// included, and that the session's expiry moves on with each rotation.
// Register's user is the one Ent wrote; refresh and me read theirs with
// the hand-written scanner of internal/auth/queries.go.
func TestRefreshPayloadUser(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri))
		name := "Ada Lovelace"
		r := s.post(t, "", registerDoc, map[string]any{"input": map[string]any{"email": uniqueEmail(t, "joined"), "password": testPassword, "displayName": name}})
		var reg payload
		r.field(t, "register", &reg)

		var me userData
		s.post(t, reg.AccessToken, meDoc, nil).field(t, "me", &me)
		if me.DisplayName == nil || *me.DisplayName != name || me.LastLoginAt == nil {
			t.Fatalf("me = %+v, want the display name and a last login", me)
		}
		if diff := cmp.Diff(reg.User, me); diff != "" {
			t.Errorf("me (-register +me):\n%s", diff)
		}

		tok, prev := reg.RefreshToken, reg.RefreshExpiresAt
		for i := range 2 {
			var p payload
			s.refresh(t, tok).field(t, "refreshToken", &p)
			if diff := cmp.Diff(me, p.User); diff != "" {
				t.Errorf("refresh %d: user (-me +refresh):\n%s", i, diff)
			}
			if !p.RefreshExpiresAt.After(prev) {
				t.Errorf("refresh %d: refreshExpiresAt = %v, want later than %v", i, p.RefreshExpiresAt, prev)
			}
			tok, prev = p.RefreshToken, p.RefreshExpiresAt
		}
	})
}
