package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/cli"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/testdb"
)

// legacyFixtures are the hashes real Werkzeug and bcrypt made.
func legacyFixtures(t *testing.T) []apitest.LegacyFixture {
	return apitest.LegacyFixtures(t, "internal/password/testdata/legacy.json")
}

// importReport is a line of users import's report.
type importReport struct {
	Line     int             `json:"line"`
	Email    *string         `json:"email"`
	ID       *string         `json:"id"`
	LegacyID json.RawMessage `json:"legacy_id"`
	Status   string          `json:"status"`
	Reason   string          `json:"reason"`
}

// importEnv is testEnv over a database that run() and a server share.
func importEnv(t *testing.T, uri string) map[string]string {
	if strings.HasSuffix(uri, ":memory:") {
		uri = testdb.SQLiteFile(t)
	}
	return testEnv(uri, "RATE_LIMIT_LOGIN", "0")
}

// runCommand runs latchkey with args as main does, and returns its
// standard output and error.
func runCommand(t *testing.T, env map[string]string, args ...string) (stdout string, err error) {
	t.Helper()
	var out, errOut strings.Builder
	err = run(t.Context(), append([]string{"latchkey"}, args...), func(k string) string { return env[k] }, nil, &out, &errOut)
	if err != nil && !errors.Is(err, cli.ErrRefused) && !errors.Is(err, cli.ErrUsage) {
		t.Logf("latchkey %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), err
}

// importFile runs users import on a file of lines and returns the report
// by line number.
func importFile(t *testing.T, env map[string]string, name string, lines []string, flags ...string) (map[int]importReport, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.jsonl")
	_, err := runCommand(t, env, append([]string{"users", "import", path, "--report", report}, flags...)...)
	return readReport(t, report), err
}

func readReport(t *testing.T, path string) map[int]importReport {
	t.Helper()
	out := map[int]importReport{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return out // refused before it began
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	last := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r importReport
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("report line %q: %v", sc.Text(), err)
		}
		if _, dup := out[r.Line]; dup {
			t.Errorf("report has line %d twice", r.Line)
		}
		if r.Line <= last {
			t.Errorf("report line %d after line %d, want the input's order", r.Line, last)
		}
		last = r.Line
		out[r.Line] = r
	}
	return out
}

// legacyList runs users legacy and returns the scheme of each email it
// lists.
func legacyList(t *testing.T, env map[string]string) map[string]string {
	t.Helper()
	out, err := runCommand(t, env, "users", "legacy")
	if err != nil {
		t.Fatalf("users legacy: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	got := map[string]string{}
	for _, l := range lines[1 : len(lines)-1] {
		f := strings.Fields(l)
		got[f[1]] = f[2]
	}
	if want := fmt.Sprintf("%d accounts", len(got)); !strings.HasPrefix(lines[len(lines)-1], want) {
		t.Errorf("users legacy ends %q, want %q", lines[len(lines)-1], want)
	}
	return got
}

func jsonLine(t *testing.T, v map[string]any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUsersImportLegacyLogin imports a user for each hash that real
// Werkzeug and bcrypt made, through the command, twice (the second run
// changes nothing), and logs in those of cheap parameters (e2e's
// TestUsersImportBinary does every default with the binary): the right
// password works once the hash is upgraded to argon2id (users legacy no
// longer lists the user), and a wrong one is INVALID_CREDENTIALS. Hashes Latchkey cannot verify are
// unknown_hash, or with --on-unknown-hash reset users who cannot log in.
func TestUsersImportLegacyLogin(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		env := importEnv(t, uri)
		fs := legacyFixtures(t)
		var lines []string
		for i, f := range fs {
			lines = append(lines, jsonLine(t, map[string]any{
				"email": fmt.Sprintf("fixture-%d@example.com", i), "password_hash": f.Hash,
				"legacy_id": i, "display_name": f.StandsFor,
			}))
		}
		lines = append(lines, jsonLine(t, map[string]any{"email": "nopassword@example.com", "password_hash": ""}))
		report, err := importFile(t, env, "users.jsonl", lines)
		if !errors.Is(err, cli.ErrRefused) || cli.ExitCode(err) != 1 {
			t.Errorf("users import with refused hashes = %v (exit %d), want ErrRefused (exit 1)", err, cli.ExitCode(err))
		}
		if len(report) != len(lines) {
			t.Fatalf("report has %d lines, want %d", len(report), len(lines))
		}
		for i, f := range fs {
			want := "imported"
			if f.Refused {
				want = "unknown_hash"
			}
			if r := report[i+1]; r.Status != want || string(r.LegacyID) != fmt.Sprint(i) {
				t.Errorf("report of %s %q = %+v, want %s", f.MadeBy, f.StandsFor, r, want)
			}
		}
		if r := report[len(lines)]; r.Status != "imported" || r.ID == nil {
			t.Errorf("report of an empty password_hash = %+v, want imported", r)
		}

		before := legacyList(t, env)
		if before["nopassword@example.com"] != "none" {
			t.Errorf("users legacy lists the user without a password as %q, want none", before["nopassword@example.com"])
		}
		// A second run changes nothing and reports exists.
		again, err := importFile(t, env, "users.jsonl", lines)
		if !errors.Is(err, cli.ErrRefused) {
			t.Errorf("second users import = %v, want ErrRefused", err)
		}
		for n, r := range report {
			want := r
			if r.Status == "imported" {
				want.Status, want.Reason = "exists", ""
			}
			if diff := cmp.Diff(want, again[n]); diff != "" {
				t.Errorf("second run, line %d (-want +got):\n%s", n, diff)
			}
		}
		if diff := cmp.Diff(before, legacyList(t, env)); diff != "" {
			t.Errorf("users legacy after a second run (-before +after):\n%s", diff)
		}

		s := startServer(t, env)
		for i, f := range fs {
			email := fmt.Sprintf("fixture-%d@example.com", i)
			// e2e's TestUsersImportBinary logs in at every default.
			if f.Refused || f.Password == "" || f.Expensive() {
				continue
			}
			wantCode(t, "login with a wrong password to "+f.StandsFor,
				s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": "wrong " + f.Password}}), "INVALID_CREDENTIALS")
			if before[email] != f.Scheme {
				t.Errorf("users legacy lists %s as %q before its login, want %q", f.StandsFor, before[email], f.Scheme)
			}
			s.login(t, email, f.Password)
			s.login(t, email, f.Password) // the argon2id hash it was upgraded to
		}
		after := legacyList(t, env)
		for i, f := range fs {
			email := fmt.Sprintf("fixture-%d@example.com", i)
			_, listed := after[email]
			loggedIn := f.Password != "" && !f.Expensive()
			if !f.Refused && listed == loggedIn {
				t.Errorf("users legacy lists %s (%s) after its login: %t, want %t", f.StandsFor, f.MadeBy, listed, !loggedIn)
			}
		}
		for _, pw := range []string{"", "!", "anything at all"} {
			wantCode(t, "login without a usable password",
				s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": "nopassword@example.com", "password": pw}}), "INVALID_CREDENTIALS")
		}

		// reset imports the unverifiable hashes with no usable password.
		report, err = importFile(t, env, "users.jsonl", lines, "--on-unknown-hash", "reset")
		if err != nil {
			t.Errorf("users import --on-unknown-hash reset = %v, want nil", err)
		}
		for i, f := range fs {
			if !f.Refused {
				continue
			}
			if r := report[i+1]; r.Status != "imported" || r.Reason == "" {
				t.Errorf("report of %q with reset = %+v, want imported with a reason", f.StandsFor, r)
			}
			wantCode(t, "login to a reset "+f.StandsFor, s.post(t, "", loginDoc, map[string]any{"input": map[string]any{
				"email": fmt.Sprintf("fixture-%d@example.com", i), "password": f.Password,
			}}), "INVALID_CREDENTIALS")
		}
	})
}

// TestUsersImportHostile feeds lines an attacker or a broken export could
// write: each gets its report line, and only the good lines are imported.
func TestUsersImportHostile(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		env := importEnv(t, uri)
		const bcrypt12 = "$2b$12$MdgIqVGHjifqPIyE9XjaE.yDzM0VsQwO5EYHvO6R51dMZDxFn4FYu"
		keptID := "0b5c3b9e-7d1f-4c8e-9a5e-2f1d3c4b5a69"
		lines := []string{
			/* 1 */ jsonLine(t, map[string]any{"email": "Good@Example.com", "password_hash": bcrypt12, "id": keptID, "roles": []string{"editor", "admin"}, "email_verified": true, "created_at": "2019-05-06T07:08:09Z"}),
			/* 2 */ `{"email": "broken@example.com"`,
			/* 3 */ `{"email": "x@example.com", "password_hash": "` + strings.Repeat("A", 1<<20) + `"}`,
			/* 4 */ jsonLine(t, map[string]any{"email": "good@EXAMPLE.com", "password_hash": bcrypt12}),
			/* 5 */ jsonLine(t, map[string]any{"email": "pbkdf2@example.com", "password_hash": "pbkdf2:sha256:1000000000$salt$" + strings.Repeat("00", 32)}),
			/* 6 */ jsonLine(t, map[string]any{"email": "scrypt@example.com", "password_hash": "scrypt:1073741824:8:1$salt$" + strings.Repeat("00", 64)}),
			/* 7 */ jsonLine(t, map[string]any{"email": "bcrypt@example.com", "password_hash": "$2b$31$MdgIqVGHjifqPIyE9XjaE.yDzM0VsQwO5EYHvO6R51dMZDxFn4FYu"}),
			/* 8 */ jsonLine(t, map[string]any{"email": "argon@example.com", "password_hash": "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30"}),
			/* 9 */ jsonLine(t, map[string]any{"email": "=cmd|' /C calc'!A0@example.com", "legacy_id": "=HYPERLINK(\"http://evil\")"}),
			/* 10 */ jsonLine(t, map[string]any{"email": "formula@example.com", "display_name": "=1+2", "legacy_id": "@SUM(A1)"}),
			/* 11 */ jsonLine(t, map[string]any{"email": "roles@example.com", "roles": []string{"Admin"}}),
			/* 12 */ jsonLine(t, map[string]any{"email": "id@example.com", "id": "not-a-uuid"}),
			/* 13 */ jsonLine(t, map[string]any{"email": "takenid@example.com", "id": keptID}),
			/* 14 */ jsonLine(t, map[string]any{"email": "name@example.com", "display_name": "evil\u202eexe.txt"}),
			/* 15 */ `["an", "array"]`,
			/* 16 */ `{"email": "two@example.com"} {"email": "three@example.com"}`,
			/* 17 */ jsonLine(t, map[string]any{"email": "time@example.com", "created_at": "yesterday"}),
			/* 18 */ "\x00\xff\xfe garbage",
			/* 19 */ jsonLine(t, map[string]any{"email": "manyroles@example.com", "roles": strings.Fields("a b c d e f g h i j k l m n o p q r s t")}),
		}
		want := map[int]string{
			1: "imported", 2: "invalid", 3: "invalid", 4: "duplicate", 5: "unknown_hash", 6: "unknown_hash",
			7: "unknown_hash", 8: "unknown_hash", 9: "invalid", 10: "imported", 11: "invalid", 12: "invalid",
			13: "invalid", 14: "invalid", 15: "invalid", 16: "invalid", 17: "invalid", 18: "invalid", 19: "invalid",
		}
		report, err := importFile(t, env, "hostile.jsonl", lines)
		if cli.ExitCode(err) != 1 {
			t.Errorf("users import of hostile lines = %v, want exit 1", err)
		}
		got := map[int]string{}
		for n, r := range report {
			got[n] = r.Status
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		if r := report[1]; r.ID == nil || *r.ID != keptID || *r.Email != "good@example.com" {
			t.Errorf("report of the good line = %+v, want id %s kept, email normalized", r, keptID)
		}
		if r := report[9]; r.Email == nil || !strings.HasPrefix(*r.Email, "=cmd") || string(r.LegacyID) != `"=HYPERLINK(\"http://evil\")"` {
			t.Errorf("report of an injection-looking line = %+v, want its cells as JSON strings", r)
		}
		if r := report[3]; r.Email != nil || r.Reason == "" {
			t.Errorf("report of a huge line = %+v, want no email and a reason", r)
		}
		legacy := legacyList(t, env)
		if diff := cmp.Diff(map[string]string{"good@example.com": "bcrypt", "formula@example.com": "none"}, legacy); diff != "" {
			t.Errorf("users after importing hostile lines (-want +got):\n%s", diff)
		}
	})
}

// TestUsersImportCSV imports a CSV file as a spreadsheet would write it
// (byte order mark, CRLF, quotes), and refuses headers that are not ours
// as usage errors.
func TestUsersImportCSV(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		env := importEnv(t, uri)
		lines := []string{
			"\xef\xbb\xbfemail,password_hash,display_name,roles,email_verified,created_at,id,legacy_id\r",
			`ada@example.com,pbkdf2:sha256:1$n7tE5862WxpQOuIu$9f87f9e6568818cde5302d965d97a71d93de1b813cff7bb4eff05e9610cd2c5a,"Lovelace, Ada",user admin,t,2020-01-02T03:04:05.123456Z,,17` + "\r",
			`"=HYPERLINK(""http://evil"")@example.com",,,,,,,=1+2` + "\r",
			`bob@example.com,,"+Bob",,maybe,,,18`,
			`carol@example.com,,,,,,`,
			`"unterminated@example.com,,,,,,,19`,
		}
		report, err := importFile(t, env, "users.csv", lines)
		if cli.ExitCode(err) != 1 {
			t.Errorf("users import of a CSV file = %v, want exit 1", err)
		}
		got := map[int]string{}
		for n, r := range report {
			got[n] = r.Status + " " + string(r.LegacyID)
		}
		want := map[int]string{2: `imported "17"`, 3: `invalid "=1+2"`, 4: `invalid "18"`, 5: "invalid null", 6: "invalid null"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"ada@example.com": "werkzeug-pbkdf2"}, legacyList(t, env)); diff != "" {
			t.Errorf("users after the CSV import (-want +got):\n%s", diff)
		}
		s := startServer(t, env)
		p := s.login(t, "ada@example.com", "correct horse battery staple")
		var me userData
		s.post(t, p.AccessToken, meDoc, nil).field(t, "me", &me)
		if diff := cmp.Diff([]string{"user", "admin"}, me.Roles); diff != "" || me.DisplayName == nil || *me.DisplayName != "Lovelace, Ada" {
			t.Errorf("me of the CSV user = %+v, want display name and roles kept (%s)", me, diff)
		}

		for _, tc := range []struct {
			name  string
			lines []string
			flags []string
		}{
			{"no email column", []string{"password_hash,id", "x,y"}, nil},
			{"unknown column", []string{"email,password", "a@example.com,secret"}, nil},
			{"column twice", []string{"email,email", "a@example.com,b@example.com"}, nil},
			{"unknown format", []string{"{}"}, []string{"--format", "xml"}},
			{"unknown on-unknown-hash", []string{"{}"}, []string{"--on-unknown-hash", "keep"}},
		} {
			_, err := importFile(t, env, "users.csv", tc.lines, tc.flags...)
			if !errors.Is(err, cli.ErrUsage) || cli.ExitCode(err) != 2 {
				t.Errorf("users import with %s = %v (exit %d), want a usage error (exit 2)", tc.name, err, cli.ExitCode(err))
			}
		}
	})
}

