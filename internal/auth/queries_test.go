package auth

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/latchkey/latchkey/ent/auditevent"
	"github.com/latchkey/latchkey/ent/refreshtoken"
	"github.com/latchkey/latchkey/ent/session"
	"github.com/latchkey/latchkey/ent/throttle"
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
		{"login", q.login, 14},
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
	for _, q := range []string{auditLoginRefused, auditLoginRefusedPostgres} {
		if !regexp.MustCompile(`^INSERT INTO ` + auditevent.Table + ` \(id, type, occurred_at, user_id, ip_address, user_agent, reason\)\s+SELECT .* FROM ` + user.Table + ` WHERE ` + user.FieldEmail + ` = \$7$`).MatchString(q) {
			t.Errorf("auditLoginRefused does not match the schema: %s", q)
		}
	}
}

// TestLoginColumns pins the hand-written statement of a login's writes to
// the tables and columns it names.
func TestLoginColumns(t *testing.T) {
	columns := map[string][]string{
		throttle.Table:     throttle.Columns,
		session.Table:      session.Columns,
		refreshtoken.Table: refreshtoken.Columns,
		auditevent.Table:   auditevent.Columns,
		user.Table:         user.Columns,
	}
	inserts := regexp.MustCompile(`INSERT INTO (\w+) \(([^)]*)\)`).FindAllStringSubmatch(loginPostgres, -1)
	if len(inserts) != 4 {
		t.Fatalf("loginPostgres has %d inserts, want 4 (the address, the session, its token, the event): %s", len(inserts), loginPostgres)
	}
	for _, m := range inserts {
		cols, ok := columns[m[1]]
		if !ok {
			t.Errorf("loginPostgres inserts into %s, no table of the schema", m[1])
		}
		for _, c := range strings.Split(m[2], ", ") {
			if !slices.Contains(cols, c) {
				t.Errorf("loginPostgres inserts %s.%s, no column of the schema", m[1], c)
			}
		}
	}
	for _, want := range []string{
		"DELETE FROM " + throttle.Table + " WHERE " + throttle.FieldID + " = ",
		"UPDATE " + throttle.Table + " SET " + throttle.FieldCount + " = " + throttle.FieldCount + " - 1 WHERE " + throttle.FieldID + " IN ",
		"UPDATE " + user.Table + " SET " + user.FieldLastLoginAt + " = ",
		"'" + string(auditevent.TypeLOGIN_SUCCEEDED) + "'",
	} {
		if !strings.Contains(loginPostgres, want) {
			t.Errorf("loginPostgres has no %q: %s", want, loginPostgres)
		}
	}
}
