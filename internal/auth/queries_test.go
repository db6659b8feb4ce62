package auth

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/latchkey/latchkey/ent/auditevent"
	"github.com/latchkey/latchkey/ent/user"
)

// TestUserColumns fails when the users table gains a column that the
// queries do not read, so that they never return a user short of a field.
func TestUserColumns(t *testing.T) {
	got, want := slices.Sorted(slices.Values(userColumns)), slices.Sorted(slices.Values(user.Columns))
	if !slices.Equal(got, want) {
		t.Errorf("userColumns = %v, want every column of users: %v", got, want)
	}
}

// TestQueriesPlaceholders checks that each statement takes as many
// arguments as its callers pass: Ent's builder writes some values as
// placeholders and others (false, NULL) inline, and SQLite ignores extra
// arguments where PostgreSQL refuses them.
func TestQueriesPlaceholders(t *testing.T) {
	q := newQueries(dialect.Postgres)
	for _, tc := range []struct {
		name, query string
		args        int
	}{
		{"principal", q.principal, 3},
		{"load", q.load, 1},
		{"spend", q.spend, 2},
		{"spendLoad", q.spendLoad, 2},
		{"extend", q.extend, 3},
		{"insert", q.insert, 5},
		{"reserveWindow", q.reserveWindow, 4},
		{"reserveBackoff", q.reserveBackoff, 6},
		{"auditLoginRefused", q.auditLoginRefused, 7},
		{"auditLoginRefused (SQLite)", newQueries(dialect.SQLite).auditLoginRefused, 7},
		{"recordLogin", q.recordLogin, 6},
	} {
		distinct := map[string]bool{}
		for _, p := range regexp.MustCompile(`\$[0-9]+`).FindAllString(tc.query, -1) {
			distinct[p] = true
		}
		if got := len(distinct); got != tc.args {
			t.Errorf("%s has %d placeholders, its callers pass %d: %s", tc.name, got, tc.args, tc.query)
		}
	}
}

// TestAuditLoginRefusedColumns pins the hand-written insert of
// auditLoginRefused to the audit_events columns it names.
func TestAuditLoginRefusedColumns(t *testing.T) {
	for _, col := range []string{
		auditevent.FieldID, auditevent.FieldType, auditevent.FieldOccurredAt, auditevent.FieldUserID,
		auditevent.FieldIPAddress, auditevent.FieldUserAgent, auditevent.FieldReason,
	} {
		if !slices.Contains(auditevent.Columns, col) {
			t.Errorf("audit_events has no column %s", col)
		}
	}
	if !regexp.MustCompile(`INSERT INTO `+auditevent.Table+` \(id, type, occurred_at, user_id, actor_id, session_id, ip_address, user_agent\)\s+VALUES \(\$1, '`+string(auditevent.TypeLOGIN_SUCCEEDED)+`'`).MatchString(recordLoginPostgres) ||
		!strings.Contains(recordLoginPostgres, "UPDATE "+user.Table+" SET "+user.FieldLastLoginAt+" = $2 WHERE "+user.FieldID+" = $3") {
		t.Errorf("recordLogin does not match the schema: %s", recordLoginPostgres)
	}
	for _, col := range []string{auditevent.FieldActorID, auditevent.FieldSessionID} {
		if !slices.Contains(auditevent.Columns, col) {
			t.Errorf("audit_events has no column %s", col)
		}
	}
	for _, q := range []string{auditLoginRefused, auditLoginRefusedPostgres} {
		if !regexp.MustCompile(`^INSERT INTO ` + auditevent.Table + ` \(id, type, occurred_at, user_id, ip_address, user_agent, reason\)\s+SELECT .* FROM ` + user.Table + ` WHERE ` + user.FieldEmail + ` = \$7$`).MatchString(q) {
			t.Errorf("auditLoginRefused does not match the schema: %s", q)
		}
	}
}