// TestUsersImportDryRun checks that a dry run reports what an import would
// do and writes nothing.
func TestUsersImportDryRun(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		env := importEnv(t, uri)
		lines := []string{jsonLine(t, map[string]any{"email": "dry@example.com", "password_hash": "$2b$12$MdgIqVGHjifqPIyE9XjaE.yDzM0VsQwO5EYHvO6R51dMZDxFn4FYu"})}
		report, err := importFile(t, env, "users.jsonl", lines, "--dry-run")
		if err != nil || report[1].Status != "imported" {
			t.Errorf("users import --dry-run = %v, %+v, want nil, imported", err, report[1])
		}
		if got := legacyList(t, env); len(got) != 0 {
			t.Errorf("users after a dry run = %v, want none", got)
		}
	})
}

// TestLegacyRehashLosesToPasswordChange checks that the upgrade of a
// legacy hash at login is conditional on the hash it verified: a password
// stored while the login verified (a change or a reset) stays. The login's
// own verification, at Werkzeug's default cost, is the window: the password
// changes once the login has counted its check, which it does just before
// reading the hash. A try in which the change came before that read, or
// after the verification, proves nothing and is made again with another
// user.
func TestLegacyRehashLosesToPasswordChange(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs a hash at Werkzeug's default cost, which takes seconds")
	}
	testdb.Each(t, func(t *testing.T, uri string) {
		env := importEnv(t, uri)
		var legacy apitest.LegacyFixture
		for _, f := range legacyFixtures(t) {
			if f.StandsFor == "werkzeug 2.3 default, 3.0 method='pbkdf2' default" {
				legacy = f
			}
		}
		db := openDB(t, env)
		const newPassword = "a password set meanwhile"
		newHash := argon2idHash(t, newPassword)
		s := startServer(t, env)

		const tries = 5
		for try := range tries {
			email := fmt.Sprintf("target-%d@example.com", try)
			if _, err := importFile(t, env, "users.jsonl", []string{
				jsonLine(t, map[string]any{"email": email, "password_hash": legacy.Hash}),
			}); err != nil {
				t.Fatalf("users import: %v", err)
			}
			counted := count(t, db, "SELECT COUNT(*) FROM throttles")
			done := make(chan gqlResponse, 1)
			go func() {
				done <- s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": legacy.Password}})
			}()
			// Polled until the login counted its check or ended.
			for len(done) == 0 && count(t, db, "SELECT COUNT(*) FROM throttles") == counted {
				time.Sleep(time.Millisecond)
			}
			ended := len(done) > 0
			setPasswordHash(t, db, email, newHash)
			r := <-done
			switch {
			case ended:
				t.Logf("try %d: the login ended before the password changed", try+1)
				continue
			case r.code() == "INVALID_CREDENTIALS":
				t.Logf("try %d: the password changed before the login read it", try+1)
				continue
			case len(r.Errors) > 0:
				t.Fatalf("login during the change: %s", r.Body)
			}
			wantCode(t, "login with the password the rehash would have stored",
				s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": legacy.Password}}), "INVALID_CREDENTIALS")
			s.login(t, email, newPassword)
			return
		}
		t.Fatalf("in %d tries the password never changed while a login verified", tries)
	})
}

