package main

import (
	"encoding/json"
	"testing"

	"github.com/latchkey/latchkey/internal/testdb"
)

// TestEntitiesCap sends _entities more representations than MAX_ENTITIES
// allows: a clear BAD_USER_INPUT, and at the cap, duplicates included, one
// entity per representation.
func TestEntitiesCap(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv(testdb.SQLiteMemory, "MAX_ENTITIES", "50"))
	p := s.register(t, uniqueEmail(t, "many"))
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = p.User.ID
	}
	var list []json.RawMessage
	s.post(t, p.AccessToken, entitiesDoc, map[string]any{"reps": userReps(ids...)}).field(t, "_entities", &list)
	if len(list) != 50 {
		t.Errorf("_entities of 50 representations of one user returned %d entities, want 50", len(list))
	}
	r := s.post(t, p.AccessToken, entitiesDoc, map[string]any{"reps": userReps(append(ids, p.User.ID)...)})
	wantCode(t, "_entities of 51 representations", r, "BAD_USER_INPUT")
	if f := r.ext("field"); f != "representations" {
		t.Errorf("_entities over the cap: extensions.field = %v, want representations", f)
	}
}
