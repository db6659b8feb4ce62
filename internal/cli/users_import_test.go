package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestUsersHelp asks each subcommand of users for -h.
func TestUsersHelp(t *testing.T) {
	for _, c := range usersSubcommands() {
		var out bytes.Buffer
		if err := users(context.Background(), Env{Stdout: &out, Stderr: &out}, []string{c.Name, "-h"}); err != nil {
			t.Errorf("latchkey users %s -h = %v, want nil", c.Name, err)
		}
		if !strings.HasPrefix(out.String(), "usage: latchkey users "+c.Name) {
			t.Errorf("latchkey users %s -h printed %q, want its usage", c.Name, out.String())
		}
	}
}

// TestLineReader reads lines of at most the cap, whatever their ends, and
// discards a longer line without failing the next ones.
func TestLineReader(t *testing.T) {
	in := "a\r\n" + strings.Repeat("x", 100) + "\nb\n\nc"
	lr := newLineReader(strings.NewReader(in), 16)
	var got []string
	for {
		line, tooLong, err := lr.next()
		if err != nil {
			break
		}
		if tooLong {
			got = append(got, "<too long>")
			continue
		}
		got = append(got, string(line))
	}
	want := []string{"a", "<too long>", "b", "", "c"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q, want %q", got, want)
	}
}

// FuzzImportLine feeds arbitrary lines to both parsers: neither panics, a
// refused line says why, and what the report would echo is valid UTF-8 of
// bounded length, encoded as JSON.
func FuzzImportLine(f *testing.F) {
	header := importFields
	for _, s := range []string{
		`{"email":"a@example.com","password_hash":"$2b$12$x","roles":["admin"],"legacy_id":7}`,
		`{"email":"a@example.com","roles":"user admin","created_at":"2020-01-02T03:04:05Z"}`,
		`{"email":"=cmd|' /C calc'!A0","legacy_id":"=1+2"}`,
		`{"email":1}`, `[]`, `{"x":1}`, `{"email":"a@b.c"} {}`,
		`a@example.com,,"Ada, L",user admin,t,2020-01-02T03:04:05Z,,17`,
		`"unterminated,,,,,,,`, "\x00\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, isCSV := range []bool{false, true} {
			var legacyID json.RawMessage
			var why, email string
			if isCSV {
				u, id, w := parseCSVLine([]byte(line), header)
				legacyID, why, email = id, w, u.Email
			} else {
				u, id, w := parseJSONLine([]byte(line))
				legacyID, why, email = id, w, u.Email
			}
			if len(legacyID) > 0 && !json.Valid(legacyID) {
				t.Errorf("parse(%q) legacy_id %q is not JSON", line, legacyID)
			}
			if len(legacyID) > 2*maxEcho+2 {
				t.Errorf("parse(%q) legacy_id of %d bytes", line, len(legacyID))
			}
			if e := echo(email); len(*e) > maxEcho || !utf8.ValidString(*e) {
				t.Errorf("echo(%q) = %q, want valid UTF-8 of at most %d bytes", email, *e, maxEcho)
			}
			if !utf8.ValidString(why) {
				t.Errorf("parse(%q) reason %q is not valid UTF-8", line, why)
			}
		}
	})
}