// argon2idHash returns an argon2id hash of pw at a low cost.
func argon2idHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1}, 1, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h.Hash(context.Background(), pw)
	if err != nil {
		t.Fatal(err)
	}
	return hash
}

// setPasswordHash stores hash as the user's, as a password change or reset
// does.
func setPasswordHash(t *testing.T, db *sql.DB, email, hash string) {
	t.Helper()
	res, err := db.ExecContext(t.Context(), "UPDATE users SET password_hash = $1 WHERE email = $2", hash, email)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("UPDATE users of %s: %d rows", email, n)
	}
}

// TestUsersImportBatches imports more users than a batch holds, refusals
// among them: the report keeps the input's order, one line per line.
func TestUsersImportBatches(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		env := importEnv(t, uri)
		var lines []string
		want := map[int]string{}
		for i := range 1203 {
			email := fmt.Sprintf("batch-%d@example.com", i)
			want[i+1] = "imported"
			switch i % 400 {
			case 7:
				email, want[i+1] = "batch-3@example.com", "duplicate"
			case 9:
				email, want[i+1] = "not an email", "invalid"
			}
			lines = append(lines, jsonLine(t, map[string]any{"email": email, "password_hash": ""}))
		}
		report, err := importFile(t, env, "users.jsonl", lines)
		if cli.ExitCode(err) != 1 {
			t.Errorf("users import = %v, want exit 1", err)
		}
		got := map[int]string{}
		for n, r := range report {
			got[n] = r.Status
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		if n := len(legacyList(t, env)); n != 1203-6 {
			t.Errorf("users legacy lists %d users, want %d", n, 1203-6)
		}
	})
}

// TestUsersImportAudited: each imported user has its USER_CREATED event,
// with its email and roles and no actor; a user not written has none.
func TestUsersImportAudited(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		env := importEnv(t, uri)
		lines := []string{
			jsonLine(t, map[string]any{"email": "imported-1@example.com", "password_hash": "", "roles": []string{"editor"}}),
			jsonLine(t, map[string]any{"email": "imported-2@example.com", "password_hash": ""}),
		}
		if _, err := importFile(t, env, "users.jsonl", lines); err != nil {
			t.Fatalf("users import: %v", err)
		}
		if _, err := importFile(t, env, "users.jsonl", lines[:1]); cli.ExitCode(err) > 1 {
			t.Fatalf("users import again: %v", err)
		}
		s := startServer(t, env)
		admin := uniqueEmail(t, "admin")
		createUser(t, env, admin, "--admin")
		f := &adminFixture{testServer: s, env: env, admin: s.login(t, admin, testPassword)}
		events := f.auditEvents(t, map[string]any{"filter": map[string]any{"types": []string{"USER_CREATED"}}})
		got := map[string][]string{}
		for _, e := range events.Edges {
			n := e.Node
			if n.Email == nil || !strings.HasPrefix(*n.Email, "imported-") {
				continue
			}
			if n.ActorID != nil || n.UserID == nil {
				t.Errorf("USER_CREATED of %s = %+v, want a user and no actor", *n.Email, n)
			}
			got[*n.Email] = append(got[*n.Email], strings.Join(n.Roles, " "))
		}
		want := map[string][]string{"imported-1@example.com": {"user editor"}, "imported-2@example.com": {"user"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("USER_CREATED events of users import (-want +got):\n%s", diff)
		}
	})
}
